//! Reading the files of a Hugging Face model folder for export: JSON files, and
//! `model.safetensors` one tensor at a time (F32, BF16 or F16), so that the model is never
//! in memory whole.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use safetensors::tensor::TensorInfo;
use safetensors::Dtype;
use serde_json::Value;

use crate::error::GgufError;

/// The largest safetensors header accepted (as the `safetensors` crate).
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// The error for an absent `path`, or the I/O error.
fn open_error(path: &Path, error: io::Error) -> GgufError {
    match error.kind() {
        io::ErrorKind::NotFound => GgufError::MissingModelFile {
            path: path.to_path_buf(),
        },
        _ => GgufError::io(path, error),
    }
}

/// Reads and parses the JSON file at `path`.
pub(crate) fn read_json(path: &Path) -> Result<Value, GgufError> {
    let bytes = fs::read(path).map_err(|e| open_error(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| GgufError::InvalidModelFile {
        path: path.to_path_buf(),
        reason: format!("it is not valid JSON ({e})"),
    })
}

/// A safetensors file whose header has been read and checked; tensor data is read on demand.
pub(crate) struct SafetensorsFile {
    path: PathBuf,
    file: File,
    data_start: u64,
    tensors: BTreeMap<String, TensorInfo>,
}

impl SafetensorsFile {
    /// Opens `path` and reads its header. Fails on a tensor of another dtype than F32, BF16
    /// or F16, or whose data does not fit its shape or the file.
    pub fn open(path: &Path) -> Result<SafetensorsFile, GgufError> {
        let file = File::open(path).map_err(|e| open_error(path, e))?;
        let file_len = file.metadata().map_err(|e| GgufError::io(path, e))?.len();
        let invalid = |reason: String| GgufError::InvalidModelFile {
            path: path.to_path_buf(),
            reason,
        };
        let mut reader = &file;
        let mut len = [0u8; 8];
        reader
            .read_exact(&mut len)
            .map_err(|_| invalid("it is too short to be a safetensors file".to_string()))?;
        let header_len = u64::from_le_bytes(len);
        if header_len > MAX_HEADER_BYTES.min(file_len - 8) {
            return Err(invalid(format!(
                "its header length {header_len} does not fit the file; is it a safetensors file?"
            )));
        }
        let mut header = vec![0u8; header_len as usize];
        reader
            .read_exact(&mut header)
            .map_err(|e| GgufError::io(path, e))?;
        let tensors = parse_header(&header).map_err(invalid)?;
        let data_start = 8 + header_len;
        for (name, info) in &tensors {
            check_tensor(name, info, file_len - data_start).map_err(invalid)?;
        }
        Ok(SafetensorsFile {
            path: path.to_path_buf(),
            file,
            data_start,
            tensors,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tensor names and shapes, in name order.
    pub fn tensors(&self) -> impl Iterator<Item = (&str, &[usize])> {
        self.tensors
            .iter()
            .map(|(name, info)| (name.as_str(), info.shape.as_slice()))
    }

    /// The values of tensor `name` (which the file must have) as f32, row-major.
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>, GgufError> {
        let info = &self.tensors[name];
        let (start, end) = info.data_offsets;
        let mut bytes = vec![0u8; end - start];
        self.file
            .read_exact_at(&mut bytes, self.data_start + start as u64)
            .map_err(|e| GgufError::io(&self.path, e))?;
        Ok(match info.dtype {
            Dtype::F32 => convert(&bytes, f32::from_le_bytes),
            Dtype::BF16 => convert(&bytes, |b| bf16::from_le_bytes(b).to_f32()),
            Dtype::F16 => convert(&bytes, |b| f16::from_le_bytes(b).to_f32()),
            other => unreachable!("dtype {other:?} refused when opening"),
        })
    }
}

/// Little-endian values of `N` bytes each, converted.
fn convert<const N: usize>(bytes: &[u8], value: impl Fn([u8; N]) -> f32) -> Vec<f32> {
    bytes
        .chunks_exact(N)
        .map(|b| value(b.try_into().expect("N bytes")))
        .collect()
}

/// The tensor entries of a safetensors JSON header (without `__metadata__`).
fn parse_header(header: &[u8]) -> Result<BTreeMap<String, TensorInfo>, String> {
    let entries: BTreeMap<String, Value> = serde_json::from_slice(header)
        .map_err(|e| format!("its header is not a JSON object ({e}); is it a safetensors file?"))?;
    entries
        .into_iter()
        .filter(|(name, _)| name != "__metadata__")
        .map(|(name, value)| match serde_json::from_value(value) {
            Ok(info) => Ok((name, info)),
            Err(e) => Err(format!("its header entry for '{name}' is invalid ({e})")),
        })
        .collect()
}

/// Refuses a dtype other than F32, BF16, F16, or data that does not match the shape or lies
/// beyond the `data_len` bytes of data.
fn check_tensor(name: &str, info: &TensorInfo, data_len: u64) -> Result<(), String> {
    if !matches!(info.dtype, Dtype::F32 | Dtype::BF16 | Dtype::F16) {
        return Err(format!(
            "tensor '{name}' is {:?}; only F32, BF16 and F16 tensors can be exported (convert the model to one of those)",
            info.dtype
        ));
    }
    let (start, end) = info.data_offsets;
    let expected = info
        .shape
        .iter()
        .try_fold(info.dtype.bitsize() / 8, |n, &d| n.checked_mul(d));
    if start > end || expected != Some(end - start) || end as u64 > data_len {
        return Err(format!(
            "tensor '{name}' of shape {:?} has data offsets {start}..{end}, which do not fit its shape or the file; the file is damaged",
            info.shape
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, dtype: Dtype, shape: &[usize], data: &[u8]) {
        let view = safetensors::tensor::TensorView::new(dtype, shape.to_vec(), data).unwrap();
        safetensors::serialize_to_file([("w", view)], None, path).unwrap();
    }

    #[test]
    fn reads_f32_bf16_and_f16_as_f32() {
        let dir = tempfile::tempdir().unwrap();
        let values = [0.5f32, -1.25, 3.0, 0.1];
        let cases: [(Dtype, Vec<u8>, Vec<f32>); 3] = [
            (
                Dtype::F32,
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                values.to_vec(),
            ),
            (
                Dtype::BF16,
                values
                    .iter()
                    .flat_map(|&v| bf16::from_f32(v).to_le_bytes())
                    .collect(),
                values.map(|v| bf16::from_f32(v).to_f32()).to_vec(),
            ),
            (
                Dtype::F16,
                values
                    .iter()
                    .flat_map(|&v| f16::from_f32(v).to_le_bytes())
                    .collect(),
                values.map(|v| f16::from_f32(v).to_f32()).to_vec(),
            ),
        ];
        for (dtype, bytes, expected) in cases {
            let path = dir.path().join("m.safetensors");
            write(&path, dtype, &[2, 2], &bytes);
            let file = SafetensorsFile::open(&path).unwrap();
            assert!(file.tensors().eq([("w", &[2, 2][..])]));
            assert_eq!(file.read_f32("w").unwrap(), expected, "{dtype:?}");
        }
    }

    #[test]
    fn other_dtypes_and_damaged_files_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        write(&path, Dtype::I64, &[1], &[0; 8]);
        let err = SafetensorsFile::open(&path).err().unwrap().to_string();
        assert!(
            err.contains("'w' is I64") && err.contains("m.safetensors"),
            "{err}"
        );
        fs::write(&path, b"not a safetensors file").unwrap();
        let err = SafetensorsFile::open(&path).err().unwrap().to_string();
        assert!(err.contains("header length"), "{err}");
        let err = SafetensorsFile::open(&dir.path().join("absent.safetensors")).err();
        assert!(matches!(err, Some(GgufError::MissingModelFile { .. })));
    }
}
