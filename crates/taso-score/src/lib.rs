//! Stage 1 of TASO: importance scoring.
//!
//! Runs calibration batches of a task's training split through the frozen base model and
//! accumulates `S = Σ_b |W ⊙ ∂L_b/∂W|` (or `|W ⊙ Σ_b ∂L_b/∂W|`, or either without `W`) for every
//! target linear layer ([`Scorer`], usable on any [`taso_models::LinearHost`]), writing an
//! `importance` artifact ([`Importance`], format in `docs/artifacts.md`). Scores of disjoint
//! shards add up ([`merge`]). [`run_stage`] is the whole stage on a run folder and
//! [`merge_files`] the merge of artifact files; the `taso-score` binary is a thin shell around
//! the two.
//! See `../shared/docs/method.md`, stage 1.
//!
//! Without its default feature `scorer` the crate is only the artifact format ([`Importance`]),
//! so later stages can read scores without libtorch.

#[cfg(feature = "scorer")]
mod calibrate;
mod config;
#[cfg(feature = "scorer")]
mod error;
mod format;
#[cfg(feature = "scorer")]
mod merge;
#[cfg(feature = "scorer")]
mod scorer;
#[cfg(feature = "scorer")]
mod stage;

#[cfg(feature = "scorer")]
pub use calibrate::score_task;
pub use config::{Estimator, ScoreConfig, ScoreDtype, Shard, Signal, Store};
#[cfg(feature = "scorer")]
pub use error::ScoreError;
pub use format::{Importance, MatrixScores, Target};
#[cfg(feature = "scorer")]
pub use merge::merge;
#[cfg(feature = "scorer")]
pub use scorer::Scorer;
#[cfg(feature = "scorer")]
pub use stage::{merge_files, run_stage, Outcome};
