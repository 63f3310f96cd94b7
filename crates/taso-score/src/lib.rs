//! Stage 1 of TASO: importance scoring.
//!
//! Runs calibration batches of a task's training split through the frozen base model and
//! accumulates `S = Σ_b |W ⊙ ∂L_b/∂W|` (or `|W ⊙ Σ_b ∂L_b/∂W|`) for every target linear layer,
//! writing an `importance` artifact ([`Importance`], format in `docs/artifacts.md`).
//! See `../shared/docs/method.md`, stage 1.

mod format;

pub use format::{Importance, MatrixScores, Target};
