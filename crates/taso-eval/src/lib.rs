//! Stage 5 of TASO: evaluation.
//!
//! Loads the base model with a trained adapter file (attached, or merged into the base
//! weights), predicts a split and computes the task's GLUE metrics; writes
//! `predictions.tsv`, the `eval` entry of `metrics.json` and a `report.md` section, and can
//! export the adapter with its head in PEFT format. See `../shared/docs/method.md`, stage 5.
//! Loading and scoring are the trainer's ([`taso_train::TrainedModel`],
//! [`taso_train::evaluate`]), so training and evaluation score models the same way.
//!
//! ```no_run
//! use taso_artifact::run::{ResolvedConfig, StageArgs};
//! use taso_eval::{evaluate_run, EvalConfig};
//! use taso_train::RunContext;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let args = StageArgs { config: "configs/rte.toml".into(), overrides: vec![] };
//! let config = ResolvedConfig::load(&args)?;
//! let ctx = RunContext::new(config.run()?)?;
//! let eval: EvalConfig = config.section("eval")?;
//! let (report, _model) = evaluate_run(&ctx, &eval, None)?;
//! println!("{}", report.summary());
//! # Ok(()) }
//! ```

mod config;
mod error;
mod peft;
mod predictions;
mod run;

pub use config::{AdapterChoice, EvalConfig};
pub use error::EvalError;
pub use peft::export_peft;
pub use predictions::{predictions_tsv, write_predictions};
pub use run::{evaluate_run, EvalReport, METRICS_KEY, REPORT_HEADING};
