//! Conversions between [`tch::Tensor`] and [`TensorData`] (feature `tch`).
//!
//! The tests here need libtorch at run time:
//! `LD_LIBRARY_PATH=.libtorch/lib cargo test -p taso-artifact --features tch`.

use safetensors::Dtype;
use tch::{Kind, Tensor};

use crate::error::ArtifactError;
use crate::tensor::TensorData;

/// The element types both sides support, as `(libtorch kind, safetensors dtype)` pairs.
const KINDS: [(Kind, Dtype); 10] = [
    (Kind::Float, Dtype::F32),
    (Kind::Half, Dtype::F16),
    (Kind::BFloat16, Dtype::BF16),
    (Kind::Double, Dtype::F64),
    (Kind::Int64, Dtype::I64),
    (Kind::Int, Dtype::I32),
    (Kind::Int16, Dtype::I16),
    (Kind::Int8, Dtype::I8),
    (Kind::Uint8, Dtype::U8),
    (Kind::Bool, Dtype::BOOL),
];

fn unsupported(what: String) -> ArtifactError {
    ArtifactError::InvalidTensor {
        reason: format!("{what} has no counterpart in the other format"),
    }
}

impl TensorData {
    /// A contiguous CPU copy of `tensor` (any device, any strides). Supports f32, f16, bf16,
    /// f64, i64, i32, i16, i8, u8 and bool.
    pub fn from_tch(tensor: &Tensor) -> Result<Self, ArtifactError> {
        let kind = tensor.f_kind()?;
        let dtype = KINDS
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|&(_, dtype)| dtype)
            .ok_or_else(|| unsupported(format!("libtorch kind {kind:?}")))?;
        let shape = tensor
            .size()
            .into_iter()
            .map(usize::try_from)
            .collect::<Result<Vec<usize>, _>>()
            .map_err(|_| unsupported("a negative dimension".to_string()))?;
        let numel = tensor.numel();
        let mut data = vec![0u8; numel * kind.elt_size_in_bytes()];
        tensor.f_copy_data_u8(&mut data, numel)?;
        TensorData::new(dtype, shape, data)
    }

    /// A new CPU `tch::Tensor` holding a copy of this tensor.
    pub fn to_tch(&self) -> Result<Tensor, ArtifactError> {
        self.validate()?;
        let kind = KINDS
            .iter()
            .find(|(_, d)| *d == self.dtype)
            .map(|&(kind, _)| kind)
            .ok_or_else(|| unsupported(format!("dtype {}", self.dtype)))?;
        let shape = self
            .shape
            .iter()
            .map(|&d| i64::try_from(d))
            .collect::<Result<Vec<i64>, _>>()
            .map_err(|_| unsupported(format!("shape {:?}", self.shape)))?;
        Ok(Tensor::f_from_data_size(&self.data, &shape, kind)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_supported_kind() {
        for (kind, dtype) in KINDS {
            let tensor = Tensor::arange(6, (Kind::Int64, tch::Device::Cpu))
                .remainder(2)
                .to_kind(kind)
                .reshape([2, 3]);
            let data = TensorData::from_tch(&tensor).unwrap();
            assert_eq!((data.dtype, data.shape.as_slice()), (dtype, &[2, 3][..]));
            let back = data.to_tch().unwrap();
            assert_eq!(back.kind(), kind);
            assert!(back.equal(&tensor), "{kind:?}");
        }
    }

    #[test]
    fn copies_strided_views_in_logical_order() {
        let values = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let transposed = Tensor::from_slice(&values).reshape([2, 3]).tr();
        let data = TensorData::from_tch(&transposed).unwrap();
        assert_eq!(data.shape, [3, 2]);
        assert_eq!(data.to_f32_vec().unwrap(), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }

    #[test]
    fn refuses_inconsistent_data() {
        let bad = TensorData {
            dtype: Dtype::F32,
            shape: vec![4],
            data: vec![0; 8],
        };
        assert!(matches!(
            bad.to_tch(),
            Err(ArtifactError::InvalidTensor { .. })
        ));
    }
}
