//! The shell every taso binary shares (the `cli` feature): logging set-up, the `--config` /
//! `--set` arguments, and one `main` body that prints a stage's summary or its error — one
//! line by default (`error: what is wrong: why; what to do`), the whole cause chain and any
//! backtrace only with `-v` or `RUST_LIB_BACKTRACE=1`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::ResolvedConfig;

/// Sends `tracing` output to stderr, at `info` unless `RUST_LOG` says otherwise, coloured only
/// on a terminal (a log file gets plain text): the first line of every taso binary's `main`.
pub fn init_logging() {
    use std::io::IsTerminal;
    // The ranks of a data-parallel run other than 0 report warnings and errors only.
    let quiet = std::env::var("RANK").is_ok_and(|rank| rank.trim() != "0");
    let level = if quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
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
    /// On an error, print its whole cause chain (and a backtrace with `RUST_BACKTRACE=1`)
    /// instead of one line.
    #[arg(short, long)]
    pub verbose: bool,
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
    /// prints the summary it returns; an error is printed as [`exit_with`] does, naming the
    /// command and its config file.
    pub fn run_binary(
        &self,
        command: &str,
        stage: impl FnOnce(&ResolvedConfig) -> anyhow::Result<String>,
    ) -> ExitCode {
        exit_with(self.run_stage(command, stage), self.verbose)
    }

    fn run_stage(
        &self,
        command: &str,
        stage: impl FnOnce(&ResolvedConfig) -> anyhow::Result<String>,
    ) -> anyhow::Result<()> {
        use anyhow::Context;
        let summary = self
            .resolve()
            .map_err(anyhow::Error::from)
            .and_then(|config| stage(&config))
            .with_context(|| format!("{command} (--config {})", self.config.display()))?;
        println!("{summary}");
        Ok(())
    }
}

/// The end of a taso binary's `main`: success, or the error printed to stderr and exit code 1.
///
/// By default the error is one line, `error: ` and its cause chain joined by `: ` with any
/// cause already said by the message before it left out (`RUST_BACKTRACE` alone changes
/// nothing). With `verbose`, or `RUST_LIB_BACKTRACE=1` in the environment, the whole chain is
/// printed one cause per line, with the backtrace when one was captured.
pub fn exit_with(result: anyhow::Result<()>, verbose: bool) -> ExitCode {
    let Err(error) = result else {
        return ExitCode::SUCCESS;
    };
    let asked = std::env::var_os("RUST_LIB_BACKTRACE").is_some_and(|v| v != "0");
    if verbose || asked {
        eprintln!("error: {error:?}");
    } else {
        eprintln!("error: {}", one_line(&error));
    }
    ExitCode::FAILURE
}

/// The error and its causes on one line, each cause once.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
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
            verbose: false,
        };
        let error = args
            .run_stage("taso-test", |config| {
                let train: toml::Table = config.section("train")?;
                anyhow::bail!("the stage failed at lr {}", train["lr"])
            })
            .unwrap_err();
        let expected = format!(
            "taso-test (--config {}): the stage failed at lr 0.002",
            path.display()
        );
        assert_eq!(one_line(&error), expected);
        assert!(args.run_stage("taso-test", |_| Ok("done".into())).is_ok());
    }

    #[test]
    fn one_line_says_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot read x.toml: {0}")]
        struct Outer(#[source] std::io::Error);
        let inner = std::io::Error::other("permission denied");
        let error = anyhow::Error::new(Outer(inner)).context("taso-score (--config x.toml)");
        assert_eq!(
            one_line(&error),
            "taso-score (--config x.toml): cannot read x.toml: permission denied"
        );
        let multi = anyhow::anyhow!("first line\n  second line");
        assert_eq!(one_line(&multi), "first line second line");
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
            verbose: false,
        };
        let run = args.resolve().unwrap().run().unwrap();
        assert_eq!(run.data_dir.as_deref(), Some(Path::new("/data/glue-copy")));
    }
}
