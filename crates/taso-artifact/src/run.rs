//! Run folders and stage configs: what every stage binary shares.
//!
//! A stage binary takes `--config FILE.toml` (one section per stage plus `[run]`) and repeatable
//! `--set section.key=value` overrides; [`ResolvedConfig`] applies them, hands each stage its
//! section as a plain serde struct, and writes the resolved file beside the artifacts.
//! [`RunPaths`] names the files of a run folder `runs/<task>/<run-name>/`
//! (see `docs/artifacts.md`).

use crate::atomic::write_atomic;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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

/// Sends `tracing` output to stderr, at `info` unless `RUST_LOG` says otherwise, coloured only
/// on a terminal (a log file gets plain text): the first line of every taso binary's `main`.
pub fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// The command-line arguments every stage binary shares (`#[command(flatten)]` them).
#[derive(Debug, Clone, clap::Args)]
pub struct StageArgs {
    /// Config file with a section per stage (see configs/).
    #[arg(long)]
    pub config: PathBuf,
    /// Override one setting: `--set section.key=value` (value in TOML syntax; bare words are
    /// strings). Repeatable.
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    pub overrides: Vec<String>,
}

impl StageArgs {
    /// The body of a stage binary's `main`: loads the resolved config, runs `stage` on it and
    /// prints the summary it returns; an error names the command and its config file.
    pub fn run_binary(
        &self,
        command: &str,
        stage: impl FnOnce(&ResolvedConfig) -> anyhow::Result<String>,
    ) -> anyhow::Result<()> {
        use anyhow::Context;
        let config = ResolvedConfig::load(self)?;
        let summary = stage(&config)
            .with_context(|| format!("{command} with --config {}", self.config.display()))?;
        println!("{summary}");
        Ok(())
    }
}

/// A config file with the command line's overrides applied.
#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    table: toml::Table,
}

