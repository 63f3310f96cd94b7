//! Stage 4 of TASO: the trainer.
//!
//! Trains a sparse (or dense) LoRA adapter and the task head — or a baseline (BitFit, full
//! fine-tuning, head only) — with AdamW, linear warm-up and decay, gradient clipping and the
//! sparsity-aware learning-rate scaling `lr_adapter = lr · (P_dense(r) / P_sparse)^γ`,
//! evaluating on the dev split every epoch and keeping the last and the best adapter.
//! See `docs/method.md`, stage 4, and `docs/artifacts.md` for the files.
//!
//! The pieces, in the order a run uses them:
//! - [`TrainConfig`] (`[train]`) and [`StageConfig`] (what outputs record and resumes check);
//! - [`taso_run::RunContext`]: the run's task, tokenizer, device and base model;
//! - [`Trainable`]: which tensors a [`Method`](taso_run::Method) trains, by group;
//! - [`AdamW`], [`clip_grad_norm`], [`Schedule`], [`Budget`]: the optimisation;
//! - [`Trainer`] (or [`train`]): the loop, writing adapter files
//!   ([`taso_run::write_trained`]),
//!   checkpoints (`checkpoints/step-N.safetensors`, see [`list_checkpoints`]) and
//!   `metrics.json` ([`TrainMetrics`]);
//! - [`taso_run::evaluate`]: each epoch's dev (and hold-out) scores, the same evaluation
//!   `taso-eval` runs;
//! - [`write_batch_plan`]: the run's batches in a file, for a peer trainer to step through;
//! - [`run_stage`]: all of the above for a resolved config, as the `taso-train` binary runs it.
//!
//! Runs are reproducible: the same config gives the same weights, and a run resumed from a
//! checkpoint reaches the same weights as an uninterrupted one (see [`Trainer`] for the one
//! caveat: one training per process at a time).
//!
//! ```no_run
//! use taso_run::ResolvedConfig;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ResolvedConfig::load("configs/rte.toml".as_ref(), &[])?;
//! let outcome = taso_train::run_stage(&config)?;
//! println!("{}", outcome.summary());
//! # Ok(()) }
//! ```

mod batch_plan;
mod budget;
mod checkpoint;
mod config;
mod curves;
mod error;
mod optimizer;
mod params;
mod progress_log;
mod records;
mod schedule;
mod stage;
#[cfg(feature = "testing")]
pub mod testing;
mod trainer;

pub use batch_plan::{write_batch_plan, BatchPlanSummary};
pub use budget::Budget;
pub use checkpoint::{checkpoint_path, list_checkpoints};
pub use config::{StageConfig, TrainConfig, NEUTRAL_SETTINGS};
pub use curves::{epoch_curves, step_loss_curve};
pub use error::TrainError;
pub use optimizer::{clip_grad_norm, zero_grads, AdamW, Moments, BETA1, BETA2, EPS};
pub use params::{Group, Param, Trainable};
pub use progress_log::format_duration;
pub use records::{EpochRecord, LearningRates, ParamCounts, Progress, StepLoss, TrainMetrics};
pub use schedule::Schedule;
pub use stage::{run_stage, Outcome};
pub use trainer::{train, Trainer, REPORT_HEADING};
