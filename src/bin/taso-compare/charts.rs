//! `--plot`: charts beside the table — each method's best-epoch dev metric with error bars
//! over seeds, and the per-epoch curves (loss, hold-out and dev metric) of each method's first
//! reported run, so that where a method loses can be seen.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use taso::train::epoch_curves;
use taso_plot::{method_bars, run_curves, MethodBar};

use crate::render::mean_std;
use crate::MethodResult;

/// Draws `<table stem>.png` and `<table stem>-curves-<method>.png` beside `table`; returns the
/// files written.
pub fn draw(table: &Path, task: &str, results: &[MethodResult]) -> Result<Vec<PathBuf>> {
    let Some(metric) = results
        .iter()
        .flat_map(|r| &r.reported)
        .map(|o| &o.metric)
        .next()
    else {
        return Ok(Vec::new());
    };
    let stem = table.with_extension("");
    let bars_path = stem.with_extension("png");
    let title = format!("{task}: best-epoch dev {metric} at each method's best lr");
    method_bars(&bars_path, &title, metric, &bars(results))
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
    Ok(written)
}

/// One bar per method: the mean best-epoch dev metric over its reported seeds, ± their std.
fn bars(results: &[MethodResult]) -> Vec<MethodBar> {
    results
        .iter()
        .map(|r| {
            let values: Vec<f64> = r.reported.iter().map(|o| o.best).collect();
            let (mean, std) = mean_std(&values);
            MethodBar {
                method: r.name.clone(),
                mean,
                std,
                n: values.len(),
            }
        })
        .collect()
}
