//! `--plot`: charts beside the table — each method's metric with error bars over seeds (the
//! `taso-eval` figure where every run has one, else the best-epoch dev), the per-epoch curves
//! (loss, hold-out and dev metric) of each method's first reported run, and the training loss
//! of those runs side by side along their steps, so that where a method loses can be seen.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use taso::train::{epoch_curves, step_loss_curve};
use taso_plot::{line_chart, method_bars, run_curves, Curve, MethodBar};

use crate::summary::Summary;
use crate::MethodResult;

/// Draws `<table stem>.png` (from the table's `summary`), `<table stem>-curves-<method>.png`
/// and, where the runs recorded their loss along the steps, `<table stem>-loss.png` beside
/// `table`; returns the files written.
pub fn draw(table: &Path, summary: &Summary, results: &[MethodResult]) -> Result<Vec<PathBuf>> {
    let (task, metric) = (summary.task.as_str(), summary.metric.as_str());
    let stem = table.with_extension("");
    let bars_path = stem.with_extension("png");
    let title = format!(
        "{task}: {} {metric} at each method's best lr",
        summary.figure
    );
    method_bars(&bars_path, &title, metric, &bars(summary))
        .with_context(|| format!("drawing {}", bars_path.display()))?;
    let mut written = vec![bars_path];
    for result in results {
        let first = &result.reported[0];
        let (loss, metrics) = epoch_curves(&first.epochs, metric);
        if metrics.is_empty() {
            continue;
        }
        let path = PathBuf::from(format!("{}-curves-{}.png", stem.display(), result.name));
        let title = format!(
            "{task}: {} at lr {:e}, first seed",
            result.name, result.best_lr
        );
        run_curves(&path, &title, &[loss], &metrics, metric)
            .with_context(|| format!("drawing {}", path.display()))?;
        written.push(path);
    }
    let losses = loss_curves(results);
    if !losses.is_empty() {
        let path = PathBuf::from(format!("{}-loss.png", stem.display()));
        let title = format!("{task}: training loss of each method at its best lr");
        let y = "training loss (mean of each train.log_every steps)";
        line_chart(&path, &title, "epoch", y, &losses)
            .with_context(|| format!("drawing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// One curve per method: its first reported run (seeds in order) that recorded its loss along
/// the steps; a method with none is left out.
fn loss_curves(results: &[MethodResult]) -> Vec<Curve> {
    results
        .iter()
        .filter_map(|r| {
            let run = r.reported.iter().find(|run| !run.step_losses.is_empty())?;
            let label = format!("{} (lr {:e}, seed {})", r.name, r.best_lr, run.seed);
            step_loss_curve(&run.step_losses, &run.epochs, &label)
        })
        .collect()
}

/// One bar per method: the mean of its reported figure over seeds, ± their std.
fn bars(summary: &Summary) -> Vec<MethodBar> {
    summary
        .methods
        .iter()
        .map(|m| MethodBar {
            method: m.name.clone(),
            mean: m.mean,
            std: m.std,
            n: m.values.len(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::outcome;
    use crate::Outcome;

    fn method(runs: Vec<Outcome>) -> MethodResult {
        MethodResult {
            name: "taso".into(),
            sweep: Vec::new(),
            best_lr: 1e-3,
            reported: runs,
        }
    }

    #[test]
    fn the_loss_chart_takes_each_methods_first_run_that_recorded_its_steps() {
        let mut along = outcome(0.8, 0.8);
        along.epochs = vec![taso::train::EpochRecord {
            epoch: 1,
            step: 4,
            train_loss: 0.5,
            lr: 1e-3,
            dev: None,
            holdout: None,
        }];
        along.seed = 1;
        along.step_losses = [(2, 0.7), (4, 0.3)]
            .map(|(step, loss)| taso::train::StepLoss { step, loss })
            .to_vec();
        let curves = loss_curves(&[
            method(vec![outcome(0.9, 0.9), along]),
            method(vec![outcome(0.9, 0.9)]),
        ]);
        assert_eq!(curves.len(), 1);
        assert_eq!(curves[0].label, "taso (lr 1e-3, seed 1)");
        assert_eq!(curves[0].points, [(0.5, 0.7), (1.0, 0.3)]);
    }
}
