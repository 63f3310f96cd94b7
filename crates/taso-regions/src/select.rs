//! Scoring rows and columns: core entries, then one [`LineValue`] per row and column.
//!
//! 1. Each matrix's scores are optionally divided by their mean (`normalize`).
//! 2. Core entries are the top `core_fraction` of all entries of all target matrices together
//!    (entries with zero score never are; exact ties at the threshold are taken in model order,
//!    row-major).
//! 3. A row's value is its number of core entries, ties broken by its (normalised) marginal
//!    (`core-count`), or the marginal itself (`marginal`); columns likewise.

use crate::config::{LineRule, Normalize, RegionsConfig};
use crate::error::RegionsError;
use crate::importance::ScoreMatrix;

/// How good a row or column is: its score, and what decides between equal scores.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LineValue {
    /// The line's score (core count or normalised marginal).
    pub score: f64,
    /// The tie-breaker (the normalised marginal for core counts, 0 otherwise).
    pub tie: f64,
}

/// The values of every row and column of one matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixLines {
    /// One value per row, `[d_out]`.
    pub rows: Vec<LineValue>,
    /// One value per column, `[d_in]`.
    pub cols: Vec<LineValue>,
}

/// Row and column values of every matrix, per `config` (`normalize`, `core_fraction`,
/// `row_score`, `col_score`). `core-count` needs full scores: with marginals only it fails
/// with [`RegionsError::MarginalsOnly`].
pub fn line_values(
    matrices: &[ScoreMatrix],
    config: &RegionsConfig,
) -> Result<Vec<MatrixLines>, RegionsError> {
    let factors = normalisation_factors(matrices, config.normalize);
    let needs_core = [config.row_score, config.col_score].contains(&LineRule::CoreCount);
    let counts = if needs_core {
        Some(core_counts(matrices, &factors, config.core_fraction)?)
    } else {
        None
    };
    Ok(matrices
        .iter()
        .enumerate()
        .map(|(m, matrix)| {
            let (row_counts, col_counts) = match &counts {
                Some(c) => (c[m].rows.as_slice(), c[m].cols.as_slice()),
                None => (&[][..], &[][..]),
            };
            MatrixLines {
                rows: values(config.row_score, &matrix.row, row_counts, factors[m]),
                cols: values(config.col_score, &matrix.col, col_counts, factors[m]),
            }
        })
        .collect())
}

/// Line indices ordered best first: by score, then tie-breaker (both descending), then index.
pub fn ranked(lines: &[LineValue]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by(|&a, &b| compare(&lines[b], &lines[a]).then(a.cmp(&b)));
    order
}

/// Orders values by score, then tie-breaker (ascending; reverse for best first).
pub(crate) fn compare(a: &LineValue, b: &LineValue) -> std::cmp::Ordering {
    a.score.total_cmp(&b.score).then(a.tie.total_cmp(&b.tie))
}

/// The factor each matrix's scores are multiplied by: 1, or 1 / its mean score.
fn normalisation_factors(matrices: &[ScoreMatrix], normalize: Normalize) -> Vec<f64> {
    matrices
        .iter()
        .map(|m| {
            let mean = m.total() / (m.target.d_out * m.target.d_in) as f64;
            match normalize {
                Normalize::MatrixMean if mean > 0.0 => 1.0 / mean,
                _ => 1.0,
            }
        })
        .collect()
}

/// The values of one matrix's rows (or columns) from their marginals and core counts.
fn values(rule: LineRule, marginals: &[f32], counts: &[u32], factor: f64) -> Vec<LineValue> {
    let marginal = |i: usize| f64::from(marginals[i]) * factor;
    (0..marginals.len())
        .map(|i| match rule {
            LineRule::CoreCount => LineValue {
                score: f64::from(counts[i]),
                tie: marginal(i),
            },
            LineRule::Marginal => LineValue {
                score: marginal(i),
                tie: 0.0,
            },
        })
        .collect()
}

