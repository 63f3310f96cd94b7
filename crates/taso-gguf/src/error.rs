//! The one error type of this crate. Every message says what is wrong and, where there is
//! one, what to do about it.

use std::path::PathBuf;

/// Why a GGUF file could not be read, imported or exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    /// An operating-system error while reading or writing `path`.
    #[error("I/O error on {}: {source}; {}", .path.display(), taso_artifact::io_advice(.source))]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The file does not start with the bytes `GGUF`.
    #[error("{} is not a GGUF file (it starts with \"{}\", not \"GGUF\")", .path.display(), .found.escape_ascii())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// Its first four bytes.
        found: [u8; 4],
    },

    /// A GGUF version other than 2 or 3 (or a big-endian file, whose version reads byte-swapped).
    #[error("{} is GGUF version {version}; only little-endian versions 2 and 3 are supported (re-convert it with a current llama.cpp)", .path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version field as read little-endian.
        version: u32,
    },

    /// The file ends before something its header promises.
    #[error("{} is truncated: it ends inside {what}; download or convert it again", .path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The part that is cut off.
        what: String,
    },

    /// The bytes are GGUF but inconsistent (bad value type, misaligned offset, ...).
    #[error("{} is not a valid GGUF file: {reason}", .path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is inconsistent.
        reason: String,
    },

    /// A tensor is stored in a ggml type this importer cannot dequantise.
    #[error("tensor '{tensor}' is stored as {type_name}, which is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K); re-quantise the model to one of those")]
    UnsupportedTensorType {
        /// The tensor's GGUF name.
        tensor: String,
        /// The ggml type's name (or its numeric id when unknown).
        type_name: String,
    },

    /// `general.architecture` names an architecture this importer does not map.
    #[error("architecture '{architecture}' is not supported (supported: llama, qwen2)")]
    UnsupportedArchitecture {
        /// The value of `general.architecture`.
        architecture: String,
    },

    /// `tokenizer.ggml.model` names a tokenizer other than byte-level BPE.
    #[error("tokenizer model '{model}' is not supported; only byte-level BPE ('gpt2') vocabularies can be imported")]
    UnsupportedTokenizer {
        /// The value of `tokenizer.ggml.model`.
        model: String,
    },

    /// A metadata key the import needs is absent.
    #[error("the GGUF metadata has no '{key}', which the import needs")]
    MissingKey {
        /// The key.
        key: String,
    },

    /// A metadata key holds a value of the wrong type.
    #[error("the GGUF metadata key '{key}' should be {expected}, but it is {found}")]
    WrongKeyType {
        /// The key.
        key: String,
        /// What was expected.
        expected: &'static str,
        /// What the file holds.
        found: String,
    },

    /// A tensor the model needs is absent.
    #[error("the GGUF file has no tensor '{name}', which the model needs")]
    MissingTensor {
        /// The GGUF tensor name.
        name: String,
    },

    /// A tensor's name has no Hugging Face counterpart for this architecture.
    #[error("tensor '{name}' has no Hugging Face name for architecture '{architecture}'")]
    UnmappedTensor {
        /// The GGUF tensor name.
        name: String,
        /// The architecture.
        architecture: String,
    },

    /// A tensor's shape does not fit its type or the model's hyperparameters.
    #[error("tensor '{tensor}' has a bad shape: {reason}")]
    BadShape {
        /// The GGUF tensor name.
        tensor: String,
        /// What does not fit.
        reason: String,
    },

    /// The vocabulary cannot be turned into a tokenizer.
    #[error("cannot build the tokenizer from the GGUF vocabulary: {reason}")]
    Tokenizer {
        /// What went wrong.
        reason: String,
    },

    /// The output folder exists and is not empty.
    #[error("{} already exists and is not empty; remove it or pass --force to replace it", .path.display())]
    OutputExists {
        /// The output folder.
        path: PathBuf,
    },

    /// The output file of an export exists.
    #[error("{} already exists; remove it or pass --force to replace it", .path.display())]
    OutputFileExists {
        /// The output file.
        path: PathBuf,
    },

    /// A file the export needs is absent from the model folder.
    #[error("{} does not exist; a model folder to export needs config.json, model.safetensors, tokenizer.json and tokenizer_config.json (as taso-import-gguf writes them)", .path.display())]
    MissingModelFile {
        /// The absent file.
        path: PathBuf,
    },

    /// A file of the model folder cannot be exported as it is.
    #[error("cannot export {}: {reason}", .path.display())]
    InvalidModelFile {
        /// The file.
        path: PathBuf,
        /// What is wrong and, where there is one, what to do.
        reason: String,
    },

    /// A tensor of the model has no llama.cpp name.
    #[error("cannot export {}: tensor '{name}' has no llama.cpp name for a llama/qwen2 model; export a plain LlamaForCausalLM or Qwen2ForCausalLM checkpoint (with any adapter merged)", .path.display())]
    UnknownTensor {
        /// The safetensors file.
        path: PathBuf,
        /// The Hugging Face tensor name.
        name: String,
    },
}

impl GgufError {
    /// An [`GgufError::Io`] on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        GgufError::Io {
            path: path.into(),
            source,
        }
    }
}
