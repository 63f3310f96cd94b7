//! Stage 4 as one call on a resolved config: what the `taso-train` binary runs.

use std::path::PathBuf;

use taso_run::{ResolvedConfig, Sections};

use taso_run::RunContext;

use crate::{train, TrainError, TrainMetrics};

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

/// Runs stage 4 for the resolved config: checks the whole config first, then
/// trains (resuming from the newest checkpoint if `train.resume` is set) and writes the resolved
/// `config.toml` beside the outputs. Under `torchrun` the ranks train data-parallel and rank 0
/// alone writes files.
pub fn run_stage(config: &ResolvedConfig) -> Result<Outcome, TrainError> {
    let Sections {
        run,
        train: train_config,
        lora,
        generate,
        ..
    } = config.sections()?;
    let mut ctx = RunContext::new(run)?;
    ctx.generation = generate;
    let dir = &ctx.paths.dir;
    ctx.paths
        .check_writable()
        .map_err(|e| TrainError::io(dir, e))?;
    let metrics = train(&ctx, &train_config, lora.form)?;
    if ctx.is_main() {
        config.write(&ctx.paths.config())?;
    }
    Ok(Outcome {
        metrics,
        dir: ctx.paths.dir.clone(),
    })
}
