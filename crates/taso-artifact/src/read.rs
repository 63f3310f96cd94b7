//! Opening safetensors files and taso artifacts.
//!
//! Files are not memory-mapped and not read whole: opening reads and checks the header only,
//! keeps the file handle, and each [`tensor`](SafetensorsFile::tensor) call reads that tensor's
//! bytes with a positional read. The open handle keeps reading the same file even if a stage
//! re-run atomically replaces it meanwhile, and a multi-GB score file costs no memory until a
//! tensor is asked for. Opening an [`Artifact`] also streams the file once to compute its digest.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use safetensors::tensor::TensorInfo;

use crate::digest::digest_of_open_file;
use crate::error::ArtifactError;
use crate::header::{SafetensorsHeader, Source};
use crate::kind::ArtifactKind;
use crate::meta::ArtifactMeta;
use crate::tensor::{Element, TensorData};

/// Reads and checks the header of any safetensors file (taso artifact or not).
pub fn read_safetensors_header(path: &Path) -> Result<SafetensorsHeader, ArtifactError> {
    SafetensorsFile::open(path).map(|file| file.header)
}

/// An open safetensors file whose header has been checked.
#[derive(Debug)]
pub struct SafetensorsFile {
    path: PathBuf,
    file: File,
    header: SafetensorsHeader,
    /// The kind the caller wants this file to be, for hints in error messages.
    needed: Option<ArtifactKind>,
}

impl SafetensorsFile {
    /// Opens `path` and checks its header: the header length, JSON and tensor offsets, and
    /// that the data region has exactly the declared length.
    pub fn open(path: &Path) -> Result<Self, ArtifactError> {
        Self::open_for(path, None)
    }

    fn open_for(path: &Path, needed: Option<ArtifactKind>) -> Result<Self, ArtifactError> {
        let file = File::open(path).map_err(|e| open_error(path, e, needed))?;
        let header = SafetensorsHeader::read(&file, Source { path, needed })?;
        Ok(SafetensorsFile {
            path: path.to_path_buf(),
            file,
            header,
            needed,
        })
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The parsed header.
    pub fn header(&self) -> &SafetensorsHeader {
        &self.header
    }

    /// The names of all tensors, sorted.
    pub fn tensor_names(&self) -> Vec<&str> {
        self.header.tensor_names()
    }

    /// The dtype, shape and offsets of one tensor, without reading it.
    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.header.tensors.get(name)
    }

    /// Reads one tensor; [`ArtifactError::MissingTensor`] if there is none of that name.
    pub fn tensor(&self, name: &str) -> Result<TensorData, ArtifactError> {
        let info = self
            .tensor_info(name)
            .ok_or_else(|| ArtifactError::MissingTensor {
                path: self.path.clone(),
                tensor: name.to_string(),
                needed: self.needed,
            })?;
        let (start, end) = info.data_offsets;
        let mut data = vec![0u8; end - start];
        self.file
            .read_exact_at(&mut data, self.header.data_start + start as u64)
            .map_err(|e| ArtifactError::io(&self.path, e))?;
        TensorData::new(info.dtype, info.shape.clone(), data)
    }

    /// The digest (`sha256:<hex>`) of the opened file's bytes, see [`crate::file_digest`].
    pub fn digest(&self) -> Result<String, ArtifactError> {
        digest_of_open_file(&self.file).map_err(|e| ArtifactError::io(&self.path, e))
    }
}

fn open_error(path: &Path, error: io::Error, needed: Option<ArtifactKind>) -> ArtifactError {
    if error.kind() == io::ErrorKind::NotFound {
        ArtifactError::MissingFile {
            path: path.to_path_buf(),
            needed,
        }
    } else {
        ArtifactError::io(path, error)
    }
}

/// What a stage requires of an input artifact: its kind and, when given, the base model, the
/// task, and the parent artifact it was made from — by digest, or as the file it was made from
/// is on disk now.
///
/// ```
/// # use taso_artifact::{ArtifactKind, Expect};
/// let expect = Expect::kind(ArtifactKind::Regions)
///     .model("sha256:ab12")
///     .task("rte")
///     .parent_file("runs/rte/default/importance.safetensors");
/// assert_eq!(expect.kind, ArtifactKind::Regions);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// The kind needed.
    pub kind: ArtifactKind,
    /// The fingerprint of the base model in use, if it must match.
    pub model_fingerprint: Option<String>,
    /// The digest of the parent artifact in use, if it must match.
    pub parent_digest: Option<String>,
    /// The task in use, if it must match.
    pub task: Option<String>,
    /// The file the artifact must have been made from, as that file is now; checked when the
    /// artifact records a parent and the file exists.
    pub parent_file: Option<PathBuf>,
}

impl Expect {
    /// Expects an artifact of `kind`, for any model and parent.
    pub fn kind(kind: ArtifactKind) -> Self {
        Expect {
            kind,
            model_fingerprint: None,
            parent_digest: None,
            task: None,
            parent_file: None,
        }
    }

    /// Also requires the artifact to be made for this task.
    pub fn task(mut self, task: impl Into<String>) -> Self {
        self.task = Some(task.into());
        self
    }

