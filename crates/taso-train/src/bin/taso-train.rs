//! `taso-train`: stage 4 of TASO. Trains the run's method on its task and writes
//! `adapter.safetensors`, `adapter-best.safetensors`, `metrics.json`, `report.md` and the
//! resolved `config.toml` into the run folder.

use anyhow::{Context, Result};
use clap::Parser;
use taso_artifact::run::{ResolvedConfig, StageArgs};
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

fn main() -> Result<()> {
    taso_artifact::run::init_logging();
    let mut args = Args::parse();
    if args.resume {
        args.stage.overrides.push("train.resume=true".into());
    }
    let config = ResolvedConfig::load(&args.stage)?;
    let outcome = run_stage(&config)
        .with_context(|| format!("taso-train with --config {}", args.stage.config.display()))?;
    println!("{}", outcome.summary());
    Ok(())
}
