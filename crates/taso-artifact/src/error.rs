//! The one error type of this crate. Every message names the file, says what is wrong and what
//! to run instead.

use std::path::{Path, PathBuf};

use safetensors::Dtype;

use crate::kind::ArtifactKind;

/// Why an artifact could not be written, read or accepted.
///
/// Fields named `needed` hold the kind the caller asked for, when it asked for one; it only
/// sharpens the hint ("re-run `taso-score`") in the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// An operating-system error while reading or writing `path`.
    #[error("I/O error on {}: {source}; {}", .path.display(), io_advice(.source))]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The file does not exist.
    #[error("no such file {}; {}", .path.display(), run_first(.needed))]
    MissingFile {
        /// The path that was asked for.
        path: PathBuf,
        /// The kind the caller expected there, if any.
        needed: Option<ArtifactKind>,
    },

    /// The bytes are not a safetensors file at all.
    #[error("{} is not a safetensors file ({reason}); {}", .path.display(), rerun(.needed))]
    NotSafetensors {
        /// The offending file.
        path: PathBuf,
        /// What did not parse.
        reason: String,
        /// The kind the caller expected there, if any.
        needed: Option<ArtifactKind>,
    },

    /// The file starts like a safetensors file but is shorter than its header declares.
    #[error("{} is truncated or not a safetensors file ({reason}); {}", .path.display(), rerun(.needed))]
    Truncated {
        /// The offending file.
        path: PathBuf,
        /// Which length did not match.
        reason: String,
        /// The kind the caller expected there, if any.
        needed: Option<ArtifactKind>,
    },

    /// A valid safetensors file without `taso.kind` in its `__metadata__`.
    #[error(
        "{} is a plain safetensors file, not a taso artifact (its metadata has no `taso.kind`); {}",
        .path.display(),
        pass_artifact(.needed)
    )]
    NotAnArtifact {
        /// The offending file.
        path: PathBuf,
        /// The kind the caller expected there, if any.
        needed: Option<ArtifactKind>,
    },

    /// The artifact is of another kind than the one needed.
    #[error(
        "{} is {} artifact but {} artifact is needed here; pass the file written by `{}`",
        .path.display(),
        quoted_with_article(*.found),
        quoted_with_article(*.expected),
        .expected.producer_binary()
    )]
    WrongKind {
        /// The offending file.
        path: PathBuf,
        /// The kind needed.
        expected: ArtifactKind,
        /// The kind recorded in the file.
        found: ArtifactKind,
    },

    /// A `taso.kind` (or a kind given by a user) that this version does not know.
    #[error(
        "unknown artifact kind '{found}'{}; known kinds: {}; a newer taso may have written it",
        in_file(.path),
        ArtifactKind::known_names()
    )]
    UnknownKind {
        /// The file that recorded it, when it came from a file.
        path: Option<PathBuf>,
        /// The unknown name.
        found: String,
    },

    /// The artifact was written with another schema version.
    #[error("{}", schema_message(.path, .kind, *.found, *.supported))]
    SchemaMismatch {
        /// The offending file.
        path: PathBuf,
        /// The kind name recorded in the file (not necessarily known to this version).
        kind: String,
        /// The schema version recorded in the file.
        found: u32,
        /// The schema version this build reads ([`crate::SCHEMA_VERSION`]).
        supported: u32,
    },

    /// The artifact was made for another base model.
    #[error(
        "{} was made for another base model (model fingerprint {found}, expected {expected}); \
         re-run `{}` with --model pointing at this model, or pass the artifact made for it",
        .path.display(),
        .kind.producer_binary()
    )]
    ModelMismatch {
        /// The offending file.
        path: PathBuf,
        /// Its kind.
        kind: ArtifactKind,
        /// The fingerprint of the model in use.
        expected: String,
        /// The fingerprint recorded in the file.
        found: String,
    },

    /// The artifact was made from another parent artifact than the one given.
    #[error(
        "{} was made from a different input artifact than the one given (it records parent {}, \
         the given one is {expected}); re-run `{}` on the given input, or pass the '{kind}' \
         artifact made from it",
        .path.display(),
        .found.as_deref().unwrap_or("none"),
        .kind.producer_binary()
    )]
    ParentMismatch {
        /// The offending file.
        path: PathBuf,
        /// Its kind.
        kind: ArtifactKind,
        /// The digest of the parent artifact given.
        expected: String,
        /// The parent digest recorded in the file.
        found: Option<String>,
    },

    /// The artifact was made for another task.
    #[error(
        "{} was made for task '{found}', but this run's task is '{expected}'; re-run `{}` for \
         '{expected}' (or set run.task = \"{found}\" to use it)",
        .path.display(),
        .kind.producer_binary()
    )]
    TaskMismatch {
        /// The offending file.
        path: PathBuf,
        /// Its kind.
        kind: ArtifactKind,
        /// The task in use.
        expected: String,
        /// The task recorded in the file.
        found: String,
    },

    /// The artifact was made from an earlier version of the file it depends on, which has been
    /// re-made since.
    #[error(
        "{} is stale: it was made from an earlier {} ({}…), which has been re-made since \
         (now {}…); {}",
        .path.display(),
        .parent.display(),
        short_digest(.recorded),
        short_digest(.now),
        remake_from_current(*.kind)
    )]
    StaleParent {
        /// The offending file.
        path: PathBuf,
        /// Its kind.
        kind: ArtifactKind,
        /// The file it was made from.
        parent: PathBuf,
        /// The parent digest recorded in the artifact.
        recorded: Box<str>,
        /// The digest of the parent file now.
        now: Box<str>,
    },

    /// A tensor asked for is not in the file.
    #[error(
        "{} has no tensor named '{tensor}' (list its tensors with `taso-inspect {}`); {}",
        .path.display(),
        .path.display(),
        rerun(.needed)
    )]
    MissingTensor {
        /// The file searched.
        path: PathBuf,
        /// The missing name.
        tensor: String,
        /// The kind of the file, if it is an artifact.
        needed: Option<ArtifactKind>,
    },

    /// A tensor holds another element type than the one asked for.
    #[error(
        "{what} holds {found} values but {expected} values were asked for; read it as {found}"
    )]
    DtypeMismatch {
        /// Which tensor: "tensor" or "tensor 'name' in FILE".
        what: String,
        /// The element type asked for.
        expected: Dtype,
        /// The element type stored.
        found: Dtype,
    },

    /// A tensor to be written or converted is inconsistent (shape vs data length, bad name,
    /// unsupported element type).
    #[error("invalid tensor: {reason}")]
    InvalidTensor {
        /// What is inconsistent.
        reason: String,
    },

    /// The artifact disagrees with itself: its tensors against its metadata (counts, shapes,
    /// index ranges) or values that cannot be (NaN).
    #[error("{} is damaged or inconsistent: {reason}; re-run `{}` to write it again", .path.display(), .kind.producer_binary())]
    Inconsistent {
        /// The offending file.
        path: PathBuf,
        /// Its kind.
        kind: ArtifactKind,
        /// What disagrees, naming the tensor or metadata entry.
        reason: String,
    },

    /// A `taso.*` metadata entry is missing or does not parse.
    #[error("{} has bad taso metadata: `{key}` {reason}; re-write it with the taso stage that made it", .path.display())]
    BadMetadata {
        /// The offending file.
        path: PathBuf,
        /// The metadata key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A stage config that cannot be turned into JSON (e.g. a map with non-string keys).
    #[error("the stage config cannot be stored as JSON: {source}")]
    ConfigNotJson {
        /// The serde error.
        source: serde_json::Error,
    },

    /// A folder that is not a model folder (for [`crate::model_fingerprint`]).
    #[error(
        "{} is not a model folder ({reason}); pass a Hugging Face model folder with config.json \
         and *.safetensors weights",
        .path.display()
    )]
    NotAModel {
        /// The folder given.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },

    /// An error from libtorch while converting a tensor.
    #[cfg(feature = "tch")]
    #[error("libtorch tensor conversion failed: {0}")]
    Tch(#[from] tch::TchError),
}

impl ArtifactError {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ArtifactError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What to do about an I/O error, by its kind: a full disk, a permission, a read-only file
/// system and a missing folder each get their own advice.
pub fn io_advice(error: &std::io::Error) -> &'static str {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            "the disk is full: free some space (or set run.runs_dir on another disk) and re-run"
        }
        ErrorKind::PermissionDenied => {
            "permission denied: make it readable and writable for this user, or choose another \
             folder (run.runs_dir)"
        }
        ErrorKind::ReadOnlyFilesystem => {
            "the file system is read-only: choose a writable folder (run.runs_dir)"
        }
        ErrorKind::NotFound => "a folder on the way does not exist: check the path",
        _ => "check the path and its permissions",
    }
}

