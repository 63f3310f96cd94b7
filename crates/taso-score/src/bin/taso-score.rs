//! `taso-score`: stage 1. Scores the run's task on its model and writes
//! `runs/<task>/<run>/importance.safetensors`; `taso-score merge` adds up shard scores;
//! `taso-score inputs` measures how loud the targets' input features run.

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use taso_run::cli::StageArgs;
use taso_score::{merge_files, run_inputs, run_stage};

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
    /// Measure how loud each input feature of the target matrices runs on the calibration
    /// batches (RMS over real tokens, against the median feature) and write `inputs.md` into the
    /// run folder; scores nothing.
    Inputs {
        #[command(flatten)]
        stage: StageArgs,
    },
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
        (Some(Command::Inputs { stage }), _) => stage.run_binary("taso-score inputs", |config| {
            let (path, report) = run_inputs(config)?;
            Ok(format!("{report}\nwritten to {}", path.display()))
        }),
        (Some(Command::Merge { inputs, out }), _) => {
            taso_run::cli::exit_with(merge(&inputs, &out), false)
        }
        (None, None) => taso_run::cli::exit_with(
            Err(anyhow!(
                "pass --config FILE.toml (or `taso-score merge`); see --help"
            )),
            false,
        ),
    }
}

/// `taso-score merge`: adds up the shard artifacts `inputs` into `out`.
fn merge(inputs: &[PathBuf], out: &Path) -> Result<()> {
    let merged = merge_files(inputs, out)
        .with_context(|| format!("taso-score merge into {}", out.display()))?;
    println!(
        "wrote {}: {} shards, {} calibration examples",
        out.display(),
        inputs.len(),
        merged.examples
    );
    Ok(())
}
