//! The floating-point type a model computes in: its frozen base weights and activations.
//!
//! Whatever it is, everything a run trains — adapter factors, a task head, their optimizer
//! state — stays in f32 (master weights), and the places where precision matters compute in
//! f32: RMSNorm's statistics, the loss's log-softmax, the importance sums.

use serde::{Deserialize, Serialize};
use tch::Kind;

/// `run.dtype`: the kind the base model's weights and activations are held in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputeDtype {
    /// 32-bit floats: the reference numerics, and the default.
    #[default]
    F32,
    /// bfloat16: half the memory, f32's range; the choice on a GPU.
    Bf16,
    /// IEEE half precision: half the memory, a narrow range (large activations can overflow).
    F16,
}

impl ComputeDtype {
    /// The libtorch kind.
    pub fn kind(self) -> Kind {
        match self {
            Self::F32 => Kind::Float,
            Self::Bf16 => Kind::BFloat16,
            Self::F16 => Kind::Half,
        }
    }

    /// The config spelling (`f32`, `bf16`, `f16`).
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
            Self::F16 => "f16",
        }
    }

    /// Bytes per element.
    pub fn bytes(self) -> u64 {
        match self {
            Self::F32 => 4,
            Self::Bf16 | Self::F16 => 2,
        }
    }
}

impl std::fmt::Display for ComputeDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ComputeDtype {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "f32" => Ok(Self::F32),
            "bf16" => Ok(Self::Bf16),
            "f16" => Ok(Self::F16),
            other => Err(format!(
                "unknown dtype `{other}`: expected f32, bf16 or f16"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for dtype in [ComputeDtype::F32, ComputeDtype::Bf16, ComputeDtype::F16] {
            assert_eq!(dtype.name().parse::<ComputeDtype>().unwrap(), dtype);
        }
        assert!("fp16"
            .parse::<ComputeDtype>()
            .unwrap_err()
            .contains("expected f32"));
    }
}
