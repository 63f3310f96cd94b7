//! Writing artifacts: deterministic safetensors bytes, written atomically.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::Path;

use safetensors::tensor::TensorInfo;
use serde::ser::{Serialize, SerializeMap, Serializer};
use sha2::{Digest, Sha256};

use crate::atomic::write_atomic_with;
use crate::digest::format_digest;
use crate::error::ArtifactError;
use crate::meta::ArtifactMeta;
use crate::tensor::TensorData;

/// One named tensor to write. Implemented for the items of `&[(String, TensorData)]`,
/// `&Vec<(String, TensorData)>` and `&BTreeMap<String, TensorData>`, and for
/// `(&str, &TensorData)`.
pub trait TensorEntry {
    /// The tensor's name in the file.
    fn name(&self) -> &str;
    /// The tensor.
    fn tensor(&self) -> &TensorData;
}

impl TensorEntry for &(String, TensorData) {
    fn name(&self) -> &str {
        &self.0
    }
    fn tensor(&self) -> &TensorData {
        &self.1
    }
}

impl TensorEntry for (&String, &TensorData) {
    fn name(&self) -> &str {
        self.0
    }
    fn tensor(&self) -> &TensorData {
        self.1
    }
}

impl TensorEntry for (&str, &TensorData) {
    fn name(&self) -> &str {
        self.0
    }
    fn tensor(&self) -> &TensorData {
        self.1
    }
}

/// Writes an artifact to `path` atomically and returns the digest of the written file
/// (equal to [`crate::file_digest`] of it).
///
/// The input order of `tensors` does not matter: tensors are laid out by descending element
/// alignment, then by name, and metadata keys are sorted, so the same inputs always give
/// byte-identical files. Every tensor is checked (data length against shape and dtype, unique
/// names, no name `__metadata__`) before anything is created on disk.
pub fn write_artifact<I>(
    path: &Path,
    meta: &ArtifactMeta,
    tensors: I,
) -> Result<String, ArtifactError>
where
    I: IntoIterator,
    I::Item: TensorEntry,
{
    write_safetensors(path, meta.to_metadata(), tensors)
}

/// Writes a plain safetensors file (no taso provenance: a model's weights for other tools)
/// with `metadata` (e.g. `format = pt`, which transformers reads), atomically and with the
/// deterministic layout of [`write_artifact`]; returns the digest of the written file.
pub fn write_safetensors<I>(
    path: &Path,
    metadata: HashMap<String, String>,
    tensors: I,
) -> Result<String, ArtifactError>
where
    I: IntoIterator,
    I::Item: TensorEntry,
{
    let entries: Vec<I::Item> = tensors.into_iter().collect();
    let layout = Layout::plan(metadata, &entries)?;
    write_atomic_with(path, |out| layout.write_to(out)).map_err(|e| ArtifactError::io(path, e))
}

/// The checked, ordered content of a file about to be written.
struct Layout<'a> {
    header: Vec<u8>,
    tensors: Vec<&'a TensorData>,
}

impl<'a> Layout<'a> {
    fn plan(
        metadata: HashMap<String, String>,
        entries: &'a [impl TensorEntry],
    ) -> Result<Self, ArtifactError> {
        let mut ordered = unique_entries(entries)?;
        // Widest element types first, as the safetensors crate does: with the 8-byte-padded
        // header, every tensor then starts aligned to its element size.
        ordered.sort_by(|(a_name, a), (b_name, b)| b.dtype.cmp(&a.dtype).then(a_name.cmp(b_name)));
        let mut offset = 0;
        let infos = ordered
            .iter()
            .map(|(name, tensor)| {
                let start = offset;
                offset += tensor.data.len();
                let info = TensorInfo {
                    dtype: tensor.dtype,
                    shape: tensor.shape.clone(),
                    data_offsets: (start, offset),
                };
                (*name, info)
            })
            .collect();
        let header = HeaderJson {
            metadata: metadata.into_iter().collect(),
            tensors: infos,
        }
        .to_padded_bytes()?;
        Ok(Layout {
            header,
            tensors: ordered.into_iter().map(|(_, tensor)| tensor).collect(),
        })
    }

    /// Writes the file's bytes and returns their digest.
    fn write_to(&self, out: &mut dyn Write) -> io::Result<String> {
        let mut out = HashingWriter {
            inner: out,
            hasher: Sha256::new(),
        };
        out.write_all(&(self.header.len() as u64).to_le_bytes())?;
        out.write_all(&self.header)?;
        for tensor in &self.tensors {
            out.write_all(&tensor.data)?;
        }
        Ok(format_digest(out.hasher))
    }
}

/// Validates every tensor and refuses duplicate or reserved names.
fn unique_entries(entries: &[impl TensorEntry]) -> Result<Vec<(&str, &TensorData)>, ArtifactError> {
    let mut seen = BTreeMap::new();
    for entry in entries {
        let name = entry.name();
        let invalid = |reason: String| ArtifactError::InvalidTensor {
            reason: format!("tensor '{name}': {reason}"),
        };
        if name == "__metadata__" {
            return Err(invalid("the name is reserved by safetensors".to_string()));
        }
        if let Some(problem) = entry.tensor().size_problem() {
            return Err(invalid(problem));
        }
        if seen.insert(name, entry.tensor()).is_some() {
            return Err(invalid("the name is given twice".to_string()));
        }
    }
    Ok(seen.into_iter().collect())
}

/// The header JSON: `__metadata__` first, then the tensors in data order.
struct HeaderJson<'a> {
    metadata: BTreeMap<String, String>,
    tensors: Vec<(&'a str, TensorInfo)>,
}

impl HeaderJson<'_> {
    /// The JSON padded with spaces to a multiple of 8 bytes, so the data stays aligned.
    fn to_padded_bytes(&self) -> Result<Vec<u8>, ArtifactError> {
        let mut bytes = serde_json::to_vec(self).map_err(|e| ArtifactError::InvalidTensor {
            reason: format!("cannot encode the header: {e}"),
        })?;
        bytes.resize(bytes.len().next_multiple_of(8), b' ');
        Ok(bytes)
    }
}

impl Serialize for HeaderJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.tensors.len() + 1))?;
        map.serialize_entry("__metadata__", &self.metadata)?;
        for (name, info) in &self.tensors {
            map.serialize_entry(name, info)?;
        }
        map.end()
    }
}

/// Passes writes through while hashing them.
struct HashingWriter<'a> {
    inner: &'a mut dyn Write,
    hasher: Sha256,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
