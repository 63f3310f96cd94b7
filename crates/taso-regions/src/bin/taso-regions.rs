//! `taso-regions`: stage 2 of TASO. Reads `importance.safetensors` of the run folder, selects
//! the core rows and columns of every target matrix and writes `regions.safetensors`,
//! `regions.md`, `heatmaps/*.png` and the resolved `config.toml`.
//!
//! ```text
//! taso-regions --config configs/rte.toml [--set regions.allocation=global]...
//! ```

use anyhow::{Context, Result};
use clap::Parser;
use taso_artifact::run::{ResolvedConfig, StageArgs};
use taso_regions::run_stage;

/// Select the task-aligned core rows and columns of every target matrix (TASO stage 2).
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    stage: StageArgs,
}

fn main() -> Result<()> {
    taso_artifact::run::init_logging();
    let args = Args::parse();
    let config = ResolvedConfig::load(&args.stage)?;
    let outcome = run_stage(&config)
        .with_context(|| format!("taso-regions with --config {}", args.stage.config.display()))?;
    println!("{}", outcome.summary());
    Ok(())
}
