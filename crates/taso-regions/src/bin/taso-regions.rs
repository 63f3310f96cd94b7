//! `taso-regions`: stage 2 of TASO. Reads `importance.safetensors` of the run folder, selects
//! the core rows and columns of every target matrix and writes `regions.safetensors`,
//! `regions.md`, `heatmaps/*.png` and the resolved `config.toml`.
//!
//! ```text
//! taso-regions --config configs/rte.toml [--set regions.allocation=global]...
//! taso-regions --config configs/rte-prompt.toml --coverage-under runs/sst2-prompt/x/importance.safetensors
//! ```
//!
//! With `--coverage-under IMPORTANCE` it selects nothing and writes nothing: it prints how much
//! of that importance (another task's, on the same model) the run's existing kept blocks hold,
//! per matrix type, beside their own task's share and a random block's.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use taso_regions::{coverage_under, run_stage};
use taso_run::cli::StageArgs;

/// Select the task-aligned core rows and columns of every target matrix (TASO stage 2).
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    stage: StageArgs,
    /// Select nothing: print how much of this importance artifact (another task's, same model)
    /// the run's existing kept blocks hold, per matrix type.
    #[arg(long, value_name = "IMPORTANCE")]
    coverage_under: Option<PathBuf>,
}

fn main() -> ExitCode {
    taso_run::cli::init_logging();
    let args = Args::parse();
    match &args.coverage_under {
        Some(importance) => args.stage.run_binary("taso-regions", |config| {
            Ok(coverage_under(config, importance)?.summary())
        }),
        None => args
            .stage
            .run_binary("taso-regions", |config| Ok(run_stage(config)?.summary())),
    }
}
