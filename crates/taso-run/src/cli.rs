//! The shell every taso binary shares (the `cli` feature): logging set-up, the `--config` /
//! `--set` arguments, and one `main` body that prints a stage's summary or its error.

use std::path::PathBuf;

use crate::config::ResolvedConfig;

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
    /// Task data folder (sets `run.data_dir`; default: `TASO_DATA_DIR`, else `data/shared`,
    /// `../shared/data`, then the repository's `data/`, which ships RTE).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl StageArgs {
    /// The config file with the overrides applied, then `--data-dir`.
    pub fn resolve(&self) -> Result<ResolvedConfig, crate::ConfigError> {
        let mut config = ResolvedConfig::load(&self.config, &self.overrides)?;
        if let Some(dir) = &self.data_dir {
            config.set_path("run.data_dir", dir)?;
        }
        Ok(config)
    }

    /// The body of a stage binary's `main`: loads the resolved config, runs `stage` on it and
    /// prints the summary it returns; an error names the command and its config file.
    pub fn run_binary(
        &self,
        command: &str,
        stage: impl FnOnce(&ResolvedConfig) -> anyhow::Result<String>,
    ) -> anyhow::Result<()> {
        use anyhow::Context;
        let config = self.resolve()?;
        let summary = stage(&config)
            .with_context(|| format!("{command} with --config {}", self.config.display()))?;
        println!("{summary}");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const TEXT: &str = "[run]\ntask = \"rte\"\nseed = 1\n[train]\nlr = 0.001\n";

    #[test]
    fn a_stage_binary_error_names_the_command_and_its_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stage.toml");
        std::fs::write(&path, TEXT).unwrap();
        let args = StageArgs {
            config: path.clone(),
            overrides: vec!["train.lr=0.002".into()],
            data_dir: None,
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
    fn data_dir_sets_the_run_s_data_folder_after_the_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stage.toml");
        std::fs::write(&path, TEXT).unwrap();
        let args = StageArgs {
            config: path,
            overrides: vec!["run.data_dir=\"elsewhere\"".into()],
            data_dir: Some("/data/glue-copy".into()),
        };
        let run = args.resolve().unwrap().run().unwrap();
        assert_eq!(run.data_dir.as_deref(), Some(Path::new("/data/glue-copy")));
    }
}