/// The number of core entries in each row and in each column of one matrix.
struct CoreCounts {
    rows: Vec<u32>,
    cols: Vec<u32>,
}

/// Per matrix, the number of core entries in each row and in each column.
fn core_counts(
    matrices: &[ScoreMatrix],
    factors: &[f64],
    fraction: f64,
) -> Result<Vec<CoreCounts>, RegionsError> {
    let scores: Vec<&[f32]> = matrices
        .iter()
        .map(|m| {
            m.scores
                .as_deref()
                .ok_or_else(|| RegionsError::MarginalsOnly {
                    name: m.target.name.clone(),
                })
        })
        .collect::<Result<_, _>>()?;
    // The same f32 value in both passes, so that ties at the threshold are exact.
    let normalised = |m: usize, v: f32| (f64::from(v) * factors[m]) as f32;
    let mut all: Vec<f32> = scores
        .iter()
        .enumerate()
        .flat_map(|(m, s)| s.iter().map(move |&v| normalised(m, v)))
        .collect();
    let take = core_entry_count(all.len(), fraction);
    let (above, &mut threshold, _) = all.select_nth_unstable_by(take - 1, |a, b| b.total_cmp(a));
    let mut ties_left = take - above.iter().filter(|&&v| v > threshold).count();
    drop(all);

    let mut counts = Vec::with_capacity(matrices.len());
    for (m, matrix) in matrices.iter().enumerate() {
        let d_in = matrix.target.d_in;
        let mut rows = vec![0u32; matrix.target.d_out];
        let mut cols = vec![0u32; d_in];
        for (k, &v) in scores[m].iter().enumerate() {
            let v = normalised(m, v);
            let core = if v <= 0.0 || v < threshold {
                false
            } else if v > threshold {
                true
            } else if ties_left > 0 {
                ties_left -= 1;
                true
            } else {
                false
            };
            if core {
                rows[k / d_in] += 1;
                cols[k % d_in] += 1;
            }
        }
        counts.push(CoreCounts { rows, cols });
    }
    Ok(counts)
}

