//! Lines kept in most layers: per matrix type, the row and column indices the selection keeps in
//! at least two thirds of the layers, against what a random choice of as many lines per layer
//! would give.
//!
//! Where an index means the same feature in every layer — the residual stream's channels are
//! the columns of every matrix that reads it and the rows of every matrix that writes it — an
//! index kept in nearly every layer is one feature of the model singled out again and again, and
//! that part of the budget goes to the same channel in every layer.

use std::collections::BTreeMap;

use taso_artifact::{group_by_matrix_type, Regions};

/// Which lines of a matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Output features (rows of W).
    Rows,
    /// Input features (columns of W).
    Columns,
}

impl Axis {
    fn name(self) -> &'static str {
        match self {
            Axis::Rows => "rows",
            Axis::Columns => "columns",
        }
    }
}

/// The lines of one axis of one matrix type that recur across its layers.
#[derive(Debug, Clone, PartialEq)]
pub struct RecurringLines {
    /// The matrix type: the path after the layer number (`self_attn.q_proj`).
    pub matrix_type: String,
    pub axis: Axis,
    /// Layers holding an adapted matrix of this type.
    pub layers: usize,
    /// The lines of that axis in one matrix.
    pub dim: usize,
    /// Lines kept per layer, summed over the layers.
    pub kept: usize,
    /// Fewest layers a line must be kept in to recur: two thirds of `layers`, rounded up.
    pub threshold: usize,
    /// Each recurring line with the number of layers keeping it, most kept first.
    pub recurring: Vec<(i64, usize)>,
    /// How many lines would recur if each layer drew as many lines at random.
    pub expected: f64,
}

impl RecurringLines {
    /// The share of all kept lines of this type (over its layers) that are recurring ones.
    pub fn recurring_share(&self) -> f64 {
        let taken: usize = self.recurring.iter().map(|(_, n)| n).sum();
        taken as f64 / self.kept.max(1) as f64
    }
}

/// One layer's matrix of a type, on one axis: how many lines it has, and those kept.
type LayerLines<'a> = (usize, &'a [i64]);

/// Fewest layers a matrix type needs before recurrence means anything.
const MIN_LAYERS: usize = 3;

/// Every matrix type adapted in at least three numbered layers, rows then columns, in the order
/// the types first appear (a matrix outside the numbered blocks is a type of one).
pub fn recurring_lines(regions: &Regions) -> Vec<RecurringLines> {
    let by_type = group_by_matrix_type(regions.matrices.iter().map(|m| (&m.target.name, m)));
    let mut found = Vec::new();
    for (matrix_type, matrices) in &by_type {
        let rows: Vec<LayerLines> = matrices
            .iter()
            .map(|m| (m.target.d_out, m.rows.as_slice()))
            .collect();
        let cols: Vec<LayerLines> = matrices
            .iter()
            .map(|m| (m.target.d_in, m.cols.as_slice()))
            .collect();
        found.extend(lines_of_type(matrix_type, Axis::Rows, &rows));
        found.extend(lines_of_type(matrix_type, Axis::Columns, &cols));
    }
    found
}

/// The recurring lines of one axis of one type, from each layer's `(dim, kept lines)`.
fn lines_of_type(matrix_type: &str, axis: Axis, layers: &[LayerLines]) -> Option<RecurringLines> {
    let dim = layers.first()?.0;
    if layers.len() < MIN_LAYERS || layers.iter().any(|(d, _)| *d != dim) {
        return None;
    }
    let threshold = (2 * layers.len()).div_ceil(3);
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for (_, lines) in layers {
        for &line in *lines {
            *counts.entry(line).or_default() += 1;
        }
    }
    let mut recurring: Vec<(i64, usize)> = counts
        .into_iter()
        .filter(|(_, n)| *n >= threshold)
        .collect();
    recurring.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let chances: Vec<f64> = layers
        .iter()
        .map(|(_, lines)| lines.len() as f64 / dim as f64)
        .collect();
    Some(RecurringLines {
        matrix_type: matrix_type.to_string(),
        axis,
        layers: layers.len(),
        dim,
        kept: layers.iter().map(|(_, lines)| lines.len()).sum(),
        threshold,
        recurring,
        expected: dim as f64 * at_least(&chances, threshold),
    })
}

