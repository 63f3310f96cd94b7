//! The error type of the model crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file of the model folder could not be read.
    #[error("cannot read {}: {source}{}", path.display(), model_file_advice(path, source))]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `config.json` is missing or not valid for this architecture.
    #[error("bad model config {}: {reason}", path.display())]
    BadConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The model folder's weights cannot be found or its artifact cannot be read.
    #[error(transparent)]
    Artifact(#[from] taso_artifact::ArtifactError),
    /// A weight file is not a readable safetensors file.
    #[error("cannot load weights from {}: {reason}; the file is damaged or not safetensors: download the model again", path.display())]
    BadWeights {
        /// The weight file.
        path: PathBuf,
        /// The cause.
        reason: String,
    },
    /// The checkpoint lacks a tensor the architecture needs.
    #[error("the checkpoint in {} has no tensor `{name}`{}; is this a {arch} checkpoint?", dir.display(), prefix_note(prefix))]
    MissingTensor {
        /// The model folder.
        dir: PathBuf,
        /// The missing tensor, without prefix.
        name: String,
        /// The checkpoint prefix that was also tried.
        prefix: String,
        /// The architecture being loaded.
        arch: String,
    },
    /// A tensor has another shape than `config.json` implies.
    #[error("tensor `{name}` has shape {found:?} but config.json implies {expected:?}; config.json and the weights do not belong together")]
    ShapeMismatch {
        /// The tensor.
        name: String,
        /// The shape the config implies.
        expected: Vec<i64>,
        /// The shape in the file.
        found: Vec<i64>,
    },
    /// A device string could not be understood or the device is not usable.
    #[error("device `{spec}`: {reason}")]
    Device {
        /// What the user asked for.
        spec: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// No linear layer of that name exists in the model.
    #[error("the model has no linear layer `{0}`")]
    UnknownLinear(String),
    /// An input file for the model is malformed (line 0: the file as a whole).
    #[error("{}:{line}: {reason}", path.display())]
    Input {
        /// The input file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A sequence is longer than the model's sliding attention window, which taso does not
    /// implement (it runs sequences within the window, where sliding and full attention agree).
    #[error("a sequence of {length} tokens exceeds the sliding attention window of {window} tokens; shorten the input (e.g. a lower max_len) to at most {window} tokens")]
    SlidingWindowExceeded {
        /// Tokens in the sequence (cached ones included).
        length: i64,
        /// The model's `sliding_window`.
        window: i64,
    },
    /// A decoder input or generation request is malformed.
    #[error("bad decoder input: {0}")]
    DecoderInput(String),
    /// A batch does not fit the model or the stage.
    #[error("{0}")]
    Batch(String),
    /// The run pairs a model family with a task kind it cannot serve.
    #[error("task `{task}` is a {task_kind} task but {model} is {model_kind}; {advice}")]
    TaskModelMismatch {
        /// The task.
        task: String,
        /// "classification" or "prompt".
        task_kind: &'static str,
        /// The model folder.
        model: String,
        /// "an encoder" or "a decoder".
        model_kind: &'static str,
        /// Which models and tasks go together.
        advice: &'static str,
    },
    /// A split has no labels where training or scoring needs them.
    #[error("the {split} split of task `{task}` has unlabeled examples; train and evaluate on labeled splits")]
    Unlabeled {
        /// The task.
        task: String,
        /// The split.
        split: taso_data::Split,
    },
    /// Task data or tokenization failed.
    #[error(transparent)]
    Data(#[from] taso_data::DataError),
    /// libtorch reported an error.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// A pass would need more memory than the device has free.
    #[error("{what} would need about {estimate}, and {device} has {available_gib:.2} GiB free: lower `batch_size` or `run.max_len`, compute in bf16 (`run.dtype = \"bf16\"`), or free memory")]
    WillNotFit {
        /// The pass (`training`, `scoring`).
        what: String,
        /// The device.
        device: String,
        /// The estimate, by part.
        estimate: String,
        /// Free memory in GiB.
        available_gib: f64,
    },
}

/// How a missing tensor was looked up, for [`ModelError::MissingTensor`].
fn prefix_note(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!(" (looked for it with and without the `{prefix}.` prefix)")
    }
}

/// Result alias of this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// Advice for a model file that cannot be read: a missing `config.json` or tokenizer means the
/// folder is not a model folder.
fn model_file_advice(path: &std::path::Path, source: &std::io::Error) -> String {
    if source.kind() != std::io::ErrorKind::NotFound {
        return "; check that the file is readable".to_string();
    }
    let folder = path
        .parent()
        .map_or_else(String::new, |p| p.display().to_string());
    format!(
        "; {folder} is not a Hugging Face model folder (it needs config.json, tokenizer.json and \
         *.safetensors weights): point run.model at one, or run scripts/bootstrap.sh for the \
         default models"
    )
}
