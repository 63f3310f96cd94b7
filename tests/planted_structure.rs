//! Planted structure: a task whose label depends only on known input features of a tiny model
//! that reads only known hidden units. Scoring plus region selection must find exactly those
//! columns (features) and rows (hidden units) of the first layer.

use taso::artifact::Importance;
use taso::models::Linear;
use taso::score::{Estimator, ScoreDtype, Scorer, Signal};
use tch::{Device, Kind, Tensor};

const FEATURES: i64 = 24;
const HIDDEN: i64 = 32;
/// The features the label depends on.
const PLANTED: [i64; 3] = [2, 9, 17];
/// The hidden units the output reads.
const READ: [i64; 4] = [1, 5, 20, 30];

/// `logits = W2 W1 x`: W1 small and random (so the untrained output is near chance and the
/// loss gradient follows the label), W2 non-zero only on the `READ` units.
struct Mlp {
    first: Linear,
    second: Linear,
}

impl Mlp {
    fn new() -> Self {
        let w1 = taso::models::init::seeded_normal(
            &[HIDDEN, FEATURES],
            0.02,
            1,
            Device::Cpu,
            Kind::Float,
        );
        let w2 = Tensor::zeros([2, HIDDEN], (Kind::Float, Device::Cpu));
        for (k, &unit) in READ.iter().enumerate() {
            let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
            let _ = w2.get(0).get(unit).fill_(sign);
            let _ = w2.get(1).get(unit).fill_(-sign);
        }
        Self {
            first: Linear::new("block.0.first", w1, None),
            second: Linear::new("head", w2, None),
        }
    }

    fn logits(&self, x: &Tensor) -> Tensor {
        self.second.forward(&self.first.forward(x))
    }
}

/// A batch: standard normal features; label 1 when the signal features sum above 0.
fn batch(seed: u64) -> (Tensor, Tensor) {
    let x = taso::models::init::seeded_normal(
        &[64, FEATURES],
        1.0,
        100 + seed,
        Device::Cpu,
        Kind::Float,
    );
    let planted = Tensor::from_slice(&PLANTED);
    let label = x
        .index_select(1, &planted)
        .sum_dim_intlist(1, false, Kind::Float)
        .gt(0.0)
        .to_kind(Kind::Int64);
    (x, label)
}

/// Every way of scoring: both estimators, with and without the weights.
fn scorings() -> Vec<(Estimator, Signal)> {
    let estimators = [Estimator::SumAbs, Estimator::AbsSum];
    let signals = [Signal::WeightGrad, Signal::Grad];
    estimators
        .into_iter()
        .flat_map(|e| signals.into_iter().map(move |s| (e, s)))
        .collect()
}

fn importance((estimator, signal): (Estimator, Signal)) -> Importance {
    let model = Mlp::new();
    let first = [(model.first.name(), model.first.weight.shallow_clone())];
    let mut scorer = Scorer::new(first, estimator).unwrap().with_signal(signal);
    for seed in 0..16 {
        let (x, label) = batch(seed);
        model.logits(&x).cross_entropy_for_logits(&label).backward();
        scorer.accumulate();
    }
    Importance {
        matrices: scorer.finish(ScoreDtype::F32).unwrap(),
        examples: 16 * 64,
    }
}

/// Indices of the `k` largest values.
fn top(values: &[f32], k: usize) -> Vec<i64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let mut top: Vec<i64> = order[..k].iter().map(|&i| i as i64).collect();
    top.sort_unstable();
    top
}

#[test]
fn scoring_concentrates_on_the_planted_rows_and_columns() {
    for scoring in scorings() {
        let scores = &importance(scoring).matrices[0];
        assert_eq!(
            top(&scores.col, PLANTED.len()),
            PLANTED,
            "{scoring:?}: columns"
        );
        assert_eq!(top(&scores.row, READ.len()), READ, "{scoring:?}: rows");
        let unread: f32 = (0..HIDDEN as usize)
            .filter(|i| !READ.contains(&(*i as i64)))
            .map(|i| scores.row[i])
            .sum();
        assert_eq!(
            unread, 0.0,
            "{scoring:?}: rows the head never reads get no importance"
        );
    }
}

#[test]
fn region_selection_keeps_exactly_the_planted_rows_and_columns() {
    use taso::regions::{select_regions, Budget, RegionsConfig, ScoreMatrix};
    for scoring in scorings() {
        let m = importance(scoring).matrices.remove(0);
        let scores = m.scores_f32().unwrap().unwrap();
        let matrix = ScoreMatrix::new(m.target, m.row, m.col, Some(scores)).unwrap();
        // Rank 1 and a budget of 4 rows + 3 columns: the same fraction (1/8) of the 32 rows and
        // 24 columns, as uniform allocation keeps.
        let config = RegionsConfig {
            rank: 1,
            budget: Budget::Absolute(READ.len() + PLANTED.len()),
            ..RegionsConfig::default()
        };
        let regions = select_regions(&[matrix], &config, 0).unwrap();
        let kept = &regions.matrices[0];
        assert_eq!(kept.rows, READ, "{scoring:?}: rows");
        assert_eq!(kept.cols, PLANTED, "{scoring:?}: columns");
        let coverage = &regions.coverage[0];
        assert!(
            coverage.share > 10.0 * coverage.random_share,
            "{scoring:?}: {coverage:?}"
        );
    }
}
