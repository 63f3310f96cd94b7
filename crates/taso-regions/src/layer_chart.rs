//! `coverage-by-layer.png`: per layer, the share of each matrix type's importance that its kept
//! block holds, beside the share a random block of the same shape would hold — where along the
//! depth the selection finds concentrated importance, and in which kind of matrix.

use std::collections::BTreeMap;
use std::path::Path;

use taso_artifact::{target_position, Coverage};
use taso_plot::{line_chart, Curve};

use crate::RegionsError;

/// The chart's file name in the run folder.
pub const LAYER_CHART_FILE: &str = "coverage-by-layer.png";

/// The chart's lines: one per target suffix (`self_attn.q_proj`, …) with its coverage in percent
/// per layer, then the random blocks' mean share per layer. `None` when a matrix is not in a
/// numbered block under one of `targets`, or when the matrices span fewer than two layers: then
/// there is no depth to draw.
pub fn coverage_curves(coverage: &[Coverage], targets: &[String]) -> Option<Vec<Curve>> {
    let mut per_target: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
    let mut random: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for c in coverage {
        let (layer, target) = target_position(&c.name, targets)?;
        per_target
            .entry(target)
            .or_default()
            .push((layer as f64, 100.0 * c.share));
        let sum = random.entry(layer).or_default();
        *sum = (sum.0 + 100.0 * c.random_share, sum.1 + 1);
    }
    if random.len() < 2 {
        return None;
    }
    let mut curves: Vec<Curve> = per_target
        .into_iter()
        .map(|(target, points)| Curve {
            label: targets[target].clone(),
            points,
        })
        .collect();
    curves.push(Curve {
        label: "random block (mean)".into(),
        points: random
            .into_iter()
            .map(|(layer, (sum, n))| (layer as f64, sum / n as f64))
            .collect(),
    });
    Some(curves)
}

/// Draws the chart of `coverage` to `path`; `Ok(false)` when [`coverage_curves`] has nothing
/// to draw.
pub fn write_layer_chart(
    path: &Path,
    coverage: &[Coverage],
    targets: &[String],
) -> Result<bool, RegionsError> {
    let Some(curves) = coverage_curves(coverage, targets) else {
        return Ok(false);
    };
    let title = "importance inside the kept block, per layer";
    line_chart(
        path,
        title,
        "layer",
        "share of the matrix's importance (%)",
        &curves,
    )
    .map_err(|e| RegionsError::File {
        what: "cannot draw the coverage chart".into(),
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cov(name: &str, share: f64, random_share: f64) -> Coverage {
        Coverage {
            name: name.into(),
            rows: 1,
            cols: 1,
            share,
            random_share,
        }
    }

    fn targets() -> Vec<String> {
        vec!["self_attn.q_proj".into(), "mlp.down_proj".into()]
    }

    #[test]
    fn one_line_per_target_and_the_random_mean_per_layer() {
        let coverage = [
            cov("model.layers.0.self_attn.q_proj", 0.20, 0.01),
            cov("model.layers.0.mlp.down_proj", 0.10, 0.03),
            cov("model.layers.1.self_attn.q_proj", 0.30, 0.01),
            cov("model.layers.1.mlp.down_proj", 0.05, 0.01),
        ];
        let curves = coverage_curves(&coverage, &targets()).unwrap();
        let labels: Vec<_> = curves.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            ["self_attn.q_proj", "mlp.down_proj", "random block (mean)"]
        );
        let close = |a: &[(f64, f64)], b: &[(f64, f64)]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(p, q)| p.0 == q.0 && (p.1 - q.1).abs() < 1e-9)
        };
        assert!(close(&curves[0].points, &[(0.0, 20.0), (1.0, 30.0)]));
        assert!(close(&curves[1].points, &[(0.0, 10.0), (1.0, 5.0)]));
        assert!(close(&curves[2].points, &[(0.0, 2.0), (1.0, 1.0)]));
    }

    #[test]
    fn nothing_to_draw_for_one_layer_or_a_matrix_outside_the_blocks() {
        let one_layer = [cov("model.layers.3.self_attn.q_proj", 0.2, 0.01)];
        assert!(coverage_curves(&one_layer, &targets()).is_none());
        let outside = [
            cov("model.layers.0.self_attn.q_proj", 0.2, 0.01),
            cov("model.layers.1.self_attn.q_proj", 0.2, 0.01),
            cov("lm_head", 0.2, 0.01),
        ];
        assert!(coverage_curves(&outside, &targets()).is_none());
    }

    #[test]
    fn the_chart_is_written_only_when_there_is_depth() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LAYER_CHART_FILE);
        let one_layer = [cov("model.layers.3.self_attn.q_proj", 0.2, 0.01)];
        assert!(!write_layer_chart(&path, &one_layer, &targets()).unwrap());
        assert!(!path.exists());
        let two = [
            cov("model.layers.0.self_attn.q_proj", 0.2, 0.01),
            cov("model.layers.1.self_attn.q_proj", 0.3, 0.01),
        ];
        assert!(write_layer_chart(&path, &two, &targets()).unwrap());
        assert!(std::fs::read(&path).unwrap().starts_with(b"\x89PNG"));
    }
}
