//! Stage 5 of TASO: evaluation.
//!
//! Loads the base model with a trained adapter file (attached, or merged into the base
//! weights), predicts a split and computes the task's GLUE metrics; writes
//! `predictions.tsv`, the `eval` entry of `metrics.json` and a `report.md` section, and can
//! export the adapter with its head in PEFT format. See `docs/method.md`, stage 5.
//! Loading and scoring come from the run layer ([`taso_run::TrainedModel`],
//! [`taso_run::evaluate`]), which the trainer uses too, so both score models the same way.
//!
//! [`run_stage`] runs the stage on a resolved config as the `taso-eval` binary does;
//! [`evaluate_run`] is the same on a run context and an [`EvalConfig`] you built yourself.
//! [`knockout_run`] (`taso-eval --knockout`) evaluates an adapter whole, with no adapter matrix,
//! and then without each matrix type's adapters and with them alone, to show what each type
//! contributes.
//!
//! ```no_run
//! use taso_run::ResolvedConfig;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ResolvedConfig::load("configs/rte.toml".as_ref(), &[])?;
//! let outcome = taso_eval::run_stage(&config, None)?;
//! println!("{}", outcome.summary());
//! outcome.export_peft("runs/rte/default/peft".as_ref())?;
//! # Ok(()) }
//! ```

mod error;
mod knockout;
mod predictions;
mod run;
mod stage;

pub use error::EvalError;
pub use knockout::{
    knockout_run, KnockoutReport, KnockoutRow, KNOCKOUT_CHART_FILE, KNOCKOUT_HEADING, KNOCKOUT_KEY,
};
pub use predictions::{predictions_tsv, write_predictions};
pub use run::{evaluate_run, EvalReport, METRICS_KEY, REPORT_HEADING};
pub use stage::{run_knockout, run_stage, Outcome};
/// The `[eval]` section (types of the run layer, which checks the whole config).
pub use taso_run::sections::{AdapterChoice, EvalConfig};
