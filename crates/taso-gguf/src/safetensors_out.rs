//! Streaming an f32 safetensors file: the header first (from names and shapes), then each
//! tensor's values as they are produced, so that only one tensor is in memory at a time.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use safetensors::tensor::TensorInfo;
use safetensors::Dtype;

use crate::error::GgufError;

/// Values written per `write_all` call.
const CHUNK: usize = 1 << 16;

/// Writes `path` with one f32 tensor per `(name, shape)` in `tensors`, whose values
/// `values_of(index)` produces in order; each must have as many values as its shape says.
pub fn write_f32_safetensors(
    path: &Path,
    tensors: &[(String, Vec<usize>)],
    mut values_of: impl FnMut(usize) -> Result<Vec<f32>, GgufError>,
) -> Result<(), GgufError> {
    let io_error = |e| GgufError::io(path, e);
    let header = header_bytes(tensors);
    let file = File::create(path).map_err(io_error)?;
    let mut out = BufWriter::new(&file);
    out.write_all(&(header.len() as u64).to_le_bytes())
        .and_then(|()| out.write_all(&header))
        .map_err(io_error)?;
    for (index, (name, shape)) in tensors.iter().enumerate() {
        let values = values_of(index)?;
        assert_eq!(
            values.len(),
            shape.iter().product::<usize>(),
            "tensor {name}"
        );
        let mut bytes = vec![0u8; 4 * CHUNK.min(values.len())];
        for chunk in values.chunks(CHUNK) {
            let bytes = &mut bytes[..4 * chunk.len()];
            for (slot, value) in bytes.chunks_exact_mut(4).zip(chunk) {
                slot.copy_from_slice(&value.to_le_bytes());
            }
            out.write_all(bytes).map_err(io_error)?;
        }
    }
    out.flush().map_err(io_error)?;
    drop(out);
    file.sync_all().map_err(io_error)
}

/// The JSON header padded with spaces to a multiple of 8 bytes, tensors laid out in order.
fn header_bytes(tensors: &[(String, Vec<usize>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert(
        "__metadata__".to_string(),
        serde_json::json!(BTreeMap::from([("format", "pt")])),
    );
    let mut offset = 0;
    for (name, shape) in tensors {
        let len = shape.iter().product::<usize>() * 4;
        let info = TensorInfo {
            dtype: Dtype::F32,
            shape: shape.clone(),
            data_offsets: (offset, offset + len),
        };
        offset += len;
        header.insert(
            name.clone(),
            serde_json::to_value(info).expect("tensor info"),
        );
    }
    let mut bytes = serde_json::to_vec(&header).expect("header json");
    bytes.resize(bytes.len().next_multiple_of(8), b' ');
    bytes
}
