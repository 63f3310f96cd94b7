//! `taso-train`: stage 4 of TASO. Trains the run's method on its task and writes
//! `adapter.safetensors`, `adapter-best.safetensors`, `metrics.json`, `report.md` and the
//! resolved `config.toml` into the run folder.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use taso_run::cli::StageArgs;
use taso_run::{RunContext, Sections};
use taso_train::{run_stage, write_batch_plan};

/// Train an adapter (or a baseline) as the config's `[run]` and `[train]` sections say.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    stage: StageArgs,
    /// Continue from the newest checkpoint in the run folder (same as `--set train.resume=true`).
    #[arg(long)]
    resume: bool,
    /// Write the batches the training would step through to this safetensors file, and train
    /// nothing (for a peer trainer to run the same batches: benches/train_peer.sh).
    #[arg(long, value_name = "FILE")]
    write_batches: Option<PathBuf>,
}

fn main() -> ExitCode {
    taso_run::cli::init_logging();
    let mut args = Args::parse();
    if args.resume {
        args.stage.overrides.push("train.resume=true".into());
    }
    args.stage
        .run_binary("taso-train", |config| match &args.write_batches {
            Some(path) => {
                let Sections { run, train, .. } = config.sections()?;
                let plan = write_batch_plan(&RunContext::new(run)?, &train, path)?;
                Ok(format!(
                    "wrote {}: {} batches, {} examples, {} tokens",
                    path.display(),
                    plan.steps,
                    plan.examples,
                    plan.tokens
                ))
            }
            None => Ok(run_stage(config)?.summary()),
        })
}
