//! Stage 1 of TASO: importance scoring.
//!
//! Runs calibration batches of a task's training split through the frozen base model and
//! accumulates `S = Σ_b |W ⊙ ∂L_b/∂W|` (or `|W ⊙ Σ_b ∂L_b/∂W|`, or either without `W`) for every
//! target linear layer ([`Scorer`], usable on any [`taso_models::LinearHost`]), writing an
//! `importance` artifact ([`taso_artifact::Importance`], format in `docs/artifacts.md`). Scores of disjoint
//! shards add up ([`merge`]). [`run_stage`] is the whole stage on a run folder and
//! [`merge_files`] the merge of artifact files; the `taso-score` binary is a thin shell around
//! the two.
//! See `docs/method.md`, stage 1.
//!
//! The artifact's types ([`taso_artifact::Importance`]) live in the foundation crate
//! `taso-artifact`, so later stages read scores without depending on this crate.

mod calibrate;
mod config;
mod error;
mod merge;
mod scorer;
mod stage;

pub use calibrate::score_task;
pub use config::{Estimator, ScoreConfig, ScoreDtype, Shard, Signal, Store};
pub use error::ScoreError;
pub use merge::merge;
pub use scorer::Scorer;
pub use stage::{merge_files, run_stage, Outcome};