    /// Also requires the artifact, when it records a parent, to be made from the file at
    /// `path` as it is now (when that file exists): an upstream stage re-run since makes it
    /// stale ([`ArtifactError::StaleParent`]).
    pub fn parent_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.parent_file = Some(path.into());
        self
    }

    /// Also requires the artifact to be made for the model with this fingerprint.
    pub fn model(mut self, fingerprint: impl Into<String>) -> Self {
        self.model_fingerprint = Some(fingerprint.into());
        self
    }

    /// Also requires the artifact to be made from the artifact with this digest.
    pub fn parent(mut self, digest: impl Into<String>) -> Self {
        self.parent_digest = Some(digest.into());
        self
    }

    /// Checks kind, then model, task, parent file and parent digest.
    fn check(&self, meta: &ArtifactMeta, path: &Path) -> Result<(), ArtifactError> {
        if meta.kind != self.kind {
            return Err(ArtifactError::WrongKind {
                path: path.to_path_buf(),
                expected: self.kind,
                found: meta.kind,
            });
        }
        if let Some(expected) = &self.model_fingerprint {
            if *expected != meta.model_fingerprint {
                return Err(ArtifactError::ModelMismatch {
                    path: path.to_path_buf(),
                    kind: meta.kind,
                    expected: expected.clone(),
                    found: meta.model_fingerprint.clone(),
                });
            }
        }
        if let Some(expected) = &self.task {
            if *expected != meta.task {
                return Err(ArtifactError::TaskMismatch {
                    path: path.to_path_buf(),
                    kind: meta.kind,
                    expected: expected.clone(),
                    found: meta.task.clone(),
                });
            }
        }
        self.check_parent_file(meta, path)?;
        if let Some(expected) = &self.parent_digest {
            if meta.parent_digest.as_ref() != Some(expected) {
                return Err(ArtifactError::ParentMismatch {
                    path: path.to_path_buf(),
                    kind: meta.kind,
                    expected: expected.clone(),
                    found: meta.parent_digest.clone(),
                });
            }
        }
        Ok(())
    }

    fn check_parent_file(&self, meta: &ArtifactMeta, path: &Path) -> Result<(), ArtifactError> {
        let (Some(parent), Some(recorded)) = (&self.parent_file, &meta.parent_digest) else {
            return Ok(());
        };
        let now = match crate::file_digest(parent) {
            Ok(digest) => digest,
            Err(ArtifactError::MissingFile { .. }) => return Ok(()),
            Err(other) => return Err(other),
        };
        if now == *recorded {
            return Ok(());
        }
        Err(ArtifactError::StaleParent {
            path: path.to_path_buf(),
            kind: meta.kind,
            parent: parent.clone(),
            recorded: recorded.as_str().into(),
            now: now.into(),
        })
    }
}

/// A validated taso artifact, open for reading tensors.
#[derive(Debug)]
pub struct Artifact {
    /// The path it was opened from.
    pub path: PathBuf,
    /// Its provenance.
    pub meta: ArtifactMeta,
    /// The digest of its bytes; record it as the parent of artifacts made from this one.
    pub digest: String,
    file: SafetensorsFile,
}

impl Artifact {
    /// Opens an artifact and checks that it is what `expect` asks for.
    ///
    /// Checks, in order: the file exists, is a complete safetensors file, is a taso artifact
    /// of this schema version, of the expected kind, for the expected model and parent.
    pub fn open(path: &Path, expect: &Expect) -> Result<Self, ArtifactError> {
        let file = SafetensorsFile::open_for(path, Some(expect.kind))?;
        let meta = ArtifactMeta::parse(&file.header.metadata, path, Some(expect.kind))?;
        expect.check(&meta, path)?;
        Self::finish(file, meta)
    }

    /// Opens an artifact of any kind, model and parent (it must still be a valid taso
    /// artifact of this schema version).
    pub fn open_any(path: &Path) -> Result<Self, ArtifactError> {
        let file = SafetensorsFile::open(path)?;
        let meta = ArtifactMeta::parse(&file.header.metadata, path, None)?;
        Self::finish(file, meta)
    }

    fn finish(mut file: SafetensorsFile, meta: ArtifactMeta) -> Result<Self, ArtifactError> {
        file.needed = Some(meta.kind);
        Ok(Artifact {
            path: file.path.clone(),
            digest: file.digest()?,
            meta,
            file,
        })
    }

    /// Reads one tensor; [`ArtifactError::MissingTensor`] names the file and the tensor.
    pub fn tensor(&self, name: &str) -> Result<TensorData, ArtifactError> {
        self.file.tensor(name)
    }

    /// Reads one tensor's elements as `T`; [`ArtifactError::DtypeMismatch`] names the tensor
    /// and file if it holds another element type.
    pub fn tensor_vec<T: Element>(&self, name: &str) -> Result<Vec<T>, ArtifactError> {
        let tensor = self.tensor(name)?;
        let what = format!("tensor '{name}' in {}", self.path.display());
        tensor.expect_dtype(T::DTYPE, &what)?;
        tensor.to_vec()
    }

    /// The names of all tensors, sorted.
    pub fn tensor_names(&self) -> Vec<&str> {
        self.file.tensor_names()
    }

    /// The dtype, shape and offsets of one tensor, without reading it.
    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.file.tensor_info(name)
    }
}
