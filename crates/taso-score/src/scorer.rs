//! Accumulating `|W ⊙ ∂L/∂W|` over backward passes, for any named weight tensors of any tch
//! model: the caller runs its own forward, loss and `backward()`; the scorer only reads the
//! weights' gradients, and hands the weights back as it found them.

use std::collections::BTreeMap;

use crate::error::ScoreError;
use crate::{Estimator, ScoreDtype, Signal, Store};
use taso_artifact::TensorData;
use taso_artifact::{MatrixScores, Target};
use tch::{Kind, Tensor};

/// One tracked weight, its running sum, and the state it is handed back in.
struct Entry {
    name: String,
    weight: Tensor,
    sum: RunningSum,
    /// Whether the caller's weight recorded gradients before scoring.
    requires_grad: bool,
    /// The caller's gradient before scoring (a copy), if it had one.
    grad: Option<Tensor>,
}

/// What an entry keeps between passes (f32).
enum RunningSum {
    /// The whole `[d_out, d_in]` sum.
    Full(Tensor),
    /// Only its row and column marginals: enough for [`Store::Marginals`] under
    /// [`Estimator::SumAbs`], whose marginals are sums of per-pass marginals — a 3B model's
    /// scoring then holds no full f32 matrix per target.
    Marginals { row: Tensor, col: Tensor },
}

impl RunningSum {
    fn add(&mut self, evidence: &Tensor) {
        match self {
            Self::Full(sum) => {
                let _ = sum.g_add_(evidence);
            }
            Self::Marginals { row, col } => {
                let (rows, cols) = marginals(evidence);
                let _ = row.g_add_(&rows);
                let _ = col.g_add_(&cols);
            }
        }
    }
}

/// The row and column sums of a `[d_out, d_in]` score matrix, in f32.
fn marginals(scores: &Tensor) -> (Tensor, Tensor) {
    (
        scores.sum_dim_intlist(1, false, Kind::Float),
        scores.sum_dim_intlist(0, false, Kind::Float),
    )
}

/// Tracks the gradients of named 2-D weights over backward passes and sums their importance.
///
/// [`Scorer::new`] turns gradient recording on for each weight (saving the caller's
/// `requires_grad` and any gradient it already held); after each of the caller's
/// `loss.backward()`, [`Scorer::accumulate`] adds the importance of that pass and clears the
/// gradient; [`Scorer::finish`] returns the scores. When the scorer is finished or dropped,
/// every weight gets its `requires_grad` back, and its gradient is what it was before scoring
/// (zeros where it had none), so the caller can go on training the same tensors.
///
/// ```
/// use taso_score::{Estimator, ScoreDtype, Scorer, Store};
/// use tch::{nn, nn::Module, Device, Kind, Tensor};
///
/// # fn main() -> Result<(), taso_score::ScoreError> {
/// let vs = nn::VarStore::new(Device::Cpu);
/// let net = nn::linear(vs.root() / "fc", 4, 2, Default::default());
/// let mut scorer = Scorer::from_var_store(&vs, |name| name.ends_with("weight"), Estimator::SumAbs)?;
/// for _ in 0..3 {
///     let x = Tensor::randn([8, 4], (Kind::Float, Device::Cpu));
///     let y = Tensor::zeros([8], (Kind::Int64, Device::Cpu));
///     net.forward(&x).cross_entropy_for_logits(&y).backward();
///     scorer.accumulate();
/// }
/// let scores = scorer.finish(ScoreDtype::F32)?;
/// assert_eq!(scores[0].target.name, "fc.weight");
/// assert_eq!((scores[0].row.len(), scores[0].col.len()), (2, 4));
/// assert!(vs.trainable_variables().iter().all(|t| t.requires_grad()), "still trainable");
/// # Ok(()) }
/// ```
pub struct Scorer {
    estimator: Estimator,
    signal: Signal,
    store: Store,
    entries: Vec<Entry>,
    passes: usize,
}

