//! The error types of the run layer: every message says what is wrong and what to do.

use std::path::PathBuf;

/// Everything that can go wrong while loading a run's task and model, reading a trained
/// adapter back, evaluating, or writing the run's records.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An artifact is missing, damaged or of the wrong kind, model or parent.
    #[error(transparent)]
    Artifact(#[from] taso_artifact::ArtifactError),
    /// Task data could not be read, tokenized or scored.
    #[error(transparent)]
    Data(#[from] taso_data::DataError),
    /// The model could not be loaded or run.
    #[error(transparent)]
    Model(#[from] taso_models::ModelError),
    /// The adapter could not be loaded, attached or merged.
    #[error(transparent)]
    Adapter(#[from] taso_adapter::AdapterError),
    /// libtorch reported an error.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// A data-parallel run could not join its process group, or a collective failed.
    #[error("data-parallel run: {0}")]
    Distributed(#[from] taso_dist::DistError),
    /// An artifact holds something this stage cannot use.
    #[error("{}: {reason}", .path.display())]
    BadArtifact {
        /// The artifact.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A file or folder could not be read or written.
    #[error("cannot access {}: {source}; {}", .path.display(), taso_artifact::io_advice(.source))]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An export was asked for a file without a LoRA adapter.
    #[error(
        "{} was trained with method `{method}`, which has no LoRA adapter to export in PEFT \
         format; export a taso, lora or random-regions run",
        .path.display()
    )]
    NoAdapter {
        /// The adapter file.
        path: PathBuf,
        /// Its method.
        method: crate::settings::Method,
    },
    /// An output folder exists and holds files.
    #[error("{} exists and is not empty; choose another folder or pass --force to replace it", .0.display())]
    OutputExists(PathBuf),
    /// `metrics.json` is not what taso writes.
    #[error("{} is not a metrics file of taso ({reason}); move it away and re-run `taso-train`", .path.display())]
    BadMetrics {
        /// The file.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
}

impl RunError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// What can go wrong while reading a stage config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("cannot read the config {}: {source}; pass an existing file with --config (see configs/)", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The config file is not valid TOML.
    #[error("the config {} is not valid TOML: {message}", .path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// An override is not `section.key=value`.
    #[error("bad override `{0}`: expected --set section.key=value, e.g. --set train.lr=5e-4")]
    BadOverride(String),
    /// A section does not fit its struct (unknown key, wrong type), or is not a known section.
    #[error("config [{section}]: {message}{location}")]
    Section {
        /// The section.
        section: String,
        /// What is wrong, naming the key.
        message: String,
        /// Where the value came from: ` (FILE:LINE)`, ` (--set ...)` or empty.
        location: String,
    },
    /// A value is out of range or inconsistent.
    #[error("config [{section}]: {message}")]
    Invalid {
        /// The section.
        section: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The resolved config cannot be written.
    #[error("cannot write {}: {source}; {}", .path.display(), taso_artifact::io_advice(.source))]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
