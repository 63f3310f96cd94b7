//! Reading a GGUF file (versions 2 and 3, little-endian): the header, every metadata value,
//! the tensor infos and, on request, one tensor's bytes.
//!
//! Layout: `GGUF`, u32 version, u64 tensor count, u64 metadata count; the metadata
//! (key string, u32 value type, value); the tensor infos (name, u32 dimension count, u64
//! dimensions innermost first, u32 ggml type, u64 offset); padding to `general.alignment`
//! (default 32); the tensor data, each tensor at its offset from the start of the data.
//! Strings are a u64 byte length and UTF-8 bytes.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::GgufError;
use crate::ggml_type::{type_name, GgmlType};
use crate::metadata::{Metadata, MetadataValue};

/// The metadata key holding the data alignment.
const ALIGNMENT_KEY: &str = "general.alignment";
/// The alignment when the file does not set one.
const DEFAULT_ALIGNMENT: u64 = 32;
/// Array nesting deeper than this is refused (a guard against hostile files).
const MAX_ARRAY_DEPTH: usize = 8;

/// The description of one tensor in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// The GGUF name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions as GGUF lists them: innermost (contiguous) first.
    pub dims: Vec<u64>,
    /// The ggml type id.
    pub type_id: u32,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements (saturating at `u64::MAX` for dimensions no file can hold; an opened
    /// file's tensors of supported types have been checked to fit it).
    pub fn element_count(&self) -> u64 {
        self.dims
            .iter()
            .fold(1u64, |count, &d| count.saturating_mul(d))
    }

    /// The row-major shape (dimensions outermost first), as Hugging Face files list them.
    pub fn row_major_shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    /// The tensor's type, or the error naming the tensor and its unsupported type.
    pub fn ggml_type(&self) -> Result<GgmlType, GgufError> {
        GgmlType::from_id(self.type_id).ok_or_else(|| GgufError::UnsupportedTensorType {
            tensor: self.name.clone(),
            type_name: format!(
                "{} (ggml type id {})",
                type_name(self.type_id),
                self.type_id
            ),
        })
    }

    /// Bytes of data for a supported type, or why the shape does not fit the type.
    fn byte_len(&self, ty: GgmlType) -> Result<u64, GgufError> {
        let innermost = self.dims.first().copied().unwrap_or(1);
        let block = ty.block_size() as u64;
        if !innermost.is_multiple_of(block) {
            return Err(GgufError::BadShape {
                tensor: self.name.clone(),
                reason: format!(
                    "its innermost dimension {innermost} is not a multiple of the {} block size {block}",
                    ty.name()
                ),
            });
        }
        self.dims
            .iter()
            .try_fold(1u64, |count, &d| count.checked_mul(d))
            .and_then(|count| (count / block).checked_mul(ty.block_bytes() as u64))
            .ok_or_else(|| GgufError::BadShape {
                tensor: self.name.clone(),
                reason: format!(
                    "its dimensions {:?} need more bytes than a 64-bit size can count",
                    self.dims
                ),
            })
    }
}

/// An open GGUF file: its parsed header, with tensor data read on demand.
#[derive(Debug)]
pub struct GgufFile {
    path: PathBuf,
    file: File,
    /// The GGUF version (2 or 3).
    pub version: u32,
    /// Every metadata key and value.
    pub metadata: Metadata,
    /// The tensor infos in file order.
    pub tensors: Vec<TensorInfo>,
    /// Absolute offset of the data section.
    data_start: u64,
    file_len: u64,
}

