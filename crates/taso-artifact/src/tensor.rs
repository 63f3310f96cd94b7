//! A tensor as stored in safetensors: element type, shape and little-endian bytes.
//! It needs no libtorch; see the `tch` feature for conversions.

use half::{bf16, f16};
use safetensors::Dtype;

use crate::error::ArtifactError;
use sealed::Sealed;

/// A dense, row-major tensor in safetensors layout.
///
/// The fields are public for cheap moves; [`TensorData::new`] and the typed constructors check
/// that `data.len()` matches `shape` and `dtype`, and the writer checks again.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorData {
    /// The element type.
    pub dtype: Dtype,
    /// The dimensions (empty for a scalar).
    pub shape: Vec<usize>,
    /// The elements, little-endian, row-major.
    pub data: Vec<u8>,
}

/// An element type with a fixed safetensors [`Dtype`]: `f64`, `f32`, [`struct@f16`], [`bf16`], `i64`,
/// `i32`, `u8` and `bool`. Sealed: it cannot be implemented outside this crate.
pub trait Element: Copy + sealed::Sealed {
    /// The safetensors element type.
    const DTYPE: Dtype;
}

mod sealed {
    /// Byte conversions behind [`super::Element`].
    pub trait Sealed: Sized {
        /// Bytes per element.
        const WIDTH: usize;
        /// Appends the little-endian bytes of `self`.
        fn put(self, out: &mut Vec<u8>);
        /// Reads one element from exactly `WIDTH` little-endian bytes.
        fn get(bytes: &[u8]) -> Self;
    }
}

/// Implements [`Element`] for types with `to_le_bytes`/`from_le_bytes`.
macro_rules! le_element {
    ($($ty:ty => $dtype:ident),* $(,)?) => {$(
        impl sealed::Sealed for $ty {
            const WIDTH: usize = std::mem::size_of::<$ty>();
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(bytes: &[u8]) -> Self {
                let mut le = [0u8; std::mem::size_of::<$ty>()];
                le.copy_from_slice(bytes);
                <$ty>::from_le_bytes(le)
            }
        }
        impl Element for $ty {
            const DTYPE: Dtype = Dtype::$dtype;
        }
    )*};
}

le_element!(f64 => F64, f32 => F32, f16 => F16, bf16 => BF16, i64 => I64, i32 => I32, u8 => U8);

impl sealed::Sealed for bool {
    const WIDTH: usize = 1;
    fn put(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
    fn get(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
}

impl Element for bool {
    const DTYPE: Dtype = Dtype::BOOL;
}

impl TensorData {
    /// A tensor from raw little-endian bytes; fails if `data.len()` does not match.
    pub fn new(
        dtype: Dtype,
        shape: impl Into<Vec<usize>>,
        data: Vec<u8>,
    ) -> Result<Self, ArtifactError> {
        let tensor = TensorData {
            dtype,
            shape: shape.into(),
            data,
        };
        tensor.validate()?;
        Ok(tensor)
    }

    /// A tensor from typed values; fails if their count does not match `shape`.
    pub fn from_slice<T: Element>(
        shape: impl Into<Vec<usize>>,
        values: &[T],
    ) -> Result<Self, ArtifactError> {
        let mut data = Vec::with_capacity(values.len() * T::WIDTH);
        for &value in values {
            value.put(&mut data);
        }
        Self::new(T::DTYPE, shape, data)
    }

    /// An `F32` tensor, see [`from_slice`](Self::from_slice).
    pub fn from_f32(shape: impl Into<Vec<usize>>, values: &[f32]) -> Result<Self, ArtifactError> {
        Self::from_slice(shape, values)
    }

    /// An `I64` tensor, see [`from_slice`](Self::from_slice).
    pub fn from_i64(shape: impl Into<Vec<usize>>, values: &[i64]) -> Result<Self, ArtifactError> {
        Self::from_slice(shape, values)
    }

    /// A `U8` tensor, see [`from_slice`](Self::from_slice).
    pub fn from_u8(shape: impl Into<Vec<usize>>, values: &[u8]) -> Result<Self, ArtifactError> {
        Self::from_slice(shape, values)
    }

    /// The elements as `T`; [`ArtifactError::DtypeMismatch`] unless `dtype` is `T::DTYPE`.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>, ArtifactError> {
        self.expect_dtype(T::DTYPE, "tensor")?;
        self.validate()?;
        Ok(self.data.chunks_exact(T::WIDTH).map(T::get).collect())
    }

    /// The elements of an `F32` tensor.
    pub fn to_f32_vec(&self) -> Result<Vec<f32>, ArtifactError> {
        self.to_vec()
    }

    /// The elements of an `I64` tensor.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>, ArtifactError> {
        self.to_vec()
    }

    /// The elements of a `U8` tensor.
    pub fn to_u8_vec(&self) -> Result<Vec<u8>, ArtifactError> {
        self.to_vec()
    }

    /// The elements of a floating-point tensor (`F64`, `F32`, `F16`, `BF16`) widened to `f64`,
    /// without copying the whole tensor; `None` for other element types.
    pub fn float_values(&self) -> Option<impl Iterator<Item = f64> + '_> {
        let (width, widen): (usize, fn(&[u8]) -> f64) = match self.dtype {
            Dtype::F64 => (8, f64::get),
            Dtype::F32 => (4, |b| f64::from(f32::get(b))),
            Dtype::F16 => (2, |b| f16::get(b).to_f64()),
            Dtype::BF16 => (2, |b| bf16::get(b).to_f64()),
            _ => return None,
        };
        Some(self.data.chunks_exact(width).map(widen))
    }

    /// The number of elements (1 for a scalar), or `None` on overflow.
    pub fn numel(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// Checks that `data.len()` is what `shape` and `dtype` require.
    pub fn validate(&self) -> Result<(), ArtifactError> {
        match self.size_problem() {
            None => Ok(()),
            Some(reason) => Err(ArtifactError::InvalidTensor { reason }),
        }
    }

    /// Why `data.len()` does not fit `shape` and `dtype`, if it does not.
    pub(crate) fn size_problem(&self) -> Option<String> {
        let bits = self
            .numel()
            .and_then(|n| n.checked_mul(self.dtype.bitsize()));
        match bits {
            Some(bits) if bits % 8 == 0 && bits / 8 == self.data.len() => None,
            Some(bits) if bits % 8 == 0 => Some(format!(
                "{} tensor of shape {:?} needs {} bytes but has {}",
                self.dtype,
                self.shape,
                bits / 8,
                self.data.len()
            )),
            Some(_) => Some(format!(
                "{} tensor of shape {:?} does not fill whole bytes",
                self.dtype, self.shape
            )),
            None => Some(format!("shape {:?} is too large", self.shape)),
        }
    }

    /// Fails with [`ArtifactError::DtypeMismatch`] naming `what` unless `dtype` is `expected`.
    pub(crate) fn expect_dtype(&self, expected: Dtype, what: &str) -> Result<(), ArtifactError> {
        if self.dtype == expected {
            Ok(())
        } else {
            Err(ArtifactError::DtypeMismatch {
                what: what.to_string(),
                expected,
                found: self.dtype,
            })
        }
    }
}