/// The probability that at least `k` of independent events with these chances happen (the
/// Poisson-binomial tail), by dynamic programming over the events.
fn at_least(chances: &[f64], k: usize) -> f64 {
    let mut dist = vec![1.0];
    for &p in chances {
        let mut next = vec![0.0; dist.len() + 1];
        for (n, &q) in dist.iter().enumerate() {
            next[n] += q * (1.0 - p);
            next[n + 1] += q * p;
        }
        dist = next;
    }
    dist.iter().skip(k).sum()
}

/// The report's section: one row per matrix type and axis; empty when no type spans three layers.
pub fn section(lines: &[RecurringLines]) -> String {
    use std::fmt::Write;
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n## Lines kept in most layers\n\nPer matrix type, the rows and columns kept in at least \
         two thirds of its layers, against how many would be if each layer drew as many lines at \
         random. Where an index means the same feature in every layer (the residual stream's \
         channels: the columns of the matrices that read it, the rows of those that write it), \
         such a line is one feature of the model, chosen again in layer after layer.\n\n\
         | matrix type | lines | layers | kept per layer | kept in ≥ ⅔ of the layers | at random | most kept (layers) |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for l in lines {
        let most: Vec<String> = l
            .recurring
            .iter()
            .take(6)
            .map(|(line, n)| format!("{line} ({n})"))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} of {} | {} ({:.0}% of the kept) | {:.1} | {} |",
            l.matrix_type,
            l.axis.name(),
            l.layers,
            l.kept as f64 / l.layers as f64,
            l.dim,
            l.recurring.len(),
            100.0 * l.recurring_share(),
            l.expected,
            if most.is_empty() {
                "—".to_string()
            } else {
                most.join(", ")
            }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use taso_artifact::{MatrixRegion, Target};

    fn region(layer: usize, rows: Vec<i64>, cols: Vec<i64>) -> MatrixRegion {
        MatrixRegion {
            target: Target {
                name: format!("model.layers.{layer}.self_attn.q_proj"),
                d_out: 8,
                d_in: 8,
            },
            rows,
            cols,
        }
    }

    fn regions(matrices: Vec<MatrixRegion>) -> Regions {
        Regions {
            targets: matrices.iter().map(|m| m.target.clone()).collect(),
            matrices,
            rank: 1,
            budget: 0,
            coverage: Vec::new(),
        }
    }

    #[test]
    fn a_column_kept_in_every_layer_recurs_and_scattered_rows_do_not() {
        let layers = (0..6)
            .map(|l| region(l, vec![l as i64], vec![3, (l as i64 + 4) % 8]))
            .collect();
        let found = recurring_lines(&regions(layers));
        assert_eq!(found.len(), 2);
        let (rows, cols) = (&found[0], &found[1]);
        assert_eq!((rows.axis, rows.layers, rows.threshold), (Axis::Rows, 6, 4));
        assert!(rows.recurring.is_empty());
        assert_eq!(cols.axis, Axis::Columns);
        assert_eq!(cols.recurring, [(3, 6)]);
        assert_eq!(cols.kept, 12);
        // 2 of 8 columns a layer at random: each column recurs (≥ 4 of 6) with probability
        // Σ_{k≥4} C(6,k) (1/4)^k (3/4)^(6-k) = 154/4096.
        assert!((cols.expected - 8.0 * 154.0 / 4096.0).abs() < 1e-12);
        let text = section(&found);
        assert!(text.contains(
            "| self_attn.q_proj | columns | 6 | 2 of 8 | 1 (50% of the kept) | 0.3 | 3 (6) |"
        ));
        assert!(text.contains("| self_attn.q_proj | rows | 6 | 1 of 8 | 0 (0% of the kept) |"));
    }

    #[test]
    fn too_few_layers_or_no_numbered_blocks_make_no_section() {
        let two = regions((0..2).map(|l| region(l, vec![0], vec![0])).collect());
        assert!(recurring_lines(&two).is_empty());
        let mut head = region(0, vec![0], vec![0]);
        head.target.name = "lm_head".into();
        assert!(recurring_lines(&regions(vec![head])).is_empty());
        assert_eq!(section(&[]), "");
    }

    #[test]
    fn the_tail_of_a_poisson_binomial_is_exact_on_small_cases() {
        assert!((at_least(&[0.5, 0.5], 1) - 0.75).abs() < 1e-12);
        assert!((at_least(&[0.2, 0.5, 1.0], 3) - 0.1).abs() < 1e-12);
        assert_eq!(at_least(&[0.3], 0), 1.0);
    }
}