impl GgufFile {
    /// Opens `path` and reads its header. Fails on a bad magic, an unsupported version, a
    /// truncated header or a tensor of a supported type whose data runs past the end.
    pub fn open(path: &Path) -> Result<GgufFile, GgufError> {
        let file = File::open(path).map_err(|e| GgufError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| GgufError::io(path, e))?.len();
        let reader = BufReader::new(file.try_clone().map_err(|e| GgufError::io(path, e))?);
        let mut header = HeaderReader {
            path,
            inner: reader,
            position: 0,
            file_len,
        };
        let (version, metadata, tensors) = header.read_all()?;
        let alignment = alignment(path, &metadata)?;
        let data_start = header.position.next_multiple_of(alignment);
        let gguf = GgufFile {
            path: path.to_path_buf(),
            file,
            version,
            metadata,
            tensors,
            data_start,
            file_len,
        };
        gguf.check_tensor_bounds(alignment)?;
        Ok(gguf)
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tensor info named `name`, if any.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The raw bytes of `tensor` (which must be of a supported type).
    pub fn tensor_bytes(&self, tensor: &TensorInfo) -> Result<Vec<u8>, GgufError> {
        let len = tensor.byte_len(tensor.ggml_type()?)?;
        let mut bytes = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut bytes, self.data_start + tensor.offset)
            .map_err(|e| self.read_error(e, &tensor.name))?;
        Ok(bytes)
    }

    fn check_tensor_bounds(&self, alignment: u64) -> Result<(), GgufError> {
        for tensor in &self.tensors {
            if !tensor.offset.is_multiple_of(alignment) {
                return Err(self.malformed(format!(
                    "tensor '{}' starts at offset {}, not a multiple of the alignment {alignment}",
                    tensor.name, tensor.offset
                )));
            }
            let Ok(ty) = tensor.ggml_type() else {
                continue; // reported by whoever asks for this tensor's values
            };
            let len = tensor.byte_len(ty)?;
            let end = self
                .data_start
                .checked_add(tensor.offset)
                .and_then(|start| start.checked_add(len));
            if end.is_none_or(|end| end > self.file_len) {
                return Err(GgufError::Truncated {
                    path: self.path.clone(),
                    what: format!(
                        "the data of tensor '{}' ({len} bytes at offset {} of the data section; \
                         the file has {} bytes)",
                        tensor.name, tensor.offset, self.file_len
                    ),
                });
            }
        }
        Ok(())
    }

    fn read_error(&self, error: io::Error, tensor: &str) -> GgufError {
        match error.kind() {
            io::ErrorKind::UnexpectedEof => GgufError::Truncated {
                path: self.path.clone(),
                what: format!("the data of tensor '{tensor}'"),
            },
            _ => GgufError::io(&self.path, error),
        }
    }

    fn malformed(&self, reason: String) -> GgufError {
        GgufError::Malformed {
            path: self.path.clone(),
            reason,
        }
    }
}

/// `general.alignment`, checked to be a positive power of two.
fn alignment(path: &Path, metadata: &Metadata) -> Result<u64, GgufError> {
    let alignment = metadata
        .opt_u64(ALIGNMENT_KEY)?
        .unwrap_or(DEFAULT_ALIGNMENT);
    if !alignment.is_power_of_two() {
        return Err(GgufError::Malformed {
            path: path.to_path_buf(),
            reason: format!("{ALIGNMENT_KEY} is {alignment}, not a power of two"),
        });
    }
    Ok(alignment)
}

/// Sequential reads of the header with the position tracked and bounds checked.
struct HeaderReader<'a> {
    path: &'a Path,
    inner: BufReader<File>,
    position: u64,
    file_len: u64,
}

type Header = (u32, Metadata, Vec<TensorInfo>);