impl Scorer {
    /// Starts tracking `∂L/∂W` of each named weight (a leaf tensor of rank 2, `[d_out, d_in]`,
    /// shared with the caller's model, e.g. a shallow clone), in the order given, scoring the
    /// paper's signal `W ⊙ ∂L/∂W` (see [`Scorer::with_signal`]). A weight that is not a 2-D
    /// floating-point tensor is refused by name.
    pub fn new<N: Into<String>>(
        weights: impl IntoIterator<Item = (N, Tensor)>,
        estimator: Estimator,
    ) -> Result<Self, ScoreError> {
        let entries = weights
            .into_iter()
            .map(|(name, weight)| Entry::track(name.into(), weight))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            estimator,
            signal: Signal::WeightGrad,
            store: Store::Full,
            entries,
            passes: 0,
        })
    }

    /// [`Scorer::new`] on the variables of a `tch::nn::VarStore` whose names `is_target`
    /// accepts (e.g. `|name| name.ends_with(".weight")`), in name order.
    pub fn from_var_store(
        vs: &tch::nn::VarStore,
        is_target: impl Fn(&str) -> bool,
        estimator: Estimator,
    ) -> Result<Self, ScoreError> {
        let named: BTreeMap<String, Tensor> = vs
            .variables()
            .into_iter()
            .filter(|(name, _)| is_target(name))
            .collect();
        Self::new(named, estimator)
    }

    /// Scores `signal` instead of `W ⊙ ∂L/∂W`; set it before the first [`Scorer::accumulate`].
    pub fn with_signal(mut self, signal: Signal) -> Self {
        self.signal = signal;
        self
    }

    /// Keeps `store` (default [`Store::Full`]); set it before the first
    /// [`Scorer::accumulate`]. With [`Store::Marginals`] and [`Estimator::SumAbs`] only the
    /// marginals are summed, in `d_out + d_in` floats per weight instead of `d_out · d_in`.
    pub fn with_store(mut self, store: Store) -> Self {
        self.store = store;
        if store == Store::Marginals && self.estimator == Estimator::SumAbs {
            for entry in &mut self.entries {
                let [d_out, d_in] = entry.weight.size()[..] else {
                    unreachable!("tracked weights are matrices")
                };
                let options = (Kind::Float, entry.weight.device());
                entry.sum = RunningSum::Marginals {
                    row: Tensor::zeros([d_out], options),
                    col: Tensor::zeros([d_in], options),
                };
            }
        }
        self
    }

    /// Names of the tracked weights, in the order given.
    pub fn targets(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    /// Adds the gradients of the last backward pass and clears them.
    pub fn accumulate(&mut self) {
        self.accumulate_scaled(1.0);
    }

    /// Adds the gradients of the last backward pass, which was taken of the loss times `scale`
    /// (a loss scale under f16), divided by it in f32, and clears them. When `scale` is not 1
    /// and any gradient overflowed, adds nothing and returns `false`: the caller lowers the
    /// scale and runs the pass again.
    pub fn accumulate_scaled(&mut self, scale: f64) -> bool {
        let finite = tch::no_grad(|| {
            scale == 1.0
                || self.entries.iter().all(|entry| {
                    let grad = entry.weight.grad();
                    !grad.defined() || grad.isfinite().all().int64_value(&[]) == 1
                })
        });
        tch::no_grad(|| {
            for entry in &mut self.entries {
                let mut grad = entry.weight.grad();
                if !grad.defined() {
                    continue;
                }
                if finite {
                    // The gradient comes in the model's compute dtype; the evidence is formed
                    // and summed in f32 (a no-op cast for an f32 model).
                    let mut grad32 = grad.to_kind(Kind::Float);
                    if scale != 1.0 {
                        grad32 /= scale;
                    }
                    let evidence = match self.estimator {
                        Estimator::SumAbs => {
                            weigh(self.signal, &entry.weight.to_kind(Kind::Float), &grad32).abs()
                        }
                        Estimator::AbsSum => grad32,
                    };
                    entry.sum.add(&evidence);
                }
                let _ = grad.zero_();
            }
        });
        if finite {
            self.passes += 1;
        }
        finite
    }

    /// Bytes the scoring holds besides the model: each tracked weight's gradient (in its dtype)
    /// and its f32 running sum (the whole matrix, or only the marginals).
    pub fn state_bytes(&self) -> u64 {
        let bytes = |t: &Tensor| t.numel() as u64 * t.kind().elt_size_in_bytes() as u64;
        self.entries
            .iter()
            .map(|e| {
                bytes(&e.weight)
                    + match &e.sum {
                        RunningSum::Full(sum) => bytes(sum),
                        RunningSum::Marginals { row, col } => bytes(row) + bytes(col),
                    }
            })
            .sum()
    }

    /// Applies `reduce` to every running sum in place — e.g. a sum over the ranks of a
    /// data-parallel run, each of which accumulated its own batches: the sums of every
    /// estimator and store are plain sums over passes, so adding them up gives the scores of all
    /// the batches.
    pub fn reduce_sums<E>(
        &mut self,
        mut reduce: impl FnMut(&mut Tensor) -> Result<(), E>,
    ) -> Result<(), E> {
        for entry in &mut self.entries {
            match &mut entry.sum {
                RunningSum::Full(sum) => reduce(sum)?,
                RunningSum::Marginals { row, col } => {
                    reduce(row)?;
                    reduce(col)?;
                }
            }
        }
        Ok(())
    }

    /// Divides column `j` of the running sum of weight `name` by `factors[j]` (a zero factor
    /// zeroes its column): the scores the weight would get were its input feature `j` scaled by
    /// `1 / factors[j]`, e.g. by its root mean square, so that a feature does not rank high for
    /// its loudness alone. Both estimators commute with it. Needs the full sums
    /// ([`Store::Full`]): a row's sum changes with every column.
    pub fn divide_columns(&mut self, name: &str, factors: &[f64]) -> Result<(), ScoreError> {
        let entry = self
            .entries
            .iter_mut()
            .find(|e| e.name == name)
            .ok_or_else(|| ScoreError::UnknownWeight(name.to_string()))?;
        let RunningSum::Full(sum) = &mut entry.sum else {
            return Err(ScoreError::ColumnsNeedFullScores(name.to_string()));
        };
        let d_in = sum.size()[1];
        if factors.len() as i64 != d_in {
            return Err(ScoreError::ColumnFactors {
                name: name.to_string(),
                expected: d_in,
                found: factors.len(),
            });
        }
        let inverse: Vec<f32> = factors
            .iter()
            .map(|&f| if f > 0.0 { (1.0 / f) as f32 } else { 0.0 })
            .collect();
        let inverse = Tensor::from_slice(&inverse).to_device(sum.device());
        tch::no_grad(|| *sum *= inverse.unsqueeze(0));
        Ok(())
    }

    /// Backward passes accumulated so far.
    pub fn passes(&self) -> usize {
        self.passes
    }

    /// Returns each weight's marginals, with its full scores (in `dtype`) under
    /// [`Store::Full`], then hands the weights back.
    pub fn finish(self, dtype: ScoreDtype) -> Result<Vec<MatrixScores>, ScoreError> {
        self.entries
            .iter()
            .map(|entry| entry.scores(self.estimator, self.signal, self.store, dtype))
            .collect()
    }
}