impl ResolvedConfig {
    /// Reads `args.config` and applies `args.overrides` in order.
    pub fn load(args: &StageArgs) -> Result<Self, ConfigError> {
        let path = &args.config;
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let mut config = Self::parse(&text, path)?;
        for item in &args.overrides {
            config.apply_override(item)?;
        }
        Ok(config)
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
        let value = parse_value(raw.trim());
        let (last, sections) = path.split_last().ok_or_else(bad)?;
        let mut table = &mut self.table;
        for section in sections {
            let entry = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = entry.as_table_mut().ok_or_else(bad)?;
        }
        table.insert(last.to_string(), value);
        Ok(())
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

/// A value in TOML syntax, or else the raw text as a string (`--set run.task=rte`).
fn parse_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// Which method a run trains: TASO or one of the baselines, all through the same stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Sparse LoRA on the task-aligned core regions.
    #[default]
    Taso,
    /// Dense LoRA on the same targets.
    Lora,
    /// Sparse LoRA on random regions of the same sizes.
    RandomRegions,
    /// Biases only.
    Bitfit,
    /// Every base weight.
    Full,
    /// The task head only.
    HeadOnly,
}

impl Method {
    /// The config spelling (`taso`, `random-regions`, `head-only`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Taso => "taso",
            Self::Lora => "lora",
            Self::RandomRegions => "random-regions",
            Self::Bitfit => "bitfit",
            Self::Full => "full",
            Self::HeadOnly => "head-only",
        }
    }

    /// Whether the method trains a (sparse or dense) LoRA adapter.
    pub fn uses_adapter(self) -> bool {
        matches!(self, Self::Taso | Self::Lora | Self::RandomRegions)
    }

    /// Whether the method needs importance scores.
    pub fn needs_scores(self) -> bool {
        matches!(self, Self::Taso | Self::RandomRegions)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The `[run]` section: what every stage of a run shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSettings {
    /// Built-in task name or path to a task TOML.
    pub task: String,
    /// Model folder (Hugging Face layout).
    pub model: PathBuf,
    /// Run name: the folder under `runs_dir/<task>/`.
    pub name: String,
    /// Root of all run folders.
    pub runs_dir: PathBuf,
    /// Data folder (default: `TASO_DATA_DIR`, `data/shared`, `../shared/data`).
    pub data_dir: Option<PathBuf>,
    /// Method trained by this run.
    pub method: Method,
    /// Seed of data order, head init and region randomness.
    pub seed: u64,
    /// `auto`, `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// libtorch CPU threads (default: one per core).
    pub threads: Option<usize>,
    /// Truncation length in tokens.
    pub max_len: usize,
    /// Training examples set aside (evenly spread, the same for every seed and method) to choose
    /// the best epoch on — and, in `taso-compare`, the learning rate — instead of the dev split,
    /// which is then only reported; scoring and training never see them. 0: select on dev.
    pub holdout: usize,
    /// Target linear layers, as suffixes of their module paths.
    pub targets: Vec<String>,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            task: String::new(),
            model: PathBuf::from("models/all-MiniLM-L6-v2"),
            name: "default".to_string(),
            runs_dir: PathBuf::from("runs"),
            data_dir: None,
            method: Method::Taso,
            seed: 0,
            device: "auto".to_string(),
            threads: None,
            max_len: 128,
            holdout: 0,
            targets: [
                "attention.self.query",
                "attention.self.key",
                "attention.self.value",
                "attention.output.dense",
                "intermediate.dense",
                "output.dense",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl RunSettings {
    /// Checks the values before any work starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            section: "run".to_string(),
            message,
        };
        if self.task.trim().is_empty() {
            return Err(invalid(
                "`task` is empty: set a built-in task (rte, mrpc, ...) or a task .toml path".into(),
            ));
        }
        if self.name.trim().is_empty() || self.name.contains('/') {
            return Err(invalid(format!(
                "`name` must be a plain folder name, not `{}`",
                self.name
            )));
        }
        if self.max_len < 8 {
            return Err(invalid(format!(
                "`max_len` = {} is too small (at least 8)",
                self.max_len
            )));
        }
        if self.targets.is_empty() {
            return Err(invalid(
                "`targets` is empty: name at least one linear layer suffix".into(),
            ));
        }
        Ok(())
    }

    /// Whether the linear layer `name` is a target: inside a numbered block
    /// (`encoder.layer.3.…`, `model.layers.3.…`), with the rest of its path equal to one of
    /// `targets` (so `output.dense` does not also select `attention.output.dense`).
    pub fn is_target(&self, name: &str) -> bool {
        let mut parts = name.split('.');
        let in_block = parts
            .by_ref()
            .any(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
        let rest: Vec<&str> = parts.collect();
        in_block && self.targets.iter().any(|t| *t == rest.join("."))
    }

    /// The task's short name, for the run folder: the file stem of a task TOML path.
    pub fn task_name(&self) -> String {
        Path::new(&self.task)
            .file_stem()
            .map_or_else(|| self.task.clone(), |s| s.to_string_lossy().into_owned())
    }

    /// The run folder's paths.
    pub fn paths(&self) -> RunPaths {
        RunPaths {
            dir: self.runs_dir.join(self.task_name()).join(&self.name),
        }
    }
}

/// The fixed file names of one run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPaths {
    /// The run folder.
    pub dir: PathBuf,
}

impl RunPaths {
    /// Creates the run folder if needed.
    pub fn create(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)
    }

    /// `importance.safetensors`.
    pub fn importance(&self) -> PathBuf {
        self.dir.join("importance.safetensors")
    }

    /// `regions.safetensors`.
    pub fn regions(&self) -> PathBuf {
        self.dir.join("regions.safetensors")
    }

    /// `adapter-init.safetensors`.
    pub fn adapter_init(&self) -> PathBuf {
        self.dir.join("adapter-init.safetensors")
    }

    /// `adapter.safetensors` (last epoch).
    pub fn adapter(&self) -> PathBuf {
        self.dir.join("adapter.safetensors")
    }

    /// `adapter-best.safetensors` (best dev epoch).
    pub fn adapter_best(&self) -> PathBuf {
        self.dir.join("adapter-best.safetensors")
    }

    /// `checkpoints/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }

    /// `metrics.json`.
    pub fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.json")
    }

    /// `predictions.tsv`.
    pub fn predictions(&self) -> PathBuf {
        self.dir.join("predictions.tsv")
    }

    /// `config.toml` (the resolved config).
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    /// `report.md`.
    pub fn report(&self) -> PathBuf {
        self.dir.join("report.md")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[run]\ntask = \"rte\"\nseed = 1\n[train]\nlr = 0.001\n";

    fn config() -> ResolvedConfig {
        ResolvedConfig::parse(TEXT, Path::new("test.toml")).unwrap()
    }

    #[test]
    fn a_stage_binary_error_names_the_command_and_its_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stage.toml");
        std::fs::write(&path, TEXT).unwrap();
        let args = StageArgs {
            config: path.clone(),
            overrides: vec!["train.lr=0.002".into()],
        };
        let error = args
            .run_binary("taso-test", |config| {
                let train: toml::Table = config.section("train")?;
                anyhow::bail!("the stage failed at lr {}", train["lr"])
            })
            .unwrap_err();
        let expected = format!(
            "taso-test with --config {}: the stage failed at lr 0.002",
            path.display()
        );
        assert_eq!(format!("{error:#}"), expected);
        assert!(args.run_binary("taso-test", |_| Ok("done".into())).is_ok());
    }

    #[test]
    fn method_names_are_the_config_spelling() {
        use Method::*;
        for method in [Taso, Lora, RandomRegions, Bitfit, Full, HeadOnly] {
            let spelled = toml::Value::try_from(method).unwrap();
            assert_eq!(spelled.as_str(), Some(method.name()));
            assert_eq!(method.to_string(), method.name());
        }
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
    fn targets_match_whole_paths_inside_blocks() {
        let run = RunSettings::default();
        assert!(run.is_target("encoder.layer.0.attention.self.query"));
        assert!(run.is_target("encoder.layer.11.output.dense"));
        assert!(run.is_target("encoder.layer.1.attention.output.dense"));
        assert!(!run.is_target("pooler.dense"));
        assert!(!run.is_target("classifier.dense"));
        let only_output = RunSettings {
            targets: vec!["output.dense".into()],
            ..RunSettings::default()
        };
        assert!(only_output.is_target("encoder.layer.2.output.dense"));
        assert!(!only_output.is_target("encoder.layer.2.attention.output.dense"));
    }

    #[test]
    fn task_files_name_the_run_folder_by_stem() {
        let run = RunSettings {
            task: "tasks/my-nli.toml".into(),
            ..RunSettings::default()
        };
        assert_eq!(run.paths().dir, Path::new("runs/my-nli/default"));
    }
}
