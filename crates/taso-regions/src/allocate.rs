//! Splitting the budget P across matrices so that `Σ_ℓ r (|R_ℓ| + |C_ℓ|) ≤ P`.
//!
//! - [`uniform`]: every matrix keeps the same fraction f of its rows and of its columns
//!   (`max(1, ⌊f d⌋)` of each, the best-ranked), f the largest that fits ([`uniform_sizes`]).
//! - [`global`]: all rows and columns of all matrices compete on one scale (see there).
//! - [`random`]: the sizes of `uniform`, indices drawn at random with a seeded ChaCha RNG.
//!
//! Under `uniform` and `random`, a [`Shape`] other than `block` keeps one axis whole (every
//! column, or every row) and selects along the other only.
//!
//! Every function returns, per target matrix, the kept rows and columns in ascending order, or
//! `None` for a matrix left without adapter.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;

use crate::config::Shape;
use crate::error::RegionsError;
use crate::select::{compare, ranked, LineValue, MatrixLines};
use taso_artifact::Target;

/// The kept rows and columns of one matrix, ascending and unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Kept rows.
    pub rows: Vec<usize>,
    /// Kept columns.
    pub cols: Vec<usize>,
}

impl Kept {
    /// Adapter parameters at rank `rank`: `rank (|R| + |C|)`.
    pub fn cost(&self, rank: usize) -> usize {
        rank * (self.rows.len() + self.cols.len())
    }
}

/// A fraction `num / den` of the rows (or columns) to keep, exact so that `⌊f d⌋` has no
/// rounding error at the breakpoints `k / d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    /// Numerator.
    pub num: usize,
    /// Denominator (positive).
    pub den: usize,
}

impl Fraction {
    /// `max(1, ⌊f d⌋)`: the lines of a dimension of size `d` kept at this fraction.
    pub fn of(self, d: usize) -> usize {
        let kept = (self.num as u128 * d as u128 / self.den as u128) as usize;
        kept.clamp(1, d)
    }

    /// The fraction as a float, for reports.
    pub fn value(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    fn cmp_value(self, other: Self) -> Ordering {
        (self.num as u128 * other.den as u128).cmp(&(other.num as u128 * self.den as u128))
    }
}

/// The `uniform` sizes: the largest fraction f (at most 1) such that keeping
/// `max(1, ⌊f d_out⌋)` rows and `max(1, ⌊f d_in⌋)` columns of every matrix fits the budget,
/// and those `(rows, cols)` per matrix. An axis that `shape` does not select is kept whole.
pub fn uniform_sizes(
    targets: &[Target],
    rank: usize,
    budget: usize,
    shape: Shape,
) -> Result<(Fraction, Vec<(usize, usize)>), RegionsError> {
    let (select_rows, select_cols) = shape.selects();
    let lines = |f: Fraction, d: usize, selected: bool| if selected { f.of(d) } else { d };
    let size = |f: Fraction, t: &Target| {
        (
            lines(f, t.d_out, select_rows),
            lines(f, t.d_in, select_cols),
        )
    };
    let cost = |f: Fraction| -> usize {
        targets
            .iter()
            .map(|t| {
                let (rows, cols) = size(f, t);
                rank * (rows + cols)
            })
            .sum()
    };
    // The cost only changes at fractions k / d for the dimensions d in use.
    let mut dims: Vec<usize> = targets.iter().flat_map(|t| [t.d_out, t.d_in]).collect();
    dims.sort_unstable();
    dims.dedup();
    let mut candidates: Vec<Fraction> = dims
        .iter()
        .flat_map(|&den| (1..=den).map(move |num| Fraction { num, den }))
        .collect();
    candidates.sort_by(|a, b| a.cmp_value(*b));
    candidates.dedup_by(|a, b| a.cmp_value(*b) == Ordering::Equal);
    // Cost is non-decreasing in f: find the last candidate that fits.
    let fits = candidates.partition_point(|&f| cost(f) <= budget);
    let Some(&best) = fits.checked_sub(1).and_then(|i| candidates.get(i)) else {
        let smallest = Fraction { num: 0, den: 1 };
        return Err(RegionsError::BudgetTooSmall {
            budget,
            needed: cost(smallest),
            rank,
            what: match shape {
                Shape::Block => "one row and one column",
                Shape::Rows => "one row across all columns",
                Shape::Columns => "one column across all rows",
            }
            .to_owned()
                + &format!(" in each of the {} matrices", targets.len()),
        });
    };
    let sizes = targets.iter().map(|t| size(best, t)).collect();
    Ok((best, sizes))
}

/// `uniform` allocation: the [`uniform_sizes`], filled with each matrix's best-ranked rows and
/// columns.
pub fn uniform(
    targets: &[Target],
    lines: &[MatrixLines],
    rank: usize,
    budget: usize,
    shape: Shape,
) -> Result<Vec<Option<Kept>>, RegionsError> {
    let (_, sizes) = uniform_sizes(targets, rank, budget, shape)?;
    Ok(lines
        .iter()
        .zip(sizes)
        .map(|(m, (n_rows, n_cols))| {
            Some(Kept {
                rows: best(&m.rows, n_rows),
                cols: best(&m.cols, n_cols),
            })
        })
        .collect())
}

/// `random` allocation: the [`uniform_sizes`], rows and columns drawn uniformly without
/// replacement by a ChaCha8 RNG seeded with `seed` (matrices in order, rows before columns).
pub fn random(
    targets: &[Target],
    rank: usize,
    budget: usize,
    shape: Shape,
    seed: u64,
) -> Result<Vec<Option<Kept>>, RegionsError> {
    let (_, sizes) = uniform_sizes(targets, rank, budget, shape)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draw = |d: usize, n: usize| {
        let mut picked = rand::seq::index::sample(&mut rng, d, n).into_vec();
        picked.sort_unstable();
        picked
    };
    Ok(targets
        .iter()
        .zip(sizes)
        .map(|(t, (n_rows, n_cols))| {
            let rows = draw(t.d_out, n_rows);
            let cols = draw(t.d_in, n_cols);
            Some(Kept { rows, cols })
        })
        .collect())
}

/// Which kind of line a global candidate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Row,
    Col,
}