impl Drop for Scorer {
    /// Hands every weight back as the scorer found it: `requires_grad` and gradient.
    fn drop(&mut self) {
        for entry in &self.entries {
            entry.restore();
        }
    }
}

impl Entry {
    fn track(name: String, weight: Tensor) -> Result<Self, ScoreError> {
        let size = weight.size();
        if size.len() != 2 || !weight.is_floating_point() {
            return Err(ScoreError::NotAMatrix {
                name,
                shape: size,
                kind: format!("{:?}", weight.kind()),
            });
        }
        let requires_grad = weight.requires_grad();
        let mut current = weight.grad();
        let grad = current.defined().then(|| {
            let saved = current.copy();
            let _ = current.zero_();
            saved
        });
        let _ = weight.set_requires_grad(true);
        let sum = RunningSum::Full(tch::no_grad(|| weight.zeros_like().to_kind(Kind::Float)));
        Ok(Self {
            name,
            weight,
            sum,
            requires_grad,
            grad,
        })
    }

    fn restore(&self) {
        let mut current = self.weight.grad();
        tch::no_grad(|| match (&self.grad, current.defined()) {
            (Some(saved), true) => {
                current.copy_(saved);
            }
            (None, true) => {
                let _ = current.zero_();
            }
            (_, false) => {}
        });
        let _ = self.weight.set_requires_grad(self.requires_grad);
    }

