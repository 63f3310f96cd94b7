//! Stage 4 of TASO: the trainer.
//!
//! Trains a sparse (or dense) LoRA adapter and the task head — or a baseline (BitFit, full
//! fine-tuning, head only) — with AdamW, linear warm-up and decay, gradient clipping and the
//! sparsity-aware learning-rate scaling `lr_adapter = lr · (P_dense(r) / P_sparse)^γ`,
//! evaluating on the dev split every epoch and keeping the last and the best adapter.
//! See `../shared/docs/method.md`, stage 4, and `docs/artifacts.md` for the files.
//!
//! The pieces, in the order a run uses them:
//! - [`TrainConfig`] (`[train]`) and [`StageConfig`] (what outputs record and resumes check);
//! - [`RunContext`]: the run's task, tokenizer, device and base model (also used by
//!   `taso-eval`);
//! - [`Trainable`]: which tensors a [`Method`](taso_artifact::run::Method) trains, by group;
//! - [`AdamW`], [`clip_grad_norm`], [`Schedule`], [`Budget`]: the optimisation;
//! - [`Trainer`] (or [`train`]): the loop, writing adapter files ([`write_adapter_file`]),
//!   checkpoints (`checkpoints/step-N.safetensors`, see [`list_checkpoints`]) and
//!   `metrics.json` ([`TrainMetrics`]);
//! - [`TrainedModel`] and [`evaluate`]: loading an adapter file back and scoring it (what
//!   `taso-eval` does);
//! - [`run_stage`]: all of the above for a resolved config, as the `taso-train` binary runs it.
//!
//! Runs are reproducible: the same config gives the same weights, and a run resumed from a
//! checkpoint reaches the same weights as an uninterrupted one (see [`Trainer`] for the one
//! caveat: one training per process at a time).
//!
//! ```no_run
//! use taso_artifact::run::{ResolvedConfig, StageArgs};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let args = StageArgs { config: "configs/rte.toml".into(), overrides: vec![] };
//! let config = ResolvedConfig::load(&args)?;
//! let outcome = taso_train::run_stage(&config)?;
//! println!("{}", outcome.summary());
//! # Ok(()) }
//! ```

mod adapter_file;
mod budget;
mod checkpoint;
mod config;
mod error;
mod evaluate;
mod optimizer;
mod params;
mod progress_log;
mod records;
mod schedule;
mod stage;
mod trainer;

pub use adapter_file::{write_adapter_file, TrainedModel, EPOCH, METHOD, METRIC, STEP};
pub use budget::Budget;
pub use checkpoint::{checkpoint_path, list_checkpoints};
pub use config::{StageConfig, TrainConfig, NEUTRAL_SETTINGS};
pub use error::TrainError;
pub use evaluate::{evaluate, Evaluation, TaskPredictions};
pub use optimizer::{clip_grad_norm, zero_grads, AdamW, Moments, BETA1, BETA2, EPS};
pub use params::{Group, Param, Trainable, BASE_PREFIX, HEAD_PREFIX};
pub use progress_log::format_duration;
pub use records::{
    format_scores, set_metrics_entry, write_report_section, EpochRecord, LearningRates,
    ParamCounts, Progress, Scores, TrainMetrics,
};
pub use schedule::Schedule;
pub use stage::{run_stage, Outcome};
pub use taso_models::RunContext;
pub use trainer::{train, Trainer, REPORT_HEADING};
