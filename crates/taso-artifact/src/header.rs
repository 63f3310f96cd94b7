//! Reading and checking the header of any safetensors file without reading its data.
//!
//! Layout: an 8-byte little-endian header length `n`, `n` bytes of JSON (tensor entries and an
//! optional `__metadata__` string map), then the tensor data.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use safetensors::tensor::{Metadata, TensorInfo};

use crate::error::ArtifactError;
use crate::kind::ArtifactKind;

/// The largest header the safetensors format allows (100 MB).
const MAX_HEADER_LEN: u64 = 100_000_000;

/// Bytes of the header-length prefix.
const LEN_PREFIX: u64 = 8;

/// The parsed header of a safetensors file.
#[derive(Debug, Clone)]
pub struct SafetensorsHeader {
    /// The `__metadata__` map (empty when the file has none).
    pub metadata: HashMap<String, String>,
    /// The tensor entries by name; offsets are relative to `data_start`.
    pub tensors: BTreeMap<String, TensorInfo>,
    /// Where the tensor data begins in the file (8 + header length).
    pub data_start: u64,
    /// The size of the whole file in bytes.
    pub file_len: u64,
}

/// The raw header JSON of a file and where its data begins.
pub(crate) struct RawHeader {
    /// The JSON bytes, including any trailing padding spaces.
    pub json: Vec<u8>,
    /// 8 + the header length.
    pub data_start: u64,
    /// The size of the whole file.
    pub file_len: u64,
}

/// Where a header is read from, for error messages: the file and the kind wanted there.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub path: &'a Path,
    pub needed: Option<ArtifactKind>,
}

impl Source<'_> {
    fn truncated(self, reason: String) -> ArtifactError {
        ArtifactError::Truncated {
            path: self.path.to_path_buf(),
            reason,
            needed: self.needed,
        }
    }

    fn not_safetensors(self, reason: String) -> ArtifactError {
        ArtifactError::NotSafetensors {
            path: self.path.to_path_buf(),
            reason,
            needed: self.needed,
        }
    }

    fn read_at(self, file: &File, buf: &mut [u8], offset: u64) -> Result<(), ArtifactError> {
        file.read_exact_at(buf, offset)
            .map_err(|e| ArtifactError::io(self.path, e))
    }
}

impl RawHeader {
    /// Reads the length prefix and the header JSON, checking both against the file size.
    pub(crate) fn read(file: &File, source: Source<'_>) -> Result<Self, ArtifactError> {
        let file_len = file
            .metadata()
            .map_err(|e| ArtifactError::io(source.path, e))?
            .len();
        if file_len < LEN_PREFIX {
            return Err(source.truncated(format!(
                "it has {file_len} bytes, fewer than the 8-byte header length"
            )));
        }
        let mut prefix = [0u8; LEN_PREFIX as usize];
        source.read_at(file, &mut prefix, 0)?;
        let header_len = u64::from_le_bytes(prefix);
        check_header_len(file, source, header_len, file_len)?;
        let mut json = vec![0u8; header_len as usize];
        source.read_at(file, &mut json, LEN_PREFIX)?;
        Ok(RawHeader {
            json,
            data_start: LEN_PREFIX + header_len,
            file_len,
        })
    }
}

/// Refuses header lengths beyond the format limit or the file end. A header cut short still
/// starts with `{`, which tells a truncated file from one that is not safetensors at all.
fn check_header_len(
    file: &File,
    source: Source<'_>,
    header_len: u64,
    file_len: u64,
) -> Result<(), ArtifactError> {
    if header_len > MAX_HEADER_LEN {
        return Err(source.not_safetensors(format!(
            "declared header length {header_len} exceeds the format's limit of {MAX_HEADER_LEN}"
        )));
    }
    if header_len <= file_len - LEN_PREFIX {
        return Ok(());
    }
    let mut first = [0u8; 1];
    let starts_like_json = file_len > LEN_PREFIX && {
        source.read_at(file, &mut first, LEN_PREFIX)?;
        first[0] == b'{'
    };
    let reason = format!(
        "declared header length {header_len} runs past the end of the {file_len}-byte file"
    );
    if starts_like_json {
        Err(source.truncated(reason))
    } else {
        Err(source.not_safetensors(reason))
    }
}

impl SafetensorsHeader {
    /// Reads and validates the header of `file`, including that the data region has exactly
    /// the length the tensor entries declare.
    pub(crate) fn read(file: &File, source: Source<'_>) -> Result<Self, ArtifactError> {
        let raw = RawHeader::read(file, source)?;
        let parsed: Metadata = serde_json::from_slice(&raw.json)
            .map_err(|e| source.not_safetensors(format!("bad header: {e}")))?;
        check_data_len(source, &raw, parsed.data_len() as u64)?;
        Ok(SafetensorsHeader {
            metadata: parsed.metadata().clone().unwrap_or_default(),
            tensors: parsed
                .tensors()
                .into_iter()
                .map(|(name, info)| (name, info.clone()))
                .collect(),
            data_start: raw.data_start,
            file_len: raw.file_len,
        })
    }

    /// The names of all tensors, sorted.
    pub fn tensor_names(&self) -> Vec<&str> {
        self.tensors.keys().map(String::as_str).collect()
    }
}

fn check_data_len(source: Source<'_>, raw: &RawHeader, declared: u64) -> Result<(), ArtifactError> {
    let actual = raw.file_len - raw.data_start;
    if actual < declared {
        Err(source.truncated(format!(
            "the header declares {declared} bytes of tensor data but only {actual} follow it"
        )))
    } else if actual > declared {
        Err(source.not_safetensors(format!(
            "{} unexpected bytes follow the {declared} bytes of tensor data",
            actual - declared
        )))
    } else {
        Ok(())
    }
}
