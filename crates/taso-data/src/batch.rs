//! Batch planning (which examples go together) and dynamic padding.
//!
//! A plan is a list of batches of example indices; every index appears exactly once and the last
//! partial batch is kept. Shuffles use ChaCha8 seeded by `seed` with `epoch` as its stream, so a plan
//! is the same on every platform and changes from epoch to epoch.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{Encoding, Label};

/// How training batches are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchStrategy {
    /// Shuffle, sort windows of [`BUCKET_WINDOW_BATCHES`] batches by length, cut, shuffle the batches:
    /// random batches of similar length, so little padding.
    Bucketed,
    /// Shuffle, then cut.
    Random,
    /// File order, cut (no randomness).
    Sequential,
}

/// Bucketed batching sorts windows of this many batches' worth of examples by length.
pub const BUCKET_WINDOW_BATCHES: usize = 50;

/// Plans the batches of one epoch over examples with the given token `lengths`.
///
/// # Panics
/// If `batch_size` is 0.
pub fn plan_batches(
    lengths: &[usize],
    batch_size: usize,
    strategy: BatchStrategy,
    seed: u64,
    epoch: u64,
) -> Vec<Vec<usize>> {
    assert!(
        batch_size > 0,
        "plan_batches: batch_size must be at least 1"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    match strategy {
        BatchStrategy::Sequential => cut(&order, batch_size),
        BatchStrategy::Random => {
            order.shuffle(&mut rng);
            cut(&order, batch_size)
        }
        BatchStrategy::Bucketed => {
            order.shuffle(&mut rng);
            let mut batches: Vec<Vec<usize>> = order
                .chunks_mut(batch_size * BUCKET_WINDOW_BATCHES)
                .flat_map(|window| {
                    window.sort_by_key(|&i| lengths[i]);
                    cut(window, batch_size)
                })
                .collect();
            batches.shuffle(&mut rng);
            batches
        }
    }
}

/// Plans evaluation batches: examples sorted by length, longest first, to minimise padding.
///
/// The plan holds the original indices; [`restore_order`] puts per-example outputs back in example order.
///
/// # Panics
/// If `batch_size` is 0.
pub fn plan_eval_batches(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    assert!(
        batch_size > 0,
        "plan_eval_batches: batch_size must be at least 1"
    );
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    cut(&order, batch_size)
}

/// Takes per-example `values` in plan order (batch after batch) and returns them in example order.
///
/// # Panics
/// If the plan is not a permutation of `0..values.len()`.
pub fn restore_order<T>(plan: &[Vec<usize>], values: Vec<T>) -> Vec<T> {
    let mut slots: Vec<Option<T>> = std::iter::repeat_with(|| None).take(values.len()).collect();
    let indices = plan.iter().flatten();
    assert_eq!(
        indices.clone().count(),
        values.len(),
        "restore_order: plan and values differ in length"
    );
    for (&index, value) in indices.zip(values) {
        assert!(
            slots[index].replace(value).is_none(),
            "restore_order: index {index} planned twice"
        );
    }
    slots
        .into_iter()
        .map(|slot| slot.expect("a permutation fills every slot"))
        .collect()
}

fn cut(order: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    order.chunks(batch_size).map(<[usize]>::to_vec).collect()
}

/// Mean true length vs mean padded length per example for a plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaddingStats {
    /// Mean number of real tokens per example.
    pub mean_true_len: f64,
    /// Mean number of positions per example after padding each batch to its longest member.
    pub mean_padded_len: f64,
}

impl PaddingStats {
    /// Padded work over real work (1.0 means no padding at all).
    pub fn overhead(&self) -> f64 {
        self.mean_padded_len / self.mean_true_len
    }
}

/// Computes [`PaddingStats`] of `plan` over examples with the given `lengths` (zeros for an empty plan).
pub fn padding_stats(lengths: &[usize], plan: &[Vec<usize>]) -> PaddingStats {
    let examples: usize = plan.iter().map(Vec::len).sum();
    let true_tokens: usize = plan.iter().flatten().map(|&i| lengths[i]).sum();
    let padded_tokens: usize = plan
        .iter()
        .map(|batch| batch.len() * batch.iter().map(|&i| lengths[i]).max().unwrap_or(0))
        .sum();
    let mean = |total: usize| {
        if examples == 0 {
            0.0
        } else {
            total as f64 / examples as f64
        }
    };
    PaddingStats {
        mean_true_len: mean(true_tokens),
        mean_padded_len: mean(padded_tokens),
    }
}

