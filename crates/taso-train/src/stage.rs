//! Stage 4 as one call on a resolved config: what the `taso-train` binary runs.

use std::path::PathBuf;

use taso_adapter::LoraConfig;
use taso_run::ResolvedConfig;

use taso_run::RunContext;

use crate::{train, TrainConfig, TrainError, TrainMetrics};

/// What [`run_stage`] did: the run's metrics and the folder its outputs are in.
#[derive(Debug)]
pub struct Outcome {
    /// `metrics.json` as written.
    pub metrics: TrainMetrics,
    /// The run folder.
    pub dir: PathBuf,
}

impl Outcome {
    /// Human-readable lines for the command line.
    pub fn summary(&self) -> String {
        format!(
            "{}\noutputs in {}",
            self.metrics.summary(),
            self.dir.display()
        )
    }
}

/// Runs stage 4 for the resolved config: validates `[run]`, `[train]` and `[lora]` first, then
/// trains (resuming from the newest checkpoint if `train.resume` is set) and writes the resolved
/// `config.toml` beside the outputs.
pub fn run_stage(config: &ResolvedConfig) -> Result<Outcome, TrainError> {
    let run = config.run()?;
    let train_config: TrainConfig = config.section("train")?;
    train_config.validate()?;
    let lora: LoraConfig = config.section("lora")?;
    lora.validate()?;
    let mut ctx = RunContext::new(run)?;
    ctx.generation = config.section("generate")?;
    let metrics = train(&ctx, &train_config, lora.form)?;
    config.write(&ctx.paths.config())?;
    Ok(Outcome {
        metrics,
        dir: ctx.paths.dir.clone(),
    })
}
