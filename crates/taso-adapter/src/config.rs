//! The `[lora]` section of the run config, and the scale `s` it implies.

use crate::error::AdapterError;
use serde::{Deserialize, Serialize};

/// How the adapter factors are stored and applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoraForm {
    /// `A ∈ R^{r×|C|}`, `B ∈ R^{|R|×r}`: gather the kept input columns, scatter-add into the
    /// kept output rows ([`crate::SparseLora`]). What TASO trains.
    #[default]
    Compact,
    /// Dense `A ∈ R^{r×d_in}`, `B ∈ R^{d_out×r}` with fixed 0/1 masks ([`crate::MaskedLora`]).
    /// Mathematically identical; exists to verify the compact form.
    Masked,
}

/// The fan-in of A's Kaiming-uniform initialisation, `±1/√fan_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitFanIn {
    /// A's own input size `|C|`, the kept columns (as `nn.Linear` would initialise a compact A).
    #[default]
    Kept,
    /// The matrix's full input size `d_in`, the bound a PEFT LoRA's A gets (what masking a PEFT
    /// LoRA to the kept columns would give): `√(d_in/|C|)` times smaller than `kept`.
    Input,
}

/// The `[lora]` section of the run config. The rank r is not here: it comes from the regions
/// artifact (`Regions::rank`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoraConfig {
    /// LoRA α; left out, α = r (so `s = 1`).
    pub alpha: Option<f64>,
    /// Scale by `α / √r` (rank-stabilised LoRA) instead of `α / r`.
    pub rslora: bool,
    /// How the factors are stored and applied.
    pub form: LoraForm,
    /// The fan-in of A's initialisation bound `1/√fan_in`.
    pub init_fan_in: InitFanIn,
}

impl LoraConfig {
    /// Checks the values before any work starts.
    pub fn validate(&self) -> Result<(), AdapterError> {
        match self.alpha {
            Some(alpha) if !(alpha.is_finite() && alpha > 0.0) => Err(AdapterError::InvalidConfig(
                format!("`alpha` = {alpha} must be a positive number (leave it out for α = rank)"),
            )),
            _ => Ok(()),
        }
    }

    /// The scaling of an adapter of rank `rank` under this config.
    pub fn scaling(&self, rank: usize) -> Scaling {
        Scaling {
            rank,
            alpha: self.alpha.unwrap_or(rank as f64),
            rslora: self.rslora,
        }
    }
}

/// Rank, α and the rslora switch: everything that decides the scale `s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scaling {
    /// LoRA rank r.
    pub rank: usize,
    /// LoRA α.
    pub alpha: f64,
    /// Whether `s = α / √r` (else `α / r`).
    pub rslora: bool,
}

impl Scaling {
    /// The scale `s` of `ΔW = s · B A`.
    pub fn scale(&self) -> f64 {
        let rank = self.rank as f64;
        if self.rslora {
            self.alpha / rank.sqrt()
        } else {
            self.alpha / rank
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_defaults_to_the_rank_and_rslora_divides_by_its_root() {
        let config = LoraConfig::default();
        assert_eq!(config.scaling(8).scale(), 1.0);
        let config = LoraConfig {
            alpha: Some(16.0),
            rslora: true,
            ..LoraConfig::default()
        };
        assert_eq!(config.scaling(4).scale(), 8.0);
    }

    #[test]
    fn a_non_positive_alpha_is_refused() {
        for alpha in [0.0, -1.0, f64::NAN] {
            let config = LoraConfig {
                alpha: Some(alpha),
                ..LoraConfig::default()
            };
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("[lora]") && err.contains("alpha"), "{err}");
        }
    }
}
