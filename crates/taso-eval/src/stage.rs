//! Stage 5 as one call on a resolved config: what the `taso-eval` binary runs.

use std::path::{Path, PathBuf};

use taso_run::{export_peft, RunContext, TrainedModel};
use taso_run::{ResolvedConfig, Sections};

use crate::{evaluate_run, knockout_run, EvalError, EvalReport, KnockoutReport};

/// What [`run_stage`] did: the report, and the evaluated model for a PEFT export.
pub struct Outcome {
    /// The metrics and where they came from.
    pub report: EvalReport,
    /// The adapter file loaded on the base model (`None` for `eval.adapter = "none"`).
    pub trained: Option<TrainedModel>,
    /// The run's base model folder.
    pub base_model: PathBuf,
}

impl Outcome {
    /// Human-readable lines for the command line.
    pub fn summary(&self) -> String {
        self.report.summary()
    }

    /// Writes the evaluated adapter and its head to `dir` in PEFT format (see [`export_peft`]).
    pub fn export_peft(&self, dir: &Path) -> Result<(), EvalError> {
        let trained = self.trained.as_ref().ok_or(EvalError::NothingToExport)?;
        Ok(export_peft(trained, dir, &self.base_model)?)
    }
}

/// Runs stage 5 for the resolved config: checks the whole config first, then evaluates
/// `adapter` (default: the run folder's file that `eval.adapter` names) as [`evaluate_run`]
/// does and writes the resolved `config.toml` beside the outputs.
pub fn run_stage(config: &ResolvedConfig, adapter: Option<&Path>) -> Result<Outcome, EvalError> {
    let Sections {
        run,
        eval,
        generate,
        ..
    } = config.sections()?;
    let mut ctx = RunContext::new(run)?;
    ctx.generation = generate;
    let (report, trained) = evaluate_run(&ctx, &eval, adapter)?;
    if ctx.is_main() {
        config.write(&ctx.paths.config())?;
    }
    Ok(Outcome {
        report,
        trained,
        base_model: ctx.run.model.clone(),
    })
}

/// Runs the knock-out by matrix type for the resolved config (`taso-eval --knockout`): checks
/// the whole config first, then evaluates `adapter` (default: the run folder's file that
/// `eval.adapter` names) as [`knockout_run`] does. It leaves the run's `config.toml`, `eval`
/// entry and `predictions.tsv` as they are.
pub fn run_knockout(
    config: &ResolvedConfig,
    adapter: Option<&Path>,
) -> Result<KnockoutReport, EvalError> {
    let Sections { run, eval, .. } = config.sections()?;
    let ctx = RunContext::new(run)?;
    knockout_run(&ctx, &eval, adapter)
}
