//! `taso-regions`: stage 2 of TASO. Reads `importance.safetensors` of the run folder, selects
//! the core rows and columns of every target matrix and writes `regions.safetensors`,
//! `regions.md`, `heatmaps/*.png` and the resolved `config.toml`.
//!
//! ```text
//! taso-regions --config configs/rte.toml [--set regions.allocation=global]...
//! ```

use clap::Parser;
use std::process::ExitCode;
use taso_regions::run_stage;
use taso_run::cli::StageArgs;

/// Select the task-aligned core rows and columns of every target matrix (TASO stage 2).
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    stage: StageArgs,
}

fn main() -> ExitCode {
    taso_run::cli::init_logging();
    let args = Args::parse();
    args.stage
        .run_binary("taso-regions", |config| Ok(run_stage(config)?.summary()))
}
