//! `taso-train`: stage 4 of TASO. Trains the run's method on its task and writes
//! `adapter.safetensors`, `adapter-best.safetensors`, `metrics.json`, `report.md` and the
//! resolved `config.toml` into the run folder.

use anyhow::{Context, Result};
use clap::Parser;
use taso_artifact::run::{ResolvedConfig, StageArgs};
use taso_lora::LoraConfig;
use taso_train::{train, RunContext, TrainConfig};

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
    let args = Args::parse();
    let config = ResolvedConfig::load(&args.stage)?;
    let run = config.run()?;
    let mut train_config: TrainConfig = config.section("train")?;
    train_config.resume |= args.resume;
    train_config.validate()?;
    let lora: LoraConfig = config.section("lora")?;
    lora.validate()?;
    let mut ctx = RunContext::new(run).context("setting up the run")?;
    ctx.generation = config.section("generate")?;
    let metrics = train(&ctx, &train_config, lora.form)?;
    config.write(&ctx.paths.config())?;
    println!("{}", metrics.summary());
    println!("outputs in {}", ctx.paths.dir.display());
    Ok(())
}
