//! The error type of stage 3: every message says what is wrong and what to do.

use taso_adapter::AdapterError;
use taso_artifact::ArtifactError;
use taso_run::ConfigError;

/// Everything that can stop the construction of a run's initial adapters.
#[derive(Debug, thiserror::Error)]
pub enum LoraError {
    /// The run's config cannot be read, validated or written.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The regions could not be read, or the adapter artifact not written.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The adapters cannot be built from these regions.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}
