//! Stage 1 of TASO: importance scoring.
//!
//! Runs calibration batches of a task's training split through the frozen base model and
//! accumulates `S = Σ_b |W ⊙ ∂L_b/∂W|` (or `|W ⊙ Σ_b ∂L_b/∂W|`) for every target linear layer
//! ([`Scorer`], usable on any [`taso_models::LinearHost`]), writing an `importance` artifact
//! ([`Importance`], format in `docs/artifacts.md`). Scores of disjoint shards add up ([`merge`]).
//! See `../shared/docs/method.md`, stage 1.

mod calibrate;
mod config;
mod error;
mod format;
mod merge;
mod scorer;

pub use calibrate::score_task;
pub use config::{Estimator, ScoreConfig, ScoreDtype, Shard, Store};
pub use error::ScoreError;
pub use format::{Importance, MatrixScores, Target};
pub use merge::merge;
pub use scorer::Scorer;
