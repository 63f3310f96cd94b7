//! A run's config: one TOML file with a section per stage plus `[run]`, and repeatable
//! `section.key=value` overrides; [`ResolvedConfig`] applies them, hands each stage its section
//! as a plain serde struct, and writes the resolved file beside the artifacts.

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use taso_artifact::write_atomic;

use crate::error::ConfigError;
use crate::sections::{Sections, SECTION_NAMES};
use crate::settings::RunSettings;

/// A config file with the command line's overrides applied.
#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    table: toml::Table,
    /// The file it was read from and its text, to point errors at a line.
    origin: Option<(PathBuf, String)>,
    /// The overrides applied, as given.
    overrides: Vec<String>,
}

impl ResolvedConfig {
    /// Reads the config file at `path` and applies `overrides` (`section.key=value`) in order.
    ///
    /// Relative paths written in the file (`run.model`, `run.data_dir`, `run.runs_dir`, and
    /// `run.task` when it names a `.toml` file) are taken from the file's folder; the resolved
    /// config holds them as seen from the current directory. Paths in `overrides` are taken from
    /// the current directory, as a shell would.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Self::parse(&text, path)?;
        config.origin = Some((path.to_path_buf(), text));
        config.anchor_paths(path.parent().unwrap_or(Path::new("")));
        for item in overrides {
            config.apply_override(item)?;
        }
        Ok(config)
    }

    /// Re-roots the relative paths of the `[run]` section at `folder` (see [`ResolvedConfig::load`]).
    fn anchor_paths(&mut self, folder: &Path) {
        self.map_paths(|value| lexically_joined(folder, value));
    }

    /// Replaces each relative path of the `[run]` section by `map(path)`.
    fn map_paths(&mut self, map: impl Fn(&Path) -> PathBuf) {
        let Some(run) = self
            .table
            .get_mut("run")
            .and_then(toml::Value::as_table_mut)
        else {
            return;
        };
        for key in PATH_KEYS {
            let Some(toml::Value::String(value)) = run.get_mut(key) else {
                continue;
            };
            let is_path = key != "task" || value.ends_with(".toml");
            if is_path && Path::new(value.as_str()).is_relative() {
                *value = map(Path::new(value.as_str())).display().to_string();
            }
        }
    }

    /// Parses config text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let table = text
            .parse::<toml::Table>()
            .map_err(|e| ConfigError::Syntax {
                path: origin.to_path_buf(),
                message: one_line_toml_error(&e, text),
            })?;
        Ok(Self {
            table,
            origin: None,
            overrides: Vec::new(),
        })
    }

    /// Applies one `section.key=value` override (nested keys allowed: `a.b.c=1`).
    pub fn apply_override(&mut self, item: &str) -> Result<(), ConfigError> {
        let bad = || ConfigError::BadOverride(item.to_string());
        let (key, raw) = item.split_once('=').ok_or_else(bad)?;
        let path: Vec<&str> = key.trim().split('.').collect();
        if path.len() < 2 || path.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        self.insert(&path, parse_value(raw.trim()))
            .ok_or_else(bad)?;
        self.overrides.push(item.to_string());
        Ok(())
    }

    /// Sets the dotted key `key` (`section.key`) to the path `path`, as a string.
    pub fn set_path(&mut self, key: &str, path: &Path) -> Result<(), ConfigError> {
        let value = path.display().to_string();
        let keys: Vec<&str> = key.split('.').collect();
        let bad = || ConfigError::BadOverride(format!("{key}={value:?}"));
        self.insert(&keys, toml::Value::String(value.clone()))
            .ok_or_else(bad)
    }

    /// Puts `value` at the dotted key `keys`, creating the sections on the way; `None` when one
    /// of them is already a value, not a table.
    fn insert(&mut self, keys: &[&str], value: toml::Value) -> Option<()> {
        let (last, sections) = keys.split_last()?;
        let mut table = &mut self.table;
        for section in sections {
            let entry = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = entry.as_table_mut()?;
        }
        table.insert(last.to_string(), value);
        Some(())
    }

    /// The section `name` as `T`; a missing section gives `T::default()`. An error names the
    /// key and where its value came from (file and line, or the `--set` override).
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, ConfigError> {
        let Some(value) = self.table.get(name) else {
            return Ok(T::default());
        };
        serde_path_to_error::deserialize(value.clone()).map_err(|e| {
            let key = e.path().to_string();
            let key = (key != ".").then_some(key);
            let message = e.inner().to_string();
            let message = match &key {
                Some(key) if !message.contains(&format!("`{key}`")) => {
                    format!("`{key}`: {message}")
                }
                _ => message,
            };
            self.section_error(name, key.as_deref(), message)
        })
    }

    /// Every section, read and checked whole: unknown sections and keys, types and ranges.
    /// Each stage calls this (through [`ResolvedConfig::run`]) before any work.
    pub fn sections(&self) -> Result<Sections, ConfigError> {
        if let Some(unknown) = self
            .table
            .keys()
            .find(|name| !SECTION_NAMES.contains(&name.as_str()))
        {
            let message = format!(
                "unknown section{}; the sections are {}",
                did_you_mean(unknown, &SECTION_NAMES),
                SECTION_NAMES.map(|s| format!("[{s}]")).join(", ")
            );
            return Err(self.section_error(unknown, None, message));
        }
        if let Some((name, _)) = self.table.iter().find(|(_, value)| !value.is_table()) {
            let message = "is a value, not a section: write `[section]` then `key = value` \
                           lines, or --set section.key=value"
                .to_string();
            return Err(self.section_error(name, None, message));
        }
        let sections = Sections {
            run: self.section("run")?,
            score: self.section("score")?,
            regions: self.section("regions")?,
            lora: self.section("lora")?,
            train: self.section("train")?,
            eval: self.section("eval")?,
            generate: self.section("generate")?,
        };
        sections.validate()?;
        Ok(sections)
    }

    /// The `[run]` section, after the whole config has been checked ([`ResolvedConfig::sections`]).
    pub fn run(&self) -> Result<RunSettings, ConfigError> {
        Ok(self.sections()?.run)
    }

    fn section_error(&self, section: &str, key: Option<&str>, message: String) -> ConfigError {
        ConfigError::Section {
            section: section.to_string(),
            message,
            location: self.locate(section, key),
        }
    }

    /// Where the value of `section.key` (or the section) was set: ` (--set ...)` for the last
    /// override that set it, else ` (FILE:LINE)` in the config file, else empty.
    fn locate(&self, section: &str, key: Option<&str>) -> String {
        let dotted = match key {
            Some(key) => format!("{section}.{key}"),
            None => section.to_string(),
        };
        let set_here = |item: &&String| {
            let name = item
                .split_once('=')
                .map_or(item.as_str(), |(k, _)| k)
                .trim();
            name == dotted || name.starts_with(&format!("{dotted}."))
        };
        if let Some(item) = self.overrides.iter().rev().find(set_here) {
            return format!(" (--set {item})");
        }
        let Some((path, text)) = &self.origin else {
            return String::new();
        };
        match line_of(text, section, key) {
            Some(line) => format!(" ({}:{line})", path.display()),
            None => format!(" ({})", path.display()),
        }
    }

    /// The whole resolved config as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.table).unwrap_or_default()
    }

    /// Writes the resolved config to `path` atomically, its relative `[run]` paths rewritten
    /// as seen from `path`'s folder, so that `--config path` loads the same settings from any
    /// directory (e.g. `runs/rte/default/config.toml` names `../../../models/...`).
    pub fn write(&self, path: &Path) -> Result<(), ConfigError> {
        let mut moved = self.clone();
        let folder = path.parent().unwrap_or(Path::new(""));
        moved.map_paths(|value| relative_from(folder, value));
        write_atomic(path, moved.to_toml().as_bytes()).map_err(|source| ConfigError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The 1-based line of `key = ...` inside `[section]` of a TOML text (of the `[section]`
/// header when `key` is `None`); a plain scan, enough to point a person at the line.
fn line_of(text: &str, section: &str, key: Option<&str>) -> Option<usize> {
    let mut current = String::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            current = header.trim().to_string();
            if key.is_none() && current == section {
                return Some(index + 1);
            }
            continue;
        }
        let Some(key) = key else { continue };
        let first = key.split('.').next().unwrap_or(key);
        let name = line
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        if current == section && name == first && line.contains('=') {
            return Some(index + 1);
        }
        // `section.key = ...` at the top level, before any header.
        if current.is_empty() && name == format!("{section}.{first}") {
            return Some(index + 1);
        }
    }
    None
}

/// ` (did you mean [x]?)` when one of `known` is within two edits of `name`, else empty.
fn did_you_mean(name: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), k))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map_or_else(String::new, |(_, k)| format!(" (did you mean [{k}]?)"))
}

