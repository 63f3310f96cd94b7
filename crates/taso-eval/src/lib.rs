//! Stage 5 of TASO: evaluation.
//!
//! Loads the base model with a trained adapter file (attached, or merged into the base
//! weights), predicts a split and computes the task's GLUE metrics; writes
//! `predictions.tsv`, the `eval` entry of `metrics.json` and a `report.md` section, and can
//! export the adapter with its head in PEFT format. See `../shared/docs/method.md`, stage 5.
//! Loading and scoring are the trainer's ([`taso_train::TrainedModel`],
//! [`taso_train::evaluate`]), so training and evaluation score models the same way.
//!
//! [`run_stage`] runs the stage on a resolved config as the `taso-eval` binary does;
//! [`evaluate_run`] is the same on a run context and an [`EvalConfig`] you built yourself.
//!
//! ```no_run
//! use taso_artifact::run::{ResolvedConfig, StageArgs};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let args = StageArgs { config: "configs/rte.toml".into(), overrides: vec![] };
//! let config = ResolvedConfig::load(&args)?;
//! let outcome = taso_eval::run_stage(&config, None)?;
//! println!("{}", outcome.summary());
//! outcome.export_peft("runs/rte/default/peft".as_ref())?;
//! # Ok(()) }
//! ```

mod config;
mod error;
mod peft;
mod predictions;
mod run;
mod stage;

pub use config::{AdapterChoice, EvalConfig};
pub use error::EvalError;
pub use peft::export_peft;
pub use predictions::{predictions_tsv, write_predictions};
pub use run::{evaluate_run, EvalReport, METRICS_KEY, REPORT_HEADING};
pub use stage::{run_stage, Outcome};
