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

/// Dynamic loss scaling, as PyTorch's `GradScaler` does it, for a model computing in f16: the
/// loss is multiplied by `scale` before the backward pass so that small gradients survive f16's
/// narrow range, and the gradients are divided by it after. A pass whose gradients overflowed
/// is dropped and the scale halved; after [`LossScale::GROWTH_INTERVAL`] good passes in a row
/// it doubles. For f32 and bf16 the scale stays 1 and nothing is checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossScale {
    /// The factor on the loss (1 when inactive).
    pub scale: f64,
    /// Good passes since the scale last changed.
    pub good_passes: u32,
    /// Whether scaling is on (f16).
    pub active: bool,
}

impl Default for LossScale {
    fn default() -> Self {
        Self::for_dtype(ComputeDtype::F32)
    }
}

impl LossScale {
    /// Good passes after which the scale doubles.
    pub const GROWTH_INTERVAL: u32 = 2000;
    /// The first scale under f16.
    pub const INITIAL: f64 = 65536.0;

    /// Active, from [`LossScale::INITIAL`], for f16; inactive (scale 1) otherwise.
    pub fn for_dtype(dtype: ComputeDtype) -> Self {
        let active = dtype == ComputeDtype::F16;
        Self {
            scale: if active { Self::INITIAL } else { 1.0 },
            good_passes: 0,
            active,
        }
    }

    /// Records whether the last pass's gradients were all finite and adapts the scale: halves
    /// it after an overflow, doubles it after a run of good passes. Returns `finite`.
    pub fn update(&mut self, finite: bool) -> bool {
        if !self.active {
            return finite;
        }
        if finite {
            self.good_passes += 1;
            if self.good_passes == Self::GROWTH_INTERVAL {
                self.scale *= 2.0;
                self.good_passes = 0;
            }
        } else {
            self.scale = (self.scale / 2.0).max(1.0);
            self.good_passes = 0;
        }
        finite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_backs_off_on_overflow_and_grows_after_good_passes() {
        let mut off = LossScale::for_dtype(ComputeDtype::Bf16);
        assert!(
            !off.update(false) && off.scale == 1.0,
            "inactive: never changes"
        );
        let mut scale = LossScale::for_dtype(ComputeDtype::F16);
        assert!(!scale.update(false));
        assert_eq!(scale.scale, LossScale::INITIAL / 2.0);
        for _ in 0..LossScale::GROWTH_INTERVAL {
            assert!(scale.update(true));
        }
        assert_eq!((scale.scale, scale.good_passes), (LossScale::INITIAL, 0));
    }

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