/// A TOML syntax error on one line: `line L, column C: what`.
fn one_line_toml_error(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// The keys of `[run]` that hold paths.
const PATH_KEYS: [&str; 4] = ["task", "model", "data_dir", "runs_dir"];

/// The path that names `target` (relative to the current directory) from `folder`:
/// `models/m` from `runs/rte/x` is `../../../models/m`. Where `folder` climbs above the current
/// directory or is absolute, `target` is made absolute instead.
fn relative_from(folder: &Path, target: &Path) -> PathBuf {
    use std::path::Component;
    let folder = lexically_joined(Path::new(""), folder);
    if folder == Path::new(".") {
        return target.to_path_buf();
    }
    let climbs = folder
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if climbs {
        let up: PathBuf = folder.components().map(|_| Component::ParentDir).collect();
        return lexically_joined(&up, target);
    }
    std::env::current_dir()
        .map(|cwd| lexically_joined(&cwd, target))
        .unwrap_or_else(|_| target.to_path_buf())
}

/// `folder/relative` with `.` and `name/..` folded away (`configs/../models/x` → `models/x`),
/// without touching the file system.
fn lexically_joined(folder: &Path, relative: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in folder.join(relative).components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// A value in TOML syntax, or else the raw text as a string (`--set run.task=rte`).
fn parse_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[run]\ntask = \"rte\"\nseed = 1\n[train]\nlr = 0.001\n";

    fn config() -> ResolvedConfig {
        ResolvedConfig::parse(TEXT, Path::new("test.toml")).unwrap()
    }

    #[test]
    fn overrides_replace_add_and_type_values() {
        let mut c = config();
        c.apply_override("run.seed=7").unwrap();
        c.apply_override("run.name=my-run").unwrap();
        c.apply_override("train.lr=5e-4").unwrap();
        c.apply_override("regions.allocation=\"global\"").unwrap();
        let run = c.run().unwrap();
        assert_eq!((run.seed, run.name.as_str()), (7, "my-run"));
        assert_eq!(run.paths().dir, Path::new("runs/rte/my-run"));
        assert!(c.to_toml().contains("lr = 0.0005"));
        assert!(c.to_toml().contains("allocation = \"global\""));
    }

    #[test]
    fn bad_overrides_and_unknown_keys_are_refused() {
        let mut c = config();
        assert!(matches!(
            c.apply_override("seed=1"),
            Err(ConfigError::BadOverride(_))
        ));
        assert!(matches!(
            c.apply_override("run.seed"),
            Err(ConfigError::BadOverride(_))
        ));
        c.apply_override("run.sede=1").unwrap();
        let err = c.run().unwrap_err().to_string();
        assert!(err.contains("[run]") && err.contains("sede"), "{err}");
    }

    #[test]
    fn every_section_is_checked_whatever_the_stage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.toml");
        let text = "[run]\ntask = \"rte\"\n\n[trian]\nepochs = 3\n\n[train]\nepochs = \"three\"\n";
        std::fs::write(&path, text).unwrap();
        let error = |overrides: &[&str]| {
            let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
            ResolvedConfig::load(&path, &overrides)
                .unwrap()
                .run()
                .unwrap_err()
                .to_string()
        };
        let message = error(&[]);
        assert!(
            message.contains("[trian]")
                && message.contains("did you mean [train]?")
                && message.ends_with(&format!("({}:4)", path.display())),
            "{message}"
        );
        std::fs::write(
            &path,
            "[run]\ntask = \"rte\"\n[train]\nepochs = \"three\"\n",
        )
        .unwrap();
        let message = error(&[]);
        assert!(
            message.contains("[train]")
                && message.contains("`epochs`")
                && message.ends_with(&format!("({}:4)", path.display())),
            "{message}"
        );
        let message = error(&["train.epochs=2", "train.learning_rate=1"]);
        assert!(
            message.contains("learning_rate") && message.ends_with("(--set train.learning_rate=1)"),
            "{message}"
        );
        let message = error(&["train.epochs=2", "nosuch.key=1"]);
        assert!(message.contains("[nosuch]: unknown section"), "{message}");
        let message = error(&["train.epochs=2", "regions.core_fraction=2.0"]);
        assert!(message.contains("core_fraction"), "{message}");
        let message = error(&["train.epochs=2", "lora.alpha=-1.0"]);
        assert!(
            message.contains("[lora]") && message.contains("alpha"),
            "{message}"
        );
        assert!(ResolvedConfig::load(&path, &["train.epochs=2".into()])
            .unwrap()
            .sections()
            .is_ok());
    }

    #[test]
    fn a_syntax_error_is_one_line_with_its_position() {
        let error =
            ResolvedConfig::parse("[run]\ntask = \"rte\"\nseed = = 1\n", Path::new("x.toml"))
                .unwrap_err()
                .to_string();
        assert!(
            !error.contains('\n') && error.contains("line 3, column"),
            "{error}"
        );
    }

    #[test]
    fn run_settings_are_validated() {
        let c =
            ResolvedConfig::parse("[run]\nmax_len = 2\ntask = \"rte\"", Path::new("x")).unwrap();
        assert!(c.run().unwrap_err().to_string().contains("max_len"));
        let c = ResolvedConfig::parse("[run]\n", Path::new("x")).unwrap();
        assert!(c.run().unwrap_err().to_string().contains("task"));
    }

    #[test]
    fn paths_in_the_file_are_taken_from_its_folder_overrides_from_here() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("configs");
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("mine.toml");
        let text = "[run]\ntask = \"tasks/my.toml\"\nmodel = \"../models/m\"\n\
                    runs_dir = \"/abs/runs\"\n";
        std::fs::write(&path, text).unwrap();
        let run = ResolvedConfig::load(&path, &["run.data_dir=\"d\"".into()])
            .unwrap()
            .run()
            .unwrap();
        assert_eq!(run.task, folder.join("tasks/my.toml").display().to_string());
        assert_eq!(run.model, dir.path().join("models/m"));
        assert_eq!(run.runs_dir, Path::new("/abs/runs"));
        assert_eq!(run.data_dir.as_deref(), Some(Path::new("d")));

        std::fs::write(&path, "[run]\ntask = \"rte\"\nmodel = \"../models/m\"\n").unwrap();
        let run = ResolvedConfig::load(Path::new(&path), &[])
            .unwrap()
            .run()
            .unwrap();
        assert_eq!(run.task, "rte", "a task name is not a path");
    }

    #[test]
    fn a_written_config_loads_back_with_the_same_paths_from_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("configs");
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("mine.toml");
        std::fs::write(&path, "[run]\nmodel = \"../models/m\"\ntask = \"rte\"\n").unwrap();
        let config = ResolvedConfig::load(&path, &[]).unwrap();
        let copy = dir.path().join("runs/rte/x/config.toml");
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        config.write(&copy).unwrap();
        let again = ResolvedConfig::load(&copy, &[]).unwrap();
        let model = |c: &ResolvedConfig| c.table["run"]["model"].as_str().unwrap().to_string();
        assert_eq!(model(&again), model(&config));
        assert_eq!(again.table["run"]["task"].as_str(), Some("rte"));
        assert_eq!(
            relative_from(Path::new("runs/rte/x"), Path::new("models/m")),
            Path::new("../../../models/m")
        );
        assert_eq!(
            relative_from(Path::new(""), Path::new("models/m")),
            Path::new("models/m")
        );
    }

    #[test]
    fn joined_paths_fold_dots_lexically() {
        let joined = |a: &str, b: &str| lexically_joined(Path::new(a), Path::new(b));
        assert_eq!(joined("configs", "../models/x"), Path::new("models/x"));
        assert_eq!(joined("", "models/x"), Path::new("models/x"));
        assert_eq!(joined("a", "../../x"), Path::new("../x"));
        assert_eq!(joined("configs", ".."), Path::new("."));
    }
}
