//! The TASO scorer on a model that knows nothing about taso: a two-layer `tch::nn` MLP whose
//! label depends only on three planted input features, scored with its own forward and loss.
//!
//! [`score`] runs the scorer; [`hand_scores`] computes the same `Σ_b |W ⊙ ∂L_b/∂W|` by
//! back-propagating by hand (no autograd), so the two can be compared; [`train`] then trains
//! the very same weights, which the scorer handed back trainable.

use taso_score::{Estimator, ScoreDtype, ScoreError, Scorer};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// Input features.
pub const FEATURES: i64 = 16;
/// Hidden units.
pub const HIDDEN: i64 = 32;
/// The features the label depends on.
pub const PLANTED: [i64; 3] = [2, 9, 13];
/// Calibration batches and their size.
pub const BATCHES: u64 = 8;
const BATCH_SIZE: i64 = 64;

/// `logits = W2 relu(W1 x + b1) + b2`, its variables under `first` and `second`.
pub struct Mlp {
    /// The variables; the scorer reads the weights from here.
    pub vs: nn::VarStore,
    first: nn::Linear,
    second: nn::Linear,
}

impl Mlp {
    /// A freshly initialised MLP (seeded).
    pub fn new(seed: i64) -> Self {
        tch::manual_seed(seed);
        let vs = nn::VarStore::new(Device::Cpu);
        let first = nn::linear(vs.root() / "first", FEATURES, HIDDEN, Default::default());
        let second = nn::linear(vs.root() / "second", HIDDEN, 2, Default::default());
        Self { vs, first, second }
    }

    /// The hidden pre-activations and the logits of `x`.
    fn forward_parts(&self, x: &Tensor) -> (Tensor, Tensor) {
        let z = self.first.forward(x);
        let logits = self.second.forward(&z.relu());
        (z, logits)
    }

    /// The mean cross-entropy of a batch.
    pub fn loss(&self, x: &Tensor, label: &Tensor) -> Tensor {
        self.forward_parts(x).1.cross_entropy_for_logits(label)
    }

    /// The two weight matrices, by name.
    pub fn weights(&self) -> [(String, Tensor); 2] {
        [
            ("first.weight".into(), self.first.ws.shallow_clone()),
            ("second.weight".into(), self.second.ws.shallow_clone()),
        ]
    }
}

/// Batch `index`: standard normal features; label 1 when the planted features sum above 0.
pub fn batch(index: u64) -> (Tensor, Tensor) {
    tch::manual_seed(1000 + index as i64);
    let x = Tensor::randn([BATCH_SIZE, FEATURES], (Kind::Float, Device::Cpu));
    let planted = x.index_select(1, &Tensor::from_slice(&PLANTED));
    let label = planted.sum_dim_intlist(1, false, Kind::Float).gt(0.0);
    (x, label.to_kind(Kind::Int64))
}

/// Scores both weight matrices over the calibration batches with the scorer: full score
/// matrices, first layer first.
pub fn score(mlp: &Mlp) -> Result<Vec<taso_score::MatrixScores>, ScoreError> {
    let mut scorer = Scorer::new(mlp.weights(), Estimator::SumAbs)?;
    for index in 0..BATCHES {
        let (x, label) = batch(index);
        mlp.loss(&x, &label).backward();
        scorer.accumulate();
    }
    scorer.finish(ScoreDtype::F32)
}

/// `Σ_b |W ⊙ ∂L_b/∂W|` of both weights with the gradients back-propagated by hand:
/// `d = (softmax − onehot)/n`, `∂L/∂W2 = dᵀ h`, `∂L/∂W1 = (d W2 ⊙ [z > 0])ᵀ x`.
pub fn hand_scores(mlp: &Mlp) -> [Tensor; 2] {
    tch::no_grad(|| {
        let [(_, w1), (_, w2)] = mlp.weights();
        let mut sums = [w1.zeros_like(), w2.zeros_like()];
        for index in 0..BATCHES {
            let (x, label) = batch(index);
            let (z, logits) = mlp.forward_parts(&x);
            let onehot = label.one_hot(2).to_kind(Kind::Float);
            let d = (logits.softmax(-1, Kind::Float) - onehot) / BATCH_SIZE as f64;
            let grad_w2 = d.tr().matmul(&z.relu());
            let dz = d.matmul(&w2) * z.gt(0.0).to_kind(Kind::Float);
            let grad_w1 = dz.tr().matmul(&x);
            sums[0] += (&w1 * grad_w1).abs();
            sums[1] += (&w2 * grad_w2).abs();
        }
        sums
    })
}

/// The columns of `scores` (a `[d_out, d_in]` matrix's column marginals) with the `k` largest
/// values, ascending.
pub fn top_columns(col: &[f32], k: usize) -> Vec<i64> {
    let mut order: Vec<usize> = (0..col.len()).collect();
    order.sort_by(|&a, &b| col[b].total_cmp(&col[a]));
    let mut top: Vec<i64> = order[..k].iter().map(|&i| i as i64).collect();
    top.sort_unstable();
    top
}

/// Trains every variable of `mlp` with Adam for `steps` steps on the calibration batches;
/// returns the first and the last loss.
pub fn train(mlp: &Mlp, steps: usize) -> Result<(f64, f64), tch::TchError> {
    let mut optimizer = nn::Adam::default().build(&mlp.vs, 1e-2)?;
    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        let (x, label) = batch(step as u64 % BATCHES);
        let loss = mlp.loss(&x, &label);
        optimizer.backward_step(&loss);
        losses.push(loss.double_value(&[]));
    }
    Ok((losses[0], losses[steps - 1]))
}