/// A row or column competing in `global` allocation, with its value on the shared scale.
struct Candidate {
    value: LineValue,
    matrix: usize,
    kind: Kind,
    line: usize,
}

/// Per matrix, the masks of its taken rows and columns, or `None` while it is not opened.
type Taken = Vec<Option<(Vec<bool>, Vec<bool>)>>;

/// `global` allocation.
///
/// Every row's value is divided by the mean value of all rows of all target matrices, every
/// column's by the mean of all columns, so rows and columns compete on one scale while
/// matrices keep their relative importance (which `normalize` decides). Lines are then taken
/// best first, each costing `rank`. The first line a matrix wins opens it: it then gets its
/// `min_rows` best rows and `min_cols` best columns at once (fewer if it has fewer), if the
/// budget still pays for them; otherwise the matrix stays closed. Lines whose score and
/// tie-breaker are both zero are never taken, so a matrix without importance is not adapted
/// and budget may stay unspent.
pub fn global(
    lines: &[MatrixLines],
    rank: usize,
    budget: usize,
    min_rows: usize,
    min_cols: usize,
) -> Result<Vec<Option<Kept>>, RegionsError> {
    let candidates = global_candidates(lines);
    if candidates.is_empty() {
        return Err(RegionsError::ZeroImportance);
    }
    // The rows and columns a matrix gets when it is opened.
    let opening = |m: usize| {
        let matrix: &MatrixLines = &lines[m];
        (
            min_rows.min(matrix.rows.len()),
            min_cols.min(matrix.cols.len()),
        )
    };
    let taken = take_best_first(lines, &candidates, rank, budget, opening);
    if taken.iter().all(Option::is_none) {
        // Only matrices with some importance could have been opened.
        let needed = candidates
            .iter()
            .map(|c| {
                let (n_rows, n_cols) = opening(c.matrix);
                rank * (n_rows + n_cols)
            })
            .min()
            .unwrap_or(0);
        return Err(RegionsError::BudgetTooSmall {
            budget,
            needed,
            rank,
            what: format!("one matrix with min_rows = {min_rows} and min_cols = {min_cols}"),
        });
    }
    Ok(taken
        .into_iter()
        .map(|slot| {
            slot.map(|(rows, cols)| Kept {
                rows: indices(&rows),
                cols: indices(&cols),
            })
        })
        .collect())
}