    fn scores(
        &self,
        estimator: Estimator,
        signal: Signal,
        store: Store,
        dtype: ScoreDtype,
    ) -> Result<MatrixScores, ScoreError> {
        let size = self.weight.size();
        let target = Target {
            name: self.name.clone(),
            d_out: size[0] as usize,
            d_in: size[1] as usize,
        };
        let marginal = |t: &Tensor| Vec::<f32>::try_from(t.to_device(tch::Device::Cpu));
        let sum = match &self.sum {
            RunningSum::Marginals { row, col } => {
                return Ok(MatrixScores {
                    target,
                    row: marginal(row)?,
                    col: marginal(col)?,
                    scores: None,
                })
            }
            RunningSum::Full(sum) => sum,
        };
        let scores = tch::no_grad(|| match estimator {
            Estimator::SumAbs => sum.shallow_clone(),
            Estimator::AbsSum => weigh(signal, &self.weight.to_kind(Kind::Float), sum).abs(),
        });
        let (row, col) = marginals(&scores);
        let (row, col) = (marginal(&row)?, marginal(&col)?);
        let scores = match store {
            Store::Marginals => None,
            Store::Full => Some(TensorData::from_tch(
                &scores.to_device(tch::Device::Cpu).to_kind(kind_of(dtype)),
            )?),
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

    /// A "model" made of one frozen weight `W ∈ R^{2×3}`.
    fn layer() -> Tensor {
        Tensor::from_slice(&[1.0f32, -2.0, 0.5, 3.0, 0.0, -1.0]).view([2, 3])
    }

    fn track(weight: &Tensor, estimator: Estimator) -> Scorer {
        Scorer::new([("block.0.proj", weight.shallow_clone())], estimator).unwrap()
    }

    /// Loss of one batch: `Σ_n c · (W x_n)_0`, whose gradient is `∂L/∂W[0, j] = c Σ_n x_n[j]`
    /// and zero on row 1.
    fn backward(weight: &Tensor, xs: &[[f32; 3]], c: f32) {
        let flat: Vec<f32> = xs.iter().flatten().copied().collect();
        let x = Tensor::from_slice(&flat).view([xs.len() as i64, 3]);
        (x.matmul(&weight.tr()).select(1, 0).sum(Kind::Float) * f64::from(c)).backward();
    }

    fn scores(estimator: Estimator, signal: Signal) -> MatrixScores {
        let model = layer();
        let mut scorer = track(&model, estimator).with_signal(signal);
        backward(&model, &[[1.0, 2.0, 0.0], [1.0, 0.0, 4.0]], 1.0); // grad row 0: [2, 2, 4]
        scorer.accumulate();
        backward(&model, &[[1.0, 1.0, 1.0]], -1.0); // grad row 0: [-1, -1, -1]
        scorer.accumulate();
        scorer.finish(ScoreDtype::F32).unwrap().remove(0)
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
    fn dividing_columns_rescales_them_under_both_estimators() {
        for (estimator, before) in [
            (Estimator::SumAbs, [3.0f32, 6.0, 2.5]),
            (Estimator::AbsSum, [1.0, 2.0, 1.5]),
        ] {
            let model = layer();
            let mut scorer = track(&model, estimator);
            backward(&model, &[[1.0, 2.0, 0.0], [1.0, 0.0, 4.0]], 1.0);
            scorer.accumulate();
            backward(&model, &[[1.0, 1.0, 1.0]], -1.0);
            scorer.accumulate();
            // Column 1 twice as loud, column 2 silent.
            scorer
                .divide_columns("block.0.proj", &[1.0, 2.0, 0.0])
                .unwrap();
            let s = scorer.finish(ScoreDtype::F32).unwrap().remove(0);
            let expected = [before[0], before[1] / 2.0, 0.0];
            assert_eq!(s.col, expected);
            assert_eq!(s.row, vec![expected.iter().sum::<f32>(), 0.0]);
        }
        let model = layer();
        let mut scorer = track(&model, Estimator::SumAbs);
        assert!(matches!(
            scorer.divide_columns("block.0.proj", &[1.0]),
            Err(ScoreError::ColumnFactors {
                expected: 3,
                found: 1,
                ..
            })
        ));
        assert!(matches!(
            scorer.divide_columns("nope", &[1.0; 3]),
            Err(ScoreError::UnknownWeight(_))
        ));
        let mut marginal = track(&model, Estimator::SumAbs).with_store(Store::Marginals);
        assert!(matches!(
            marginal.divide_columns("block.0.proj", &[1.0; 3]),
            Err(ScoreError::ColumnsNeedFullScores(_))
        ));
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
        let model = layer();
        for estimator in [Estimator::SumAbs, Estimator::AbsSum] {
            let mut scorer = track(&model, estimator).with_store(Store::Marginals);
            backward(&model, &[[1.0, 2.0, 0.0]], 1.0);
            scorer.accumulate();
            backward(&model, &[[1.0, 1.0, 1.0]], -1.0);
            scorer.accumulate();
            let s = scorer.finish(ScoreDtype::F32).unwrap().remove(0);
            assert!(s.scores.is_none());
            // Σ_b |W0 ⊙ g_b| = [1+1, 4+2, 0+0.5]; |W0 ⊙ Σ_b g_b| = [0, 2, 0.5].
            let (row, col) = match estimator {
                Estimator::SumAbs => (vec![8.5, 0.0], vec![2.0, 6.0, 0.5]),
                Estimator::AbsSum => (vec![2.5, 0.0], vec![0.0, 2.0, 0.5]),
            };
            assert_eq!((s.row, s.col), (row, col), "{estimator:?}");
        }
        assert!(!model.requires_grad(), "a frozen weight is frozen again");

        let mut scorer = track(&model, Estimator::SumAbs);
        backward(&model, &[[1.0, 2.0, 0.0]], 1.0);
        scorer.accumulate();
        let s = scorer.finish(ScoreDtype::Bf16).unwrap().remove(0);
        assert_eq!(s.scores.as_ref().unwrap().dtype, taso_artifact::Dtype::BF16);
        assert_eq!(s.scores_f32().unwrap().unwrap()[..2], [1.0, 4.0]);
    }

    #[test]
    fn a_trainable_weight_keeps_its_requires_grad_and_its_gradient() {
        let model = layer().set_requires_grad(true);
        backward(&model, &[[1.0, 1.0, 1.0]], 2.0); // the caller's own gradient: row 0 = 2
        let mut scorer = track(&model, Estimator::SumAbs);
        backward(&model, &[[1.0, 2.0, 0.0]], 1.0);
        scorer.accumulate();
        let s = scorer.finish(ScoreDtype::F32).unwrap().remove(0);
        // The scores saw only the scoring pass, not the caller's earlier gradient.
        assert_eq!(s.row, vec![5.0, 0.0]);
        assert!(model.requires_grad());
        let grad = Vec::<f32>::try_from(model.grad().view([-1])).unwrap();
        assert_eq!(
            grad,
            vec![2.0, 2.0, 2.0, 0.0, 0.0, 0.0],
            "the caller's gradient is back"
        );
    }

    #[test]
    fn a_scaled_pass_is_unscaled_and_an_overflowed_one_adds_nothing() {
        let model = layer();
        let mut scorer = track(&model, Estimator::SumAbs);
        backward(&model, &[[1.0, 2.0, 0.0]], 1024.0); // the loss times a scale of 1024
        assert!(scorer.accumulate_scaled(1024.0));
        backward(&model, &[[f32::INFINITY, 0.0, 0.0]], 1.0);
        assert!(
            !scorer.accumulate_scaled(2.0),
            "an infinite gradient is an overflow"
        );
        assert_eq!(scorer.passes(), 1);
        let s = scorer.finish(ScoreDtype::F32).unwrap().remove(0);
        assert_eq!(s.row, vec![5.0, 0.0], "only the good pass, unscaled");
        assert_eq!(model.grad().abs().sum(Kind::Float).double_value(&[]), 0.0);
    }

    #[test]
    fn a_dropped_scorer_hands_the_weights_back_too() {
        let model = layer();
        let scorer = track(&model, Estimator::SumAbs);
        assert!(model.requires_grad());
        drop(scorer);
        assert!(!model.requires_grad());
    }

    #[test]
    fn a_weight_that_is_not_a_matrix_is_refused_by_name() {
        let bias = Tensor::zeros([3], (Kind::Float, tch::Device::Cpu));
        let err = Scorer::new([("head.bias", bias)], Estimator::SumAbs)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("head.bias") && err.contains("[3]"), "{err}");
    }
}