/// How to re-make a stale artifact of `kind` from the current version of its parent.
fn remake_from_current(kind: ArtifactKind) -> String {
    match kind {
        ArtifactKind::Checkpoint => {
            "train again without --resume: the checkpoint cannot continue from the new file"
                .to_string()
        }
        _ => format!(
            "re-run `{}` with the same config to make it from the current one",
            kind.producer_binary()
        ),
    }
}

/// `sha256:0123abcd` of a `sha256:<64 hex>` digest.
fn short_digest(digest: &str) -> &str {
    &digest[..digest.len().min(15)]
}

fn run_first(needed: &Option<ArtifactKind>) -> String {
    match needed {
        Some(kind) => format!("run `{}` first to create it", kind.producer_binary()),
        None => "check the path".to_string(),
    }
}

fn rerun(needed: &Option<ArtifactKind>) -> String {
    match needed {
        Some(kind) => format!("re-run `{}` to write it again", kind.producer_binary()),
        None => "write it again with the program that made it".to_string(),
    }
}

fn pass_artifact(needed: &Option<ArtifactKind>) -> String {
    match needed {
        Some(kind) => format!(
            "pass the '{kind}' artifact written by `{}`",
            kind.producer_binary()
        ),
        None => "pass a file written by a taso stage".to_string(),
    }
}

/// `an 'importance'`, `a 'regions'`.
fn quoted_with_article(kind: ArtifactKind) -> String {
    let name = kind.as_str();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} '{name}'")
}

fn in_file(path: &Option<PathBuf>) -> String {
    match path {
        Some(path) => format!(" in {}", path.display()),
        None => String::new(),
    }
}

fn schema_message(path: &Path, kind: &str, found: u32, supported: u32) -> String {
    let path = path.display();
    if found < supported {
        let producer = kind
            .parse::<ArtifactKind>()
            .map_or("the stage that made it", ArtifactKind::producer_binary);
        format!(
            "{path} was made by an older taso (schema {found}; this build reads schema {supported}); \
             re-run `{producer}` with this version"
        )
    } else {
        format!(
            "{path} was made by a newer taso (schema {found}; this build reads schema {supported}); \
             upgrade taso to read it"
        )
    }
}
