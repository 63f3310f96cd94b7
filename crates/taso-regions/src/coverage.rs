//! Coverage diagnostics: how much of a matrix's importance the kept `R × C` block holds,
//! next to what a random block of the same shape would hold on average.

use crate::importance::ScoreMatrix;
use taso_artifact::Coverage;

/// The coverage of the block `rows × cols` of `matrix`.
///
/// With full scores, `share = Σ_{i∈R, j∈C} S[i, j] / Σ S` (exact). With marginals only it is
/// estimated as (share of the row marginals in R) × (share of the column marginals in C),
/// which is exact when S has rank one. A matrix without importance has share 0.
/// `random_share = |R| |C| / (d_out d_in)`.
pub fn coverage(matrix: &ScoreMatrix, rows: &[usize], cols: &[usize]) -> Coverage {
    let (d_out, d_in) = (matrix.target.d_out, matrix.target.d_in);
    let share = match &matrix.scores {
        Some(scores) => {
            let total: f64 = scores.iter().map(|&v| f64::from(v)).sum();
            let inside: f64 = rows
                .iter()
                .flat_map(|&i| cols.iter().map(move |&j| f64::from(scores[i * d_in + j])))
                .sum();
            fraction(inside, total)
        }
        None => fraction_of(&matrix.row, rows) * fraction_of(&matrix.col, cols),
    };
    Coverage {
        name: matrix.target.name.clone(),
        rows: rows.len(),
        cols: cols.len(),
        share,
        random_share: (rows.len() * cols.len()) as f64 / (d_out * d_in) as f64,
    }
}

/// The share of `Σ values` held by the entries at `picked`.
fn fraction_of(values: &[f32], picked: &[usize]) -> f64 {
    let total = values.iter().map(|&v| f64::from(v)).sum();
    let inside = picked.iter().map(|&i| f64::from(values[i])).sum();
    fraction(inside, total)
}

/// `part / total`, or 0 for an empty total.
fn fraction(part: f64, total: f64) -> f64 {
    if total > 0.0 {
        part / total
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use taso_artifact::Target;

    fn two_by_two(full: bool) -> ScoreMatrix {
        let target = Target {
            name: "m".into(),
            d_out: 2,
            d_in: 2,
        };
        let scores = full.then(|| vec![1.0, 2.0, 3.0, 4.0]);
        ScoreMatrix::new(target, vec![3.0, 7.0], vec![4.0, 6.0], scores).unwrap()
    }

    #[test]
    fn exact_coverage_of_a_two_by_two_matrix() {
        let c = coverage(&two_by_two(true), &[1], &[1]);
        assert_eq!((c.rows, c.cols), (1, 1));
        assert!((c.share - 0.4).abs() < 1e-12, "{}", c.share);
        assert_eq!(c.random_share, 0.25);
        let c = coverage(&two_by_two(true), &[0, 1], &[0]);
        assert!((c.share - 0.4).abs() < 1e-12);
        assert_eq!(c.random_share, 0.5);
        assert_eq!(coverage(&two_by_two(true), &[0, 1], &[0, 1]).share, 1.0);
    }

    #[test]
    fn marginals_give_the_product_estimate() {
        let c = coverage(&two_by_two(false), &[1], &[1]);
        assert!((c.share - 0.7 * 0.6).abs() < 1e-12, "{}", c.share);
    }

    #[test]
    fn a_matrix_without_importance_has_zero_share() {
        let target = Target {
            name: "z".into(),
            d_out: 1,
            d_in: 2,
        };
        let m = ScoreMatrix::new(target, vec![0.0], vec![0.0; 2], Some(vec![0.0; 2])).unwrap();
        assert_eq!(coverage(&m, &[0], &[1]).share, 0.0);
    }
}
