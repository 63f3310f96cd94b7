//! The adapter's parameter budget and the sparsity-aware learning-rate scaling it implies.

use serde::{Deserialize, Serialize};
use taso_adapter::AdapterSet;

/// How many parameters an adapter has, next to a dense LoRA of the same rank on the same
/// matrices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// LoRA rank r.
    pub rank: usize,
    /// `P_sparse`: the adapter's trainable parameters, `Σ_ℓ r (|R_ℓ| + |C_ℓ|)`.
    pub p_sparse: usize,
    /// `P_dense(r)`: a dense rank-r LoRA on the adapted matrices, `r · Σ_ℓ (d_out + d_in)`.
    pub p_dense: usize,
}

impl Budget {
    /// The budget of `adapters`.
    pub fn of(adapters: &AdapterSet) -> Self {
        let rank = adapters.scaling().rank;
        Self {
            rank,
            p_sparse: adapters.num_params(),
            p_dense: adapters.dense_equivalent_params(rank),
        }
    }

    /// The factor on the adapter's learning rate, `(P_dense(r) / P_sparse)^γ`: 1 for dense
    /// LoRA or γ = 0, above 1 for a sparse adapter, so that fewer parameters move further.
    pub fn lr_factor(&self, gamma: f64) -> f64 {
        if self.p_sparse == 0 {
            return 1.0;
        }
        (self.p_dense as f64 / self.p_sparse as f64).powf(gamma)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_factor_is_the_density_ratio_to_the_power_gamma() {
        let sparse = Budget {
            rank: 8,
            p_sparse: 100,
            p_dense: 400,
        };
        assert_eq!(sparse.lr_factor(0.5), 2.0);
        assert_eq!(sparse.lr_factor(0.0), 1.0);
        assert_eq!(sparse.lr_factor(1.0), 4.0);
        let dense = Budget {
            p_sparse: 400,
            ..sparse
        };
        assert_eq!(dense.lr_factor(0.5), 1.0);
    }
}
