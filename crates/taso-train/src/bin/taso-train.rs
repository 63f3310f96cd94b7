//! `taso-train`: stage 4 of TASO. Trains the run's method on its task and writes
//! `adapter.safetensors`, `adapter-best.safetensors`, `metrics.json`, `report.md` and the
//! resolved `config.toml` into the run folder.

use clap::Parser;
use std::process::ExitCode;
use taso_run::cli::StageArgs;
use taso_train::run_stage;

/// Train an adapter (or a baseline) as the config's `[run]` and `[train]` sections say.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    stage: StageArgs,
    /// Continue from the newest checkpoint in the run folder (same as `--set train.resume=true`).
    #[arg(long)]
    resume: bool,
}

fn main() -> ExitCode {
    taso_run::cli::init_logging();
    let mut args = Args::parse();
    if args.resume {
        args.stage.overrides.push("train.resume=true".into());
    }
    args.stage
        .run_binary("taso-train", |config| Ok(run_stage(config)?.summary()))
}
