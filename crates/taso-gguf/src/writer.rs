//! Writing GGUF files (version 3 unless set): [`GgufStream`] writes the header, then each
//! tensor's data in turn, so that only one tensor need be in memory; [`GgufWriter`] holds a whole
//! (small) file in memory, for tests and tools that alter one before writing it.
//!
//! The data of each tensor starts at a multiple of `general.alignment` (default 32) from the
//! start of the data section, as the reader expects; see `reader.rs` for the layout.

use std::io::{self, Write};
use std::path::Path;

use crate::metadata::MetadataValue;

/// The metadata key holding the data alignment.
const ALIGNMENT_KEY: &str = "general.alignment";
/// The alignment when the metadata does not set one.
const DEFAULT_ALIGNMENT: u64 = 32;

/// The header entry of one tensor: GGUF name, dimensions innermost first, ggml type id and the
/// length of its data in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorHeader {
    /// GGUF name.
    pub name: String,
    /// Dimensions, innermost first.
    pub dims: Vec<u64>,
    /// ggml type id.
    pub type_id: u32,
    /// Bytes of data.
    pub byte_len: u64,
}

/// A GGUF file being written to `out`: the header is written by [`start`](Self::start), then
/// [`tensor_data`](Self::tensor_data) takes each tensor's bytes in header order.
#[derive(Debug)]
pub struct GgufStream<W: Write> {
    out: W,
    alignment: u64,
    /// The byte lengths promised by the header, in order.
    lengths: Vec<u64>,
    /// Tensors written so far.
    written: usize,
    /// Bytes written since the start of the data section.
    data_position: u64,
}

impl<W: Write> GgufStream<W> {
    /// Writes the header (magic, `version`, `metadata` in order, the tensor infos with their
    /// offsets) and returns the stream ready for the first tensor's data. The alignment is
    /// `general.alignment` when `metadata` holds it as a u32, else 32.
    pub fn start(
        mut out: W,
        version: u32,
        metadata: &[(String, MetadataValue)],
        tensors: &[TensorHeader],
    ) -> io::Result<GgufStream<W>> {
        let alignment = alignment(metadata);
        let mut header = b"GGUF".to_vec();
        header.extend(version.to_le_bytes());
        header.extend((tensors.len() as u64).to_le_bytes());
        header.extend((metadata.len() as u64).to_le_bytes());
        for (key, value) in metadata {
            put_string(&mut header, key);
            header.extend(value.type_id().to_le_bytes());
            put_value(&mut header, value);
        }
        let mut offset = 0u64;
        for tensor in tensors {
            put_string(&mut header, &tensor.name);
            header.extend((tensor.dims.len() as u32).to_le_bytes());
            tensor
                .dims
                .iter()
                .for_each(|d| header.extend(d.to_le_bytes()));
            header.extend(tensor.type_id.to_le_bytes());
            header.extend(offset.to_le_bytes());
            offset = (offset + tensor.byte_len).next_multiple_of(alignment);
        }
        header.resize(header.len().next_multiple_of(alignment as usize), 0);
        out.write_all(&header)?;
        Ok(GgufStream {
            out,
            alignment,
            lengths: tensors.iter().map(|t| t.byte_len).collect(),
            written: 0,
            data_position: 0,
        })
    }

    /// Writes the next tensor's data, after the padding that aligns it. Fails (writing nothing)
    /// when every tensor has been written or `bytes` is not as long as the header says.
    pub fn tensor_data(&mut self, bytes: &[u8]) -> io::Result<()> {
        let Some(&expected) = self.lengths.get(self.written) else {
            return Err(invalid(format!(
                "all {} tensors of the header are written already",
                self.lengths.len()
            )));
        };
        if bytes.len() as u64 != expected {
            return Err(invalid(format!(
                "tensor {} has {} bytes, but the header says {expected}",
                self.written,
                bytes.len()
            )));
        }
        let padding = self.data_position.next_multiple_of(self.alignment) - self.data_position;
        self.out.write_all(&vec![0; padding as usize])?;
        self.out.write_all(bytes)?;
        self.data_position += padding + expected;
        self.written += 1;
        Ok(())
    }

    /// Checks that every tensor was written and returns the output, unflushed.
    pub fn finish(self) -> io::Result<W> {
        if self.written != self.lengths.len() {
            return Err(invalid(format!(
                "only {} of the header's {} tensors were written",
                self.written,
                self.lengths.len()
            )));
        }
        Ok(self.out)
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// `general.alignment` when `metadata` holds it as a u32, else the default.
fn alignment(metadata: &[(String, MetadataValue)]) -> u64 {
    match metadata.iter().find(|(k, _)| k == ALIGNMENT_KEY) {
        Some((_, MetadataValue::U32(a))) => u64::from(*a),
        _ => DEFAULT_ALIGNMENT,
    }
}

/// One tensor as stored: GGUF name, dimensions innermost first, ggml type id, raw bytes.
#[derive(Debug, Clone)]
pub struct RawTensor {
    /// GGUF name.
    pub name: String,
    /// Dimensions, innermost first.
    pub dims: Vec<u64>,
    /// ggml type id.
    pub type_id: u32,
    /// Block bytes.
    pub bytes: Vec<u8>,
}

/// A whole GGUF file in memory: version 3 unless set, alignment from `general.alignment`
/// (default 32). The header records each tensor's bytes as they are, whatever its dimensions
/// and type say, so that tests can write inconsistent files.
#[derive(Debug, Clone)]
pub struct GgufWriter {
    /// The version written in the header.
    pub version: u32,
    metadata: Vec<(String, MetadataValue)>,
    tensors: Vec<RawTensor>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        GgufWriter {
            version: 3,
            metadata: Vec::new(),
            tensors: Vec::new(),
        }
    }
}

impl GgufWriter {
    /// Adds (or replaces) a metadata entry.
    pub fn metadata(&mut self, key: &str, value: MetadataValue) -> &mut Self {
        self.metadata.retain(|(k, _)| k != key);
        self.metadata.push((key.to_string(), value));
        self
    }

