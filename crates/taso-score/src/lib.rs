//! Stage 1 of TASO: importance scoring.
//!
//! The importance of a weight is `|W ⊙ ∂L/∂W|`, accumulated over calibration batches as
//! `S = Σ_b |W ⊙ ∂L_b/∂W|` (or `|W ⊙ Σ_b ∂L_b/∂W|`, or either without `W`; see
//! `docs/method.md`, stage 1). The crate has two layers:
//!
//! - **The scorer, for any tch model** ([`Scorer`]): hand it named weight tensors (or a
//!   `tch::nn::VarStore`), run your own forward, loss and `backward()`, call
//!   [`Scorer::accumulate`] after each, and [`Scorer::finish`] gives each matrix's scores and
//!   row/column marginals. It leaves your weights as it found them (`requires_grad`, gradients).
//!   With `default-features = false` the crate is only this, on tch and `taso-artifact`: no
//!   tokenizers, minijinja or clap. Scores of disjoint shards add up ([`merge`]).
//! - **The stage on a taso run** (feature `stage`, on by default through `cli`): [`score_task`]
//!   scores a run's task on its base model, [`run_stage`] writes the run folder's `importance`
//!   artifact ([`taso_artifact::Importance`], format in `docs/artifacts.md`), [`merge_files`]
//!   merges artifact files; the `taso-score` binary is a thin shell around the two. [`inputs`]
//!   measures how loud each input feature of the targets runs on the same calibration batches
//!   ([`run_inputs`], `taso-score inputs`): loud features are what importance favours.
//!
//! The artifact's types live in the foundation crate `taso-artifact`, so later stages read
//! scores without depending on this crate.
//!
//! Linking: a crate or binary of yours that uses tch must find libtorch at run time. Either set
//! `LD_LIBRARY_PATH` to libtorch's `lib/` folder, or bake the path in with a build script, as the
//! example `examples/score-mlp/build.rs` of this repository does:
//! `println!("cargo:rustc-link-arg=-Wl,-rpath,{libtorch}/lib")` with `LIBTORCH` from the
//! environment.

#[cfg(feature = "stage")]
mod calibrate;
#[cfg(feature = "stage")]
mod calibration_set;
mod error;
#[cfg(feature = "stage")]
pub mod inputs;
mod merge;
mod scorer;
#[cfg(feature = "stage")]
mod stage;

#[cfg(feature = "stage")]
pub use calibrate::{score_task, Scored};
pub use error::ScoreError;
pub use merge::merge;
pub use scorer::Scorer;
#[cfg(feature = "stage")]
pub use stage::{merge_files, run_inputs, run_stage, Outcome};
/// The `[score]` settings and their choices (types of `taso-artifact`, which records them).
pub use taso_artifact::scoring::{
    Estimator, InputNorm, ScoreConfig, ScoreDtype, ScoreLoss, Shard, Signal, Store,
};
/// What [`Scorer::finish`] returns per matrix (a type of `taso-artifact`).
pub use taso_artifact::MatrixScores;
