//! `taso-score`: stage 1. Scores the run's task on its model and writes
//! `runs/<task>/<run>/importance.safetensors`; `taso-score merge` adds up shard scores.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use taso_run::cli::StageArgs;
use taso_score::{merge_files, run_stage};

/// Stage 1 of TASO: importance scoring `|W ⊙ ∂L/∂W|` of the target layers.
#[derive(Parser)]
#[command(
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(flatten)]
    stage: Option<StageArgs>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Add up importance artifacts scored on disjoint shards of the same task and model.
    Merge {
        /// The shard artifacts.
        #[arg(required = true, num_args = 2..)]
        inputs: Vec<PathBuf>,
        /// The merged artifact.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    taso_run::cli::init_logging();
    let cli = Cli::parse();
    match (cli.command, cli.stage) {
        (None, Some(stage)) => {
            stage.run_binary("taso-score", |config| Ok(run_stage(config)?.summary()))
        }
        (command, _) => taso_run::cli::exit_with(merge_or_usage(command), false),
    }
}

/// `taso-score merge`, or the usage hint when neither it nor `--config` was given.
fn merge_or_usage(command: Option<Command>) -> Result<()> {
    match command {
        Some(Command::Merge { inputs, out }) => {
            let merged = merge_files(&inputs, &out)
                .with_context(|| format!("taso-score merge into {}", out.display()))?;
            println!(
                "wrote {}: {} shards, {} calibration examples",
                out.display(),
                inputs.len(),
                merged.examples
            );
        }
        None => bail!("pass --config FILE.toml (or `taso-score merge`); see --help"),
    }
    Ok(())
}