/// Every line with some importance, its score and tie-breaker divided by the means over all
/// lines of its kind, best first (equal values: by matrix, rows before columns, index).
fn global_candidates(lines: &[MatrixLines]) -> Vec<Candidate> {
    let rows_scale = mean_value(lines.iter().flat_map(|m| &m.rows));
    let cols_scale = mean_value(lines.iter().flat_map(|m| &m.cols));
    let mut candidates = Vec::new();
    for (m, matrix) in lines.iter().enumerate() {
        for (kind, values, scale) in [
            (Kind::Row, &matrix.rows, rows_scale),
            (Kind::Col, &matrix.cols, cols_scale),
        ] {
            for (i, v) in values.iter().enumerate() {
                let value = LineValue {
                    score: ratio(v.score, scale.score),
                    tie: ratio(v.tie, scale.tie),
                };
                if value.score > 0.0 || value.tie > 0.0 {
                    candidates.push(Candidate {
                        value,
                        matrix: m,
                        kind,
                        line: i,
                    });
                }
            }
        }
    }
    candidates.sort_by(|a, b| {
        compare(&b.value, &a.value)
            .then((a.matrix, a.kind, a.line).cmp(&(b.matrix, b.kind, b.line)))
    });
    candidates
}

/// Takes the candidates in order while `budget` pays `rank` per line: a matrix's first
/// candidate opens it with its `opening` (rows, columns) best lines, or closes it for good when
/// the budget no longer pays for those.
fn take_best_first(
    lines: &[MatrixLines],
    candidates: &[Candidate],
    rank: usize,
    budget: usize,
    opening: impl Fn(usize) -> (usize, usize),
) -> Taken {
    let mut taken: Taken = vec![None; lines.len()];
    let mut closed = vec![false; lines.len()];
    let mut left = budget;
    for c in candidates {
        if left < rank {
            break;
        }
        if closed[c.matrix] {
            continue;
        }
        let matrix = &lines[c.matrix];
        let slot = &mut taken[c.matrix];
        let Some((rows, cols)) = slot else {
            let (n_rows, n_cols) = opening(c.matrix);
            let cost = rank * (n_rows + n_cols);
            if cost > left {
                closed[c.matrix] = true;
            } else {
                left -= cost;
                *slot = Some((mask(&matrix.rows, n_rows), mask(&matrix.cols, n_cols)));
            }
            continue;
        };
        let line = match c.kind {
            Kind::Row => &mut rows[c.line],
            Kind::Col => &mut cols[c.line],
        };
        if !*line {
            *line = true;
            left -= rank;
        }
    }
    taken
}

/// The `n` best-ranked lines, ascending.
fn best(values: &[LineValue], n: usize) -> Vec<usize> {
    let mut picked: Vec<usize> = ranked(values).into_iter().take(n).collect();
    picked.sort_unstable();
    picked
}

/// A mask of the `n` best-ranked lines.
fn mask(values: &[LineValue], n: usize) -> Vec<bool> {
    let mut mask = vec![false; values.len()];
    for i in ranked(values).into_iter().take(n) {
        mask[i] = true;
    }
    mask
}

/// The positions of the set flags.
fn indices(mask: &[bool]) -> Vec<usize> {
    (0..mask.len()).filter(|&i| mask[i]).collect()
}

/// The mean score and mean tie-breaker of some lines.
fn mean_value<'a>(values: impl Iterator<Item = &'a LineValue>) -> LineValue {
    let (mut sum, mut n) = (LineValue::default(), 0usize);
    for v in values {
        sum.score += v.score;
        sum.tie += v.tie;
        n += 1;
    }
    let n = n.max(1) as f64;
    LineValue {
        score: sum.score / n,
        tie: sum.tie / n,
    }
}

/// `a / b`, or 0 when b is 0.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}
