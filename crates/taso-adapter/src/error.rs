//! The error type of this crate: every message says what is wrong and what to do.

use std::path::PathBuf;
use taso_artifact::ArtifactError;

/// Everything that can go wrong while building, attaching, reading or writing adapters.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// An artifact could not be read, accepted or written.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// A value of the `[lora]` config section is invalid.
    #[error("config [lora]: {0}")]
    InvalidConfig(String),
    /// The regions are not usable (rank 0, no matrix, indices out of range or unsorted).
    #[error("bad regions: {0}; re-run `taso-regions`")]
    BadRegions(String),
    /// An adapter file disagrees with itself (factors that do not fit their region or rank,
    /// indices out of range, a matrix its metadata does not list) or holds non-finite values.
    #[error("{} is damaged or inconsistent: {reason}; re-run `{}` to write it again", .path.display(), .kind.producer_binary())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// Its kind (`adapter-init` or `adapter`), which names the stage that writes it.
        kind: taso_artifact::ArtifactKind,
        /// What is wrong, naming the tensor.
        reason: String,
    },
    /// A tensor holds NaN or infinite values.
    #[error("`{0}` holds NaN or infinite values")]
    NonFinite(String),
    /// A region names a matrix the model does not have.
    #[error(
        "the model has no linear layer `{0}`; the regions were made for another model or target \
         set: re-run `taso-regions` with this model and targets"
    )]
    UnknownMatrix(String),
    /// A matrix of the model has another shape than its region says.
    #[error(
        "`{name}` is {found_out}×{found_in} in the model but the adapter was made for \
         {d_out}×{d_in}; the regions were made for another model: re-run `taso-regions` with \
         this model"
    )]
    ShapeMismatch {
        /// The matrix.
        name: String,
        /// Rows the region expects.
        d_out: usize,
        /// Columns the region expects.
        d_in: usize,
        /// Rows in the model.
        found_out: i64,
        /// Columns in the model.
        found_in: i64,
    },
    /// A LoRA factor does not fit its region and rank.
    #[error(
        "{factor} of `{name}` is {found}, expected {expected}; the factors do not belong to these \
         regions: re-run `taso-lora`"
    )]
    BadFactor {
        /// The matrix.
        name: String,
        /// `lora_A` or `lora_B`.
        factor: &'static str,
        /// What it should be (kind and shape).
        expected: String,
        /// What it is.
        found: String,
    },
    /// A merge or un-merge was asked for while an adapter is attached to the layer.
    #[error(
        "`{0}` has an adapter attached; detach the adapters before merging or un-merging, or the \
         update would count twice"
    )]
    AttachedWhileMerging(String),
    /// A PEFT folder cannot be imported: a file is missing or malformed, or it holds what a
    /// taso adapter cannot represent (DoRA, embedding LoRA, per-matrix ranks).
    #[error("{}: {reason}", .path.display())]
    BadPeft {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A file of a PEFT export could not be written.
    #[error("cannot write {}: {source}; {}", .path.display(), taso_artifact::io_advice(.source))]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// libtorch reported an error.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}