/// Gold labels of a batch, in row order.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchLabels {
    /// Class ids.
    Classes(Vec<i64>),
    /// Regression targets.
    Scores(Vec<f32>),
}

/// A batch ready for a model: row-major `[batch_size, seq_len]` tensors' data, padded to the batch's longest example.
#[derive(Debug, Clone, PartialEq)]
pub struct PaddedBatch {
    /// Example index of each row.
    pub indices: Vec<usize>,
    /// Number of rows.
    pub batch_size: usize,
    /// Length of every row: the longest member's token count.
    pub seq_len: usize,
    /// Token ids, pad id after each row's end.
    pub input_ids: Vec<i64>,
    /// Segment ids, 0 in padding.
    pub token_type_ids: Vec<i64>,
    /// 1 on real tokens, 0 on padding.
    pub attention_mask: Vec<i64>,
    /// Labels of the rows; `None` if any row has none (e.g. a test split).
    pub labels: Option<BatchLabels>,
}

/// Builds the batch of examples `indices` (into `encodings` and `labels`), padded with `pad_id`.
///
/// # Panics
/// If an index is out of range of `encodings` or `labels`.
pub fn pad_batch(
    encodings: &[Encoding],
    labels: &[Option<Label>],
    indices: &[usize],
    pad_id: u32,
) -> PaddedBatch {
    let seq_len = indices
        .iter()
        .map(|&i| encodings[i].len())
        .max()
        .unwrap_or(0);
    let cells = indices.len() * seq_len;
    let mut input_ids = vec![i64::from(pad_id); cells];
    let mut token_type_ids = vec![0; cells];
    let mut attention_mask = vec![0; cells];
    for (row, &index) in indices.iter().enumerate() {
        let encoding = &encodings[index];
        let start = row * seq_len;
        for (offset, (&id, &type_id)) in encoding
            .input_ids
            .iter()
            .zip(&encoding.token_type_ids)
            .enumerate()
        {
            input_ids[start + offset] = i64::from(id);
            token_type_ids[start + offset] = i64::from(type_id);
            attention_mask[start + offset] = 1;
        }
    }
    PaddedBatch {
        indices: indices.to_vec(),
        batch_size: indices.len(),
        seq_len,
        input_ids,
        token_type_ids,
        attention_mask,
        labels: batch_labels(labels, indices),
    }
}

