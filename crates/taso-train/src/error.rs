//! The error type of the trainer.

use std::path::PathBuf;

/// Everything that can stop training or evaluation. Messages say what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] taso_run::ConfigError),
    /// The run's task or model could not be loaded, or an evaluation failed.
    #[error(transparent)]
    Run(#[from] taso_run::RunError),
    /// An input artifact is missing, damaged or of the wrong kind, model or parent, or an output
    /// could not be written.
    #[error(transparent)]
    Artifact(#[from] taso_artifact::ArtifactError),
    /// Task data could not be read, tokenized or scored.
    #[error(transparent)]
    Data(#[from] taso_data::DataError),
    /// The method selects no tensor of this model (e.g. bitfit on a decoder without biases).
    #[error("method `{method}` trains nothing on this model (bitfit needs bias parameters, which LLaMA and Mistral do not have); choose another method")]
    NothingToTrain {
        /// The method's config spelling.
        method: String,
    },
    /// The model could not be loaded or run.
    #[error(transparent)]
    Model(#[from] taso_models::ModelError),
    /// The adapter could not be loaded, attached, merged or exported.
    #[error(transparent)]
    Adapter(#[from] taso_adapter::AdapterError),
    /// The run's curves could not be drawn.
    #[error(transparent)]
    Plot(#[from] taso_plot::PlotError),
    /// libtorch reported an error.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// The loss or the gradients stopped being finite numbers.
    #[error(
        "the {what} is {value} at step {step} (lr {lr:.3e}): training diverged; lower \
         `train.lr` (e.g. --set train.lr={suggested:.0e}) or `train.head_lr`; no adapter was \
         written for this step"
    )]
    NonFinite {
        /// `loss` or `gradient norm`.
        what: &'static str,
        /// The offending value.
        value: f64,
        /// 1-based optimizer step.
        step: usize,
        /// The base learning rate at that step.
        lr: f64,
        /// A tenth of the configured `train.lr`.
        suggested: f64,
    },
    /// A data-parallel step cannot go on (the ranks disagree on what they train).
    #[error("data-parallel training: {0}")]
    Distributed(String),
    /// A checkpoint cannot be resumed with the current settings.
    #[error("cannot resume from {}: {reason}", .path.display())]
    Resume {
        /// The checkpoint.
        path: PathBuf,
        /// What does not match and what to do.
        reason: String,
    },
}

impl TrainError {
    /// An I/O error on `path` (the run layer's, which names the path and the cause).
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Run(taso_run::RunError::io(path, source))
    }
}
