//! Accumulating `|W ⊙ ∂L/∂W|` over backward passes, for any model with named linear layers.

use crate::config::{Estimator, ScoreDtype, Signal, Store};
use crate::error::ScoreError;
use taso_artifact::TensorData;
use taso_artifact::{MatrixScores, Target};
use taso_models::LinearHost;
use tch::{Kind, Tensor};

/// One tracked weight and its running sum.
struct Entry {
    name: String,
    weight: Tensor,
    sum: Tensor,
}

/// Tracks the weight gradients of the target layers and sums their importance.
pub struct Scorer {
    estimator: Estimator,
    signal: Signal,
    entries: Vec<Entry>,
    passes: usize,
}

impl Scorer {
    /// Starts tracking `∂L/∂W` of every linear layer of `host` whose name `is_target` accepts,
    /// scoring the paper's signal `W ⊙ ∂L/∂W` (see [`Scorer::with_signal`]).
    pub fn attach(
        host: &mut dyn LinearHost,
        is_target: impl Fn(&str) -> bool,
        estimator: Estimator,
    ) -> Self {
        let mut entries = Vec::new();
        for linear in host
            .linears_mut()
            .into_iter()
            .filter(|l| is_target(l.name()))
        {
            linear.track_weight_grad(true);
            let weight = linear.weight.shallow_clone();
            let sum = weight.zeros_like().to_kind(Kind::Float).detach();
            entries.push(Entry {
                name: linear.name().to_string(),
                weight,
                sum,
            });
        }
        Self {
            estimator,
            signal: Signal::WeightGrad,
            entries,
            passes: 0,
        }
    }

    /// Scores `signal` instead of `W ⊙ ∂L/∂W`; set it before the first [`Scorer::accumulate`].
    pub fn with_signal(mut self, signal: Signal) -> Self {
        self.signal = signal;
        self
    }

