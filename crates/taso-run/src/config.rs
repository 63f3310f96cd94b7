//! A run's config: one TOML file with a section per stage plus `[run]`, and repeatable
//! `section.key=value` overrides; [`ResolvedConfig`] applies them, hands each stage its section
//! as a plain serde struct, and writes the resolved file beside the artifacts.

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use taso_artifact::write_atomic;

use crate::settings::RunSettings;

/// What can go wrong while reading a stage config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("cannot read the config {}: {source}; pass an existing file with --config (see configs/)", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The config file is not valid TOML.
    #[error("the config {} is not valid TOML: {message}", .path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// An override is not `section.key=value`.
    #[error("bad override `{0}`: expected --set section.key=value, e.g. --set train.lr=5e-4")]
    BadOverride(String),
    /// A section does not fit its struct (unknown key, wrong type).
    #[error("section [{section}] of the config: {message}")]
    Section {
        /// The section.
        section: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("config [{section}]: {message}")]
    Invalid {
        /// The section.
        section: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The resolved config cannot be written.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A config file with the command line's overrides applied.
#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    table: toml::Table,
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
        config.anchor_paths(path.parent().unwrap_or(Path::new("")));
        for item in overrides {
            config.apply_override(item)?;
        }
        Ok(config)
    }

    /// Re-roots the relative paths of the `[run]` section at `folder` (see [`ResolvedConfig::load`]).
    fn anchor_paths(&mut self, folder: &Path) {
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
                *value = lexically_joined(folder, Path::new(value.as_str()))
                    .display()
                    .to_string();
            }
        }
    }

    /// Parses config text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let table = text
            .parse::<toml::Table>()
            .map_err(|e| ConfigError::Syntax {
                path: origin.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok(Self { table })
    }

    /// Applies one `section.key=value` override (nested keys allowed: `a.b.c=1`).
    pub fn apply_override(&mut self, item: &str) -> Result<(), ConfigError> {
        let bad = || ConfigError::BadOverride(item.to_string());
        let (key, raw) = item.split_once('=').ok_or_else(bad)?;
        let path: Vec<&str> = key.trim().split('.').collect();
        if path.len() < 2 || path.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        self.insert(&path, parse_value(raw.trim())).ok_or_else(bad)
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

    /// The section `name` as `T`; a missing section gives `T::default()`.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, ConfigError> {
        match self.table.get(name) {
            None => Ok(T::default()),
            Some(value) => {
                value
                    .clone()
                    .try_into()
                    .map_err(|e: toml::de::Error| ConfigError::Section {
                        section: name.to_string(),
                        message: e.message().to_string(),
                    })
            }
        }
    }

    /// The `[run]` section, validated.
    pub fn run(&self) -> Result<RunSettings, ConfigError> {
        let run: RunSettings = self.section("run")?;
        run.validate()?;
        Ok(run)
    }

    /// The whole resolved config as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.table).unwrap_or_default()
    }

    /// Writes the resolved config to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<(), ConfigError> {
        write_atomic(path, self.to_toml().as_bytes()).map_err(|source| ConfigError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The keys of `[run]` that hold paths.
const PATH_KEYS: [&str; 4] = ["task", "model", "data_dir", "runs_dir"];

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
    fn joined_paths_fold_dots_lexically() {
        let joined = |a: &str, b: &str| lexically_joined(Path::new(a), Path::new(b));
        assert_eq!(joined("configs", "../models/x"), Path::new("models/x"));
        assert_eq!(joined("", "models/x"), Path::new("models/x"));
        assert_eq!(joined("a", "../../x"), Path::new("../x"));
        assert_eq!(joined("configs", ".."), Path::new("."));
    }
}
