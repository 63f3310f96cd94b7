//! `taso-lora`: stage 3. Reads the run's `regions.safetensors`, draws the initial sparse LoRA
//! adapters (A Kaiming-uniform from `run.seed`, B = 0) and writes `adapter-init.safetensors`
//! and the resolved `config.toml` to the run folder.

use clap::Parser;
use std::process::ExitCode;
use taso_lora::run_stage;
use taso_run::cli::StageArgs;

/// Build the initial sparse LoRA adapters of a run from its core regions.
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
        .run_binary("taso-lora", |config| Ok(run_stage(config)?.summary()))
}