    /// Names of the tracked layers, in model order.
    pub fn targets(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    /// Adds the gradients of the last backward pass and clears them.
    pub fn accumulate(&mut self) {
        tch::no_grad(|| {
            for entry in &mut self.entries {
                let mut grad = entry.weight.grad();
                if !grad.defined() {
                    continue;
                }
                let evidence = match self.estimator {
                    Estimator::SumAbs => weigh(self.signal, &entry.weight, &grad).abs(),
                    Estimator::AbsSum => grad.shallow_clone(),
                };
                let _ = entry.sum.g_add_(&evidence.to_kind(Kind::Float));
                let _ = grad.zero_();
            }
        });
        self.passes += 1;
    }

    /// Backward passes accumulated so far.
    pub fn passes(&self) -> usize {
        self.passes
    }

    /// Stops tracking and returns each target's scores with its marginals.
    pub fn finish(self, store: Store, dtype: ScoreDtype) -> Result<Vec<MatrixScores>, ScoreError> {
        self.entries
            .into_iter()
            .map(|entry| entry.into_scores(self.estimator, self.signal, store, dtype))
            .collect()
    }
}

impl Entry {
    fn into_scores(
        self,
        estimator: Estimator,
        signal: Signal,
        store: Store,
        dtype: ScoreDtype,
    ) -> Result<MatrixScores, ScoreError> {
        let _ = self.weight.set_requires_grad(false);
        let scores = tch::no_grad(|| match estimator {
            Estimator::SumAbs => self.sum,
            Estimator::AbsSum => weigh(signal, &self.weight.to_kind(Kind::Float), &self.sum).abs(),
        })
        .to_device(tch::Device::Cpu);
        let size = scores.size();
        let target = Target {
            name: self.name,
            d_out: size[0] as usize,
            d_in: size[1] as usize,
        };
        let row = Vec::<f32>::try_from(scores.sum_dim_intlist(1, false, Kind::Float))?;
        let col = Vec::<f32>::try_from(scores.sum_dim_intlist(0, false, Kind::Float))?;
        let scores = match store {
            Store::Marginals => None,
            Store::Full => Some(TensorData::from_tch(&scores.to_kind(kind_of(dtype)))?),
        };
        Ok(MatrixScores {
            target,
            row,
            col,
            scores,
        })
    }
}

/// The signal of a gradient (one batch's, or the sum over batches): `W ⊙ grad` or `grad` itself.
fn weigh(signal: Signal, weight: &Tensor, grad: &Tensor) -> Tensor {
    match signal {
        Signal::WeightGrad => weight * grad,
        Signal::Grad => grad.shallow_clone(),
    }
}

fn kind_of(dtype: ScoreDtype) -> Kind {
    match dtype {
        ScoreDtype::F32 => Kind::Float,
        ScoreDtype::F16 => Kind::Half,
        ScoreDtype::Bf16 => Kind::BFloat16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use taso_models::Linear;

    /// A "model" made of one linear layer.
    struct OneLayer(Linear);

    impl LinearHost for OneLayer {
        fn linears(&self) -> Vec<&Linear> {
            vec![&self.0]
        }
        fn linears_mut(&mut self) -> Vec<&mut Linear> {
            vec![&mut self.0]
        }
    }

    fn layer() -> OneLayer {
        let weight = Tensor::from_slice(&[1.0f32, -2.0, 0.5, 3.0, 0.0, -1.0]).view([2, 3]);
        OneLayer(Linear::new("block.0.proj", weight, None))
    }

    /// Loss of one batch: `Σ_n c · (W x_n)_0`, whose gradient is `∂L/∂W[0, j] = c Σ_n x_n[j]`
    /// and zero on row 1.
    fn backward(model: &OneLayer, xs: &[[f32; 3]], c: f32) {
        let flat: Vec<f32> = xs.iter().flatten().copied().collect();
        let x = Tensor::from_slice(&flat).view([xs.len() as i64, 3]);
        (model.0.forward(&x).select(1, 0).sum(Kind::Float) * f64::from(c)).backward();
    }

    fn scores(estimator: Estimator, signal: Signal) -> MatrixScores {
        let mut model = layer();
        let mut scorer =
            Scorer::attach(&mut model, |n| n.starts_with("block"), estimator).with_signal(signal);
        backward(&model, &[[1.0, 2.0, 0.0], [1.0, 0.0, 4.0]], 1.0); // grad row 0: [2, 2, 4]
        scorer.accumulate();
        backward(&model, &[[1.0, 1.0, 1.0]], -1.0); // grad row 0: [-1, -1, -1]
        scorer.accumulate();
        scorer
            .finish(Store::Full, ScoreDtype::F32)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn sum_abs_matches_the_analytic_gradient() {
        let s = scores(Estimator::SumAbs, Signal::WeightGrad);
        // |W0 ⊙ g| per batch: [|1·2|, |-2·2|, |0.5·4|] + [|1·-1|, |-2·-1|, |0.5·-1|] = [3, 6, 2.5].
        let full = s.scores.unwrap().to_f32_vec().unwrap();
        assert_eq!(full, vec![3.0, 6.0, 2.5, 0.0, 0.0, 0.0]);
        assert_eq!(s.row, vec![11.5, 0.0]);
        assert_eq!(s.col, vec![3.0, 6.0, 2.5]);
        assert_eq!((s.target.d_out, s.target.d_in), (2, 3));
    }

    #[test]
    fn abs_sum_lets_opposite_gradients_cancel() {
        let s = scores(Estimator::AbsSum, Signal::WeightGrad);
        // |W0 ⊙ (g1 + g2)| = |[1·1, -2·1, 0.5·3]| = [1, 2, 1.5].
        assert_eq!(
            s.scores.unwrap().to_f32_vec().unwrap(),
            vec![1.0, 2.0, 1.5, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn the_grad_signal_leaves_the_weights_out() {
        // Σ_b |g_b| = |[2, 2, 4]| + |[-1, -1, -1]| = [3, 3, 5].
        let s = scores(Estimator::SumAbs, Signal::Grad);
        assert_eq!(
            s.scores.unwrap().to_f32_vec().unwrap(),
            vec![3.0, 3.0, 5.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(s.row, vec![11.0, 0.0]);
        // |Σ_b g_b| = |[1, 1, 3]|.
        let s = scores(Estimator::AbsSum, Signal::Grad);
        assert_eq!(
            s.scores.unwrap().to_f32_vec().unwrap(),
            vec![1.0, 1.0, 3.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn marginals_only_and_half_storage() {
        let mut model = layer();
        let mut scorer = Scorer::attach(&mut model, |_| true, Estimator::SumAbs);
        backward(&model, &[[1.0, 2.0, 0.0]], 1.0);
        scorer.accumulate();
        let s = scorer
            .finish(Store::Marginals, ScoreDtype::F32)
            .unwrap()
            .remove(0);
        assert!(s.scores.is_none());
        assert_eq!(s.row, vec![5.0, 0.0]);
        assert!(!model.0.weight.requires_grad(), "finishing stops tracking");

        let mut scorer = Scorer::attach(&mut model, |_| true, Estimator::SumAbs);
        backward(&model, &[[1.0, 2.0, 0.0]], 1.0);
        scorer.accumulate();
        let s = scorer
            .finish(Store::Full, ScoreDtype::Bf16)
            .unwrap()
            .remove(0);
        assert_eq!(s.scores.as_ref().unwrap().dtype, taso_artifact::Dtype::BF16);
        assert_eq!(s.scores_f32().unwrap().unwrap()[..2], [1.0, 4.0]);
    }
}
