//! Rotary position embeddings (RoPE), with optional Llama-3 frequency scaling, in the
//! "rotate half" layout of Hugging Face checkpoints.

use super::config::{DecoderConfig, Llama3RopeScaling};
use tch::{Device, Kind, Tensor};

/// The rotation angles' inverse frequencies of one head.
#[derive(Debug)]
pub(crate) struct Rope {
    inv_freq: Tensor,
}

/// The cosines and sines for a batch of positions, `[batch, 1, seq, head_dim]` each.
pub(crate) struct RopeAngles {
    cos: Tensor,
    sin: Tensor,
}

impl Rope {
    pub(crate) fn new(config: &DecoderConfig, device: Device) -> Self {
        let dim = config.head_dim;
        let inv_freq: Vec<f64> = (0..dim / 2)
            .map(|i| 1.0 / config.rope_theta.powf((2 * i) as f64 / dim as f64))
            .map(|f| config.rope_scaling.map_or(f, |s| llama3_scaled(f, &s)))
            .collect();
        let inv_freq = Tensor::from_slice(&inv_freq)
            .to_kind(Kind::Float)
            .to_device(device);
        Self { inv_freq }
    }

    /// Angles for `positions` (`[batch, seq]`, i64), computed in f32 and handed out as `kind`
    /// (the kind of the queries and keys they rotate).
    pub(crate) fn angles(&self, positions: &Tensor, kind: Kind) -> RopeAngles {
        let freqs = positions.to_kind(Kind::Float).unsqueeze(-1) * self.inv_freq.view([1, 1, -1]);
        let emb = Tensor::cat(&[&freqs, &freqs], -1).unsqueeze(1);
        RopeAngles {
            cos: emb.cos().to_kind(kind),
            sin: emb.sin().to_kind(kind),
        }
    }
}

impl RopeAngles {
    /// Rotates `x` (`[batch, heads, seq, head_dim]`).
    pub(crate) fn apply(&self, x: &Tensor) -> Tensor {
        let half = x.size()[3] / 2;
        let rotated = Tensor::cat(&[x.narrow(3, half, half).neg(), x.narrow(3, 0, half)], 3);
        x * &self.cos + rotated * &self.sin
    }
}

/// Llama 3's scaling of one inverse frequency: long wavelengths are slowed down by `factor`,
/// short ones kept, and the band in between interpolated smoothly.
fn llama3_scaled(inv_freq: f64, s: &Llama3RopeScaling) -> f64 {
    let wavelen = 2.0 * std::f64::consts::PI / inv_freq;
    let low_freq_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
    let high_freq_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
    if wavelen > low_freq_wavelen {
        inv_freq / s.factor
    } else if wavelen < high_freq_wavelen {
        inv_freq
    } else {
        let smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor)
            / (s.high_freq_factor - s.low_freq_factor);
        (1.0 - smooth) * inv_freq / s.factor + smooth * inv_freq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_scaling_keeps_high_divides_low_and_blends_between() {
        let s = Llama3RopeScaling {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 64.0,
        };
        assert_eq!(llama3_scaled(1.0, &s), 1.0);
        assert_eq!(llama3_scaled(0.001, &s), 0.001 / 8.0);
        let mid = llama3_scaled(0.1, &s);
        assert!(0.1 / 8.0 < mid && mid < 0.1, "{mid}");
    }

    #[test]
    fn rotation_at_position_zero_is_the_identity() {
        let x = Tensor::randn([1, 2, 1, 8], (Kind::Float, Device::Cpu));
        let rope = Rope {
            inv_freq: Tensor::from_slice(&[1.0f32, 0.1, 0.01, 0.001]),
        };
        let angles = rope.angles(
            &Tensor::zeros([1, 1], (Kind::Int64, Device::Cpu)),
            Kind::Float,
        );
        assert!(angles.apply(&x).allclose(&x, 1e-6, 1e-6, false));
    }
}