impl HeaderReader<'_> {
    fn read_all(&mut self) -> Result<Header, GgufError> {
        let magic: [u8; 4] = self.array("the magic number")?;
        if &magic != b"GGUF" {
            return Err(GgufError::BadMagic {
                path: self.path.to_path_buf(),
                found: magic,
            });
        }
        let version = self.u32("the version")?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion {
                path: self.path.to_path_buf(),
                version,
            });
        }
        let tensor_count = self.u64("the tensor count")?;
        let metadata_count = self.u64("the metadata count")?;
        let mut metadata = Metadata::default();
        for _ in 0..metadata_count {
            let key = self.string("a metadata key")?;
            let value_type = self.u32(&format!("the type of metadata '{key}'"))?;
            let value = self.value(value_type, &key, 0)?;
            metadata.0.insert(key, value);
        }
        let tensors = (0..tensor_count)
            .map(|_| self.tensor_info())
            .collect::<Result<_, _>>()?;
        Ok((version, metadata, tensors))
    }

    fn tensor_info(&mut self) -> Result<TensorInfo, GgufError> {
        let name = self.string("a tensor name")?;
        let what = format!("the info of tensor '{name}'");
        let n_dims = self.u32(&what)?;
        if n_dims > 8 {
            return Err(self.malformed(format!("tensor '{name}' claims {n_dims} dimensions")));
        }
        let dims = (0..n_dims)
            .map(|_| self.u64(&what))
            .collect::<Result<Vec<_>, _>>()?;
        if dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .is_none()
        {
            return Err(self.malformed(format!("tensor '{name}' has dimensions {dims:?}")));
        }
        let type_id = self.u32(&what)?;
        let offset = self.u64(&what)?;
        Ok(TensorInfo {
            name,
            dims,
            type_id,
            offset,
        })
    }

    fn value(
        &mut self,
        value_type: u32,
        key: &str,
        depth: usize,
    ) -> Result<MetadataValue, GgufError> {
        let what = format!("metadata '{key}'");
        Ok(match value_type {
            0 => MetadataValue::U8(u8::from_le_bytes(self.array(&what)?)),
            1 => MetadataValue::I8(i8::from_le_bytes(self.array(&what)?)),
            2 => MetadataValue::U16(u16::from_le_bytes(self.array(&what)?)),
            3 => MetadataValue::I16(i16::from_le_bytes(self.array(&what)?)),
            4 => MetadataValue::U32(self.u32(&what)?),
            5 => MetadataValue::I32(i32::from_le_bytes(self.array(&what)?)),
            6 => MetadataValue::F32(f32::from_le_bytes(self.array(&what)?)),
            7 => MetadataValue::Bool(self.bool(key)?),
            8 => MetadataValue::String(self.string(&what)?),
            9 => self.array_value(key, depth)?,
            10 => MetadataValue::U64(self.u64(&what)?),
            11 => MetadataValue::I64(i64::from_le_bytes(self.array(&what)?)),
            12 => MetadataValue::F64(f64::from_le_bytes(self.array(&what)?)),
            other => {
                return Err(
                    self.malformed(format!("metadata '{key}' has unknown value type {other}"))
                )
            }
        })
    }

    fn array_value(&mut self, key: &str, depth: usize) -> Result<MetadataValue, GgufError> {
        if depth >= MAX_ARRAY_DEPTH {
            return Err(self.malformed(format!("metadata '{key}' nests arrays too deeply")));
        }
        let what = format!("metadata '{key}'");
        let element_type = self.u32(&what)?;
        let count = self.u64(&what)?;
        // Every element takes at least one byte: a larger count cannot fit in the file.
        if count > self.file_len.saturating_sub(self.position) {
            return Err(self.truncated(&what));
        }
        let items = (0..count)
            .map(|_| self.value(element_type, key, depth + 1))
            .collect::<Result<_, _>>()?;
        Ok(MetadataValue::Array(items))
    }

    fn bool(&mut self, key: &str) -> Result<bool, GgufError> {
        match self.array::<1>(&format!("metadata '{key}'"))? {
            [0] => Ok(false),
            [1] => Ok(true),
            [other] => Err(self.malformed(format!("metadata '{key}' is a bool stored as {other}"))),
        }
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let len = self.u64(what)?;
        if len > self.file_len.saturating_sub(self.position) {
            return Err(self.truncated(what));
        }
        let mut bytes = vec![0u8; len as usize];
        self.read_exact(&mut bytes, what)?;
        String::from_utf8(bytes).map_err(|_| self.malformed(format!("{what} is not UTF-8")))
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let mut bytes = [0u8; N];
        self.read_exact(&mut bytes, what)?;
        Ok(bytes)
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), GgufError> {
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => self.truncated(what),
            _ => GgufError::io(self.path, e),
        })?;
        self.position += buf.len() as u64;
        Ok(())
    }

    fn truncated(&self, what: &str) -> GgufError {
        GgufError::Truncated {
            path: self.path.to_path_buf(),
            what: what.to_string(),
        }
    }

    fn malformed(&self, reason: String) -> GgufError {
        GgufError::Malformed {
            path: self.path.to_path_buf(),
            reason,
        }
    }
}
