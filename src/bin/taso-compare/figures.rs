//! The figures a comparison reports, read off its runs: means and spreads over seeds, and
//! which figure (`taso-eval`'s or the trainer's) the table and charts show.

use crate::{MethodResult, Outcome};

/// Mean of the main metric that chose the best epochs (hold-out, or dev without one).
pub fn mean_selection(outcomes: &[Outcome]) -> f64 {
    mean_std(&outcomes.iter().map(|o| o.selection).collect::<Vec<_>>()).0
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

/// The figure the table and its charts report, and how to read it from a run: `taso-eval`'s (at
/// the chosen epoch, on the whole `[eval]` split) where every reported run has it, else the
/// trainer's best-epoch dev figure (on `train.dev_subset` where set).
pub fn reported_figure(results: &[MethodResult]) -> (&'static str, fn(&Outcome) -> f64) {
    let every_eval = results
        .iter()
        .flat_map(|r| &r.reported)
        .all(|o| o.eval.is_finite());
    if every_eval {
        ("eval", |o| o.eval)
    } else {
        ("best-epoch dev", |o| o.best)
    }
}

/// The eval split's most-frequent-answer accuracy, as the first reported run that recorded it
/// has it.
pub fn majority(results: &[MethodResult]) -> Option<f64> {
    results
        .iter()
        .flat_map(|r| &r.reported)
        .find_map(|o| o.majority)
}
