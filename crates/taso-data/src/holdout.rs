//! Setting training examples aside to choose the best epoch and learning rate on, so that the
//! dev split is only reported and never selected on.

use crate::error::DataError;

/// Splits `examples` into (kept for training, held out): `count` examples spread evenly through
/// the list — example `i` of `n` is held out when `⌊(i+1)·count/n⌋ > ⌊i·count/n⌋` — in their
/// original order. The pick depends on nothing but `count` and `n`, so every seed and method of
/// a task holds out the same examples. Fails when nothing would be left to train on.
pub fn hold_out<T>(examples: Vec<T>, count: usize) -> Result<(Vec<T>, Vec<T>), DataError> {
    let total = examples.len();
    if count >= total && count > 0 {
        return Err(DataError::HoldoutTooLarge { count, total });
    }
    let held = |i: usize| (i + 1) * count / total.max(1) > i * count / total.max(1);
    let (mut kept, mut held_out) = (Vec::with_capacity(total - count), Vec::with_capacity(count));
    for (i, example) in examples.into_iter().enumerate() {
        if held(i) {
            held_out.push(example);
        } else {
            kept.push(example);
        }
    }
    Ok((kept, held_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_out_exactly_count_spread_evenly_in_order() {
        let (kept, held) = hold_out((0..10).collect(), 3).unwrap();
        assert_eq!(held, vec![3, 6, 9]);
        assert_eq!(kept, vec![0, 1, 2, 4, 5, 7, 8]);
        let (kept, held) = hold_out((0..3668).collect::<Vec<_>>(), 400).unwrap();
        assert_eq!((kept.len(), held.len()), (3268, 400));
        let gaps: Vec<usize> = held.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| (9..=10).contains(g)), "{gaps:?}");
    }

    #[test]
    fn zero_keeps_everything_and_too_many_is_refused() {
        let (kept, held) = hold_out(vec!['a', 'b'], 0).unwrap();
        assert_eq!((kept, held), (vec!['a', 'b'], vec![]));
        let error = hold_out(vec!['a', 'b'], 2).unwrap_err();
        assert!(error.to_string().contains("run.holdout = 2"), "{error}");
    }
}