/// The labels of `indices`, or `None` if any is missing or they mix classes and scores.
fn batch_labels(labels: &[Option<Label>], indices: &[usize]) -> Option<BatchLabels> {
    let picked = indices
        .iter()
        .map(|&i| labels[i])
        .collect::<Option<Vec<Label>>>()?;
    let classes = picked.iter().map(|label| match label {
        Label::Class(class) => Some(*class as i64),
        Label::Score(_) => None,
    });
    let scores = picked.iter().map(|label| match label {
        Label::Score(score) => Some(*score),
        Label::Class(_) => None,
    });
    match picked.first() {
        Some(Label::Score(_)) => scores.collect::<Option<_>>().map(BatchLabels::Scores),
        _ => classes.collect::<Option<_>>().map(BatchLabels::Classes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRATEGIES: [BatchStrategy; 3] = [
        BatchStrategy::Bucketed,
        BatchStrategy::Random,
        BatchStrategy::Sequential,
    ];

    /// Pseudo-random lengths 5..=132 without an RNG.
    fn lengths(n: usize) -> Vec<usize> {
        (0..n).map(|i| 5 + (i * 7919 + 13) % 128).collect()
    }

    #[test]
    fn every_index_appears_exactly_once_and_last_partial_batch_is_kept() {
        let lengths = lengths(1003);
        for strategy in STRATEGIES {
            let plan = plan_batches(&lengths, 16, strategy, 7, 0);
            let mut all: Vec<usize> = plan.iter().flatten().copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..1003).collect::<Vec<_>>(), "{strategy:?}");
            assert_eq!(
                plan.len(),
                63,
                "{strategy:?}: 62 full batches and one of 11"
            );
            assert_eq!(
                plan.iter().filter(|b| b.len() != 16).count(),
                1,
                "{strategy:?}"
            );
        }
        let eval = plan_eval_batches(&lengths, 16);
        assert_eq!(eval.iter().flatten().count(), 1003);
    }

    #[test]
    fn seed_and_epoch_decide_the_plan() {
        let lengths = lengths(500);
        for strategy in [BatchStrategy::Bucketed, BatchStrategy::Random] {
            let plan = plan_batches(&lengths, 8, strategy, 42, 3);
            assert_eq!(
                plan,
                plan_batches(&lengths, 8, strategy, 42, 3),
                "{strategy:?}"
            );
            assert_ne!(
                plan,
                plan_batches(&lengths, 8, strategy, 42, 4),
                "{strategy:?}"
            );
            assert_ne!(
                plan,
                plan_batches(&lengths, 8, strategy, 43, 3),
                "{strategy:?}"
            );
        }
        let sequential = plan_batches(&lengths, 8, BatchStrategy::Sequential, 1, 2);
        assert_eq!(sequential[0], (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn plans_are_pinned_across_platforms_and_versions() {
        // Recorded once; a change here means runs are no longer reproducible across versions.
        let lengths = [3, 1, 4, 1, 5, 9, 2, 6];
        let random = plan_batches(&lengths, 3, BatchStrategy::Random, 0, 0);
        assert_eq!(random, [vec![2, 0, 6], vec![1, 3, 5], vec![7, 4]]);
        let bucketed = plan_batches(&lengths, 3, BatchStrategy::Bucketed, 0, 1);
        assert_eq!(bucketed, [vec![3, 1, 6], vec![0, 2, 4], vec![7, 5]]);
    }

    #[test]
    fn bucketed_batches_have_similar_lengths() {
        let lengths = lengths(3200);
        let bucketed = padding_stats(
            &lengths,
            &plan_batches(&lengths, 32, BatchStrategy::Bucketed, 0, 0),
        );
        let random = padding_stats(
            &lengths,
            &plan_batches(&lengths, 32, BatchStrategy::Random, 0, 0),
        );
        assert!((bucketed.mean_true_len - random.mean_true_len).abs() < 1e-9);
        assert!(bucketed.overhead() < 1.05, "{bucketed:?}");
        assert!(random.overhead() > 1.5, "{random:?}");
    }

    #[test]
    fn eval_plan_is_sorted_and_restorable() {
        let lengths = [4, 9, 1, 9, 3];
        let plan = plan_eval_batches(&lengths, 2);
        assert_eq!(plan, vec![vec![1, 3], vec![0, 4], vec![2]]);
        let outputs_in_plan_order: Vec<usize> =
            plan.iter().flatten().map(|&i| lengths[i] * 10).collect();
        assert_eq!(
            restore_order(&plan, outputs_in_plan_order),
            vec![40, 90, 10, 90, 30]
        );
    }

    #[test]
    fn pad_batch_pads_to_the_longest_member() {
        let enc = |ids: &[u32], types: &[u32]| Encoding {
            input_ids: ids.to_vec(),
            token_type_ids: types.to_vec(),
        };
        let encodings = [
            enc(&[101, 7, 102], &[0, 0, 0]),
            enc(&[101, 8, 102, 9, 102], &[0, 0, 0, 1, 1]),
        ];
        let labels = [Some(Label::Class(1)), Some(Label::Class(0))];
        let batch = pad_batch(&encodings, &labels, &[1, 0], 0);
        assert_eq!((batch.batch_size, batch.seq_len), (2, 5));
        assert_eq!(batch.input_ids, [101, 8, 102, 9, 102, 101, 7, 102, 0, 0]);
        assert_eq!(batch.token_type_ids, [0, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
        assert_eq!(batch.attention_mask, [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
        assert_eq!(batch.labels, Some(BatchLabels::Classes(vec![0, 1])));

        let scores = [Some(Label::Score(0.5)), None];
        assert_eq!(
            pad_batch(&encodings, &scores, &[0], 0).labels,
            Some(BatchLabels::Scores(vec![0.5]))
        );
        assert_eq!(pad_batch(&encodings, &scores, &[0, 1], 0).labels, None);
    }
}