/// How many of `entries` entries the top `fraction` is, rounded up (a product within
/// floating-point noise of an integer counts as that integer): at least one, at most all.
fn core_entry_count(entries: usize, fraction: f64) -> usize {
    let exact = fraction * entries as f64;
    let nearest = exact.round();
    let count = if (exact - nearest).abs() <= 1e-9 * nearest.max(1.0) {
        nearest
    } else {
        exact.ceil()
    };
    (count as usize).clamp(1, entries.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use taso_artifact::Target;

    fn matrix(name: &str, d_out: usize, d_in: usize, scores: Vec<f32>) -> ScoreMatrix {
        let target = Target {
            name: name.into(),
            d_out,
            d_in,
        };
        ScoreMatrix::from_scores(target, scores).unwrap()
    }

    fn scores(lines: &[LineValue]) -> Vec<f64> {
        lines.iter().map(|l| l.score).collect()
    }

    #[test]
    fn core_entries_are_ranked_across_matrices() {
        // 12 entries in all; the top 25% are the 3 largest: 9 and 8 in `a`, 7 in `b`.
        let a = matrix("a", 2, 3, vec![9.0, 0.0, 1.0, 8.0, 0.0, 0.0]);
        let b = matrix("b", 3, 2, vec![0.0, 7.0, 1.0, 1.0, 0.0, 0.0]);
        let config = RegionsConfig {
            core_fraction: 0.25,
            ..RegionsConfig::default()
        };
        let lines = line_values(&[a, b], &config).unwrap();
        assert_eq!(scores(&lines[0].rows), [1.0, 1.0]);
        assert_eq!(scores(&lines[0].cols), [2.0, 0.0, 0.0]);
        assert_eq!(scores(&lines[1].rows), [1.0, 0.0, 0.0]);
        assert_eq!(scores(&lines[1].cols), [0.0, 1.0]);
    }

    #[test]
    fn ties_in_core_count_are_broken_by_the_marginal() {
        // Rows 0 and 1 each hold one core entry (the 9s); row 1 has the larger marginal.
        let m = matrix("m", 3, 3, vec![9.0, 0.0, 0.0, 0.0, 9.0, 5.0, 1.0, 0.0, 0.0]);
        let config = RegionsConfig {
            core_fraction: 2.0 / 9.0,
            ..RegionsConfig::default()
        };
        let lines = line_values(&[m], &config).unwrap();
        assert_eq!(scores(&lines[0].rows), [1.0, 1.0, 0.0]);
        assert_eq!(ranked(&lines[0].rows), [1, 0, 2]);
        assert_eq!(ranked(&lines[0].cols), [0, 1, 2]);
    }

    #[test]
    fn exact_ties_at_the_threshold_fill_the_quota_in_order() {
        let m = matrix("m", 2, 2, vec![1.0; 4]);
        let config = RegionsConfig {
            core_fraction: 0.5,
            ..RegionsConfig::default()
        };
        let lines = line_values(&[m], &config).unwrap();
        assert_eq!(scores(&lines[0].rows), [2.0, 0.0]);
    }

    #[test]
    fn matrix_mean_normalisation_lets_small_matrices_compete() {
        // `big` has large but flat scores; `small` has tiny scores with one peak.
        let big = matrix("big", 2, 2, vec![100.0, 101.0, 100.0, 100.0]);
        let small = matrix("small", 2, 2, vec![0.01, 0.01, 0.01, 1.0]);
        let mut config = RegionsConfig {
            core_fraction: 1.0 / 8.0,
            ..RegionsConfig::default()
        };
        let matrices = [big, small];
        let raw = line_values(&matrices, &config).unwrap();
        assert_eq!(scores(&raw[0].rows), [1.0, 0.0]);
        assert_eq!(scores(&raw[1].rows), [0.0, 0.0]);
        config.normalize = Normalize::MatrixMean;
        let normalised = line_values(&matrices, &config).unwrap();
        assert_eq!(scores(&normalised[0].rows), [0.0, 0.0]);
        assert_eq!(scores(&normalised[1].rows), [0.0, 1.0]);
    }

    #[test]
    fn marginal_scores_need_no_full_scores_and_core_counts_do() {
        let mut m = matrix("m", 2, 2, vec![1.0, 2.0, 3.0, 4.0]);
        m.scores = None;
        let config = RegionsConfig {
            row_score: LineRule::Marginal,
            col_score: LineRule::Marginal,
            ..RegionsConfig::default()
        };
        let lines = line_values(std::slice::from_ref(&m), &config).unwrap();
        assert_eq!(scores(&lines[0].rows), [3.0, 7.0]);
        assert_eq!(scores(&lines[0].cols), [4.0, 6.0]);
        let err = line_values(&[m], &RegionsConfig::default()).unwrap_err();
        assert!(matches!(err, RegionsError::MarginalsOnly { .. }), "{err}");
    }

    #[test]
    fn the_core_size_is_rounded_up_but_not_by_float_noise() {
        assert_eq!(core_entry_count(5200, 0.01), 52);
        assert_eq!(core_entry_count(2700, 2.0 / 2700.0), 2);
        assert_eq!(core_entry_count(10, 0.25), 3);
        assert_eq!(core_entry_count(10, 1e-9), 1);
        assert_eq!(core_entry_count(10, 1.0), 10);
    }

    #[test]
    fn zero_scores_are_never_core() {
        let m = matrix("m", 2, 2, vec![0.0, 0.0, 0.0, 3.0]);
        let config = RegionsConfig {
            core_fraction: 1.0,
            ..RegionsConfig::default()
        };
        let lines = line_values(&[m], &config).unwrap();
        assert_eq!(scores(&lines[0].rows), [0.0, 1.0]);
    }
}