    /// Removes a metadata entry.
    pub fn remove_metadata(&mut self, key: &str) -> &mut Self {
        self.metadata.retain(|(k, _)| k != key);
        self
    }

    /// Adds a tensor.
    pub fn tensor(&mut self, tensor: RawTensor) -> &mut Self {
        self.tensors.push(tensor);
        self
    }

    /// The tensors added so far.
    pub fn tensors_mut(&mut self) -> &mut Vec<RawTensor> {
        &mut self.tensors
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let headers: Vec<TensorHeader> = self
            .tensors
            .iter()
            .map(|t| TensorHeader {
                name: t.name.clone(),
                dims: t.dims.clone(),
                type_id: t.type_id,
                byte_len: t.bytes.len() as u64,
            })
            .collect();
        let write = || {
            let mut stream = GgufStream::start(Vec::new(), self.version, &self.metadata, &headers)?;
            for tensor in &self.tensors {
                stream.tensor_data(&tensor.bytes)?;
            }
            stream.finish()
        };
        write().expect("writing to memory with lengths taken from the data")
    }

    /// Writes the file.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, self.to_bytes())
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, value: &MetadataValue) {
    match value {
        MetadataValue::U8(v) => out.extend(v.to_le_bytes()),
        MetadataValue::I8(v) => out.extend(v.to_le_bytes()),
        MetadataValue::U16(v) => out.extend(v.to_le_bytes()),
        MetadataValue::I16(v) => out.extend(v.to_le_bytes()),
        MetadataValue::U32(v) => out.extend(v.to_le_bytes()),
        MetadataValue::I32(v) => out.extend(v.to_le_bytes()),
        MetadataValue::F32(v) => out.extend(v.to_le_bytes()),
        MetadataValue::Bool(v) => out.push(u8::from(*v)),
        MetadataValue::String(s) => put_string(out, s),
        MetadataValue::Array(items) => {
            let element_type = items.first().map_or(0, MetadataValue::type_id);
            out.extend(element_type.to_le_bytes());
            out.extend((items.len() as u64).to_le_bytes());
            items.iter().for_each(|item| put_value(out, item));
        }
        MetadataValue::U64(v) => out.extend(v.to_le_bytes()),
        MetadataValue::I64(v) => out.extend(v.to_le_bytes()),
        MetadataValue::F64(v) => out.extend(v.to_le_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::GgufFile;

    fn header(name: &str, byte_len: u64) -> TensorHeader {
        TensorHeader {
            name: name.to_string(),
            dims: vec![byte_len / 4],
            type_id: 0,
            byte_len,
        }
    }

    #[test]
    fn stream_aligns_every_tensor_and_the_reader_finds_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.gguf");
        let metadata = [("general.alignment".to_string(), MetadataValue::U32(64))];
        let tensors = [header("a", 12), header("b", 8)];
        let mut stream = GgufStream::start(Vec::new(), 3, &metadata, &tensors).unwrap();
        stream.tensor_data(&[1; 12]).unwrap();
        stream.tensor_data(&[2; 8]).unwrap();
        std::fs::write(&path, stream.finish().unwrap()).unwrap();
        let gguf = GgufFile::open(&path).unwrap();
        assert_eq!(gguf.tensors[1].offset, 64);
        assert_eq!(gguf.tensor_bytes(&gguf.tensors[0]).unwrap(), [1; 12]);
        assert_eq!(gguf.tensor_bytes(&gguf.tensors[1]).unwrap(), [2; 8]);
    }

    #[test]
    fn stream_refuses_wrong_lengths_and_missing_or_extra_tensors() {
        let tensors = [header("a", 8)];
        let mut stream = GgufStream::start(Vec::new(), 3, &[], &tensors).unwrap();
        let err = stream.tensor_data(&[0; 4]).unwrap_err();
        assert!(err.to_string().contains("header says 8"), "{err}");
        let stream = GgufStream::start(Vec::new(), 3, &[], &tensors).unwrap();
        assert!(stream.finish().is_err());
        let mut stream = GgufStream::start(Vec::new(), 3, &[], &tensors).unwrap();
        stream.tensor_data(&[0; 8]).unwrap();
        assert!(stream.tensor_data(&[0; 8]).is_err());
    }
}
