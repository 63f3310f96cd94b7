//! `<table>.json` beside every table: the figures its chart shows, as data. Each method's
//! chosen lr, adapter parameters and reported value per seed, the eval split's majority answer
//! and the zero-shot figure; `taso-compare glance` draws several tasks' summaries as one chart.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use taso::artifact::write_atomic;
use taso::run::Scores;

use crate::figures::{majority, mean_std, reported_figure};
use crate::paired::PairedDifference;
use crate::MethodResult;

/// What a summary file says it is.
const FORMAT: &str = "taso-compare-summary";
/// The summary layout this build writes and reads.
const VERSION: u32 = 1;

/// One comparison's reported figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Always `taso-compare-summary`.
    pub format: String,
    /// The layout's version.
    pub version: u32,
    /// The task's name.
    pub task: String,
    /// The main metric (e.g. `accuracy`), as a fraction.
    pub metric: String,
    /// Which figure the values are: `eval` (`taso-eval` on the whole eval split, at the chosen
    /// epoch) or `best-epoch dev` (the trainer's).
    pub figure: String,
    /// What chose lrs and epochs: `holdout` or `dev`.
    pub selection: String,
    /// The base model without an adapter on the eval split (`--zero-shot`), if run.
    pub zero_shot: Option<f64>,
    /// Always giving the eval split's most frequent answer, where `taso-eval` recorded it.
    pub majority: Option<f64>,
    /// Each method at its chosen lr, in the table's order.
    pub methods: Vec<MethodSummary>,
}

/// One method's reported runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSummary {
    /// The method's name (built-in or `--variant`).
    pub name: String,
    /// The lr chosen.
    pub lr: f64,
    /// Trainable adapter parameters.
    pub adapter_params: usize,
    /// The reported seeds.
    pub seeds: Vec<u64>,
    /// The reported figure of each seed, in `seeds`' order.
    pub values: Vec<f64>,
    /// Their mean.
    pub mean: f64,
    /// Their sample standard deviation (0 for one seed).
    pub std: f64,
    /// Seed by seed against the table's first method (none for the first itself).
    #[serde(default)]
    pub against: Option<Against>,
}

/// A method against the table's first, seed by seed, as the table's "Against ..." part gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Against {
    /// The first method's name.
    pub reference: String,
    /// The seeds both ran.
    pub pairs: usize,
    /// The mean of the per-seed differences of the reported figure.
    pub mean: f64,
    /// Its standard error (none for one pair).
    pub standard_error: Option<f64>,
    /// `ahead`, `behind` (beyond twice the standard error), `within the noise` or `one seed`.
    pub verdict: String,
}

impl Summary {
    /// The summary of a comparison's `results`.
    pub fn new(
        task: &str,
        results: &[MethodResult],
        zero_shot: Option<&Scores>,
        selection: &str,
    ) -> Option<Self> {
        let metric = results
            .iter()
            .flat_map(|r| &r.reported)
            .next()?
            .metric
            .clone();
        let (figure, value) = reported_figure(results);
        let methods = results
            .iter()
            .map(|r| {
                let values: Vec<f64> = r.reported.iter().map(value).collect();
                let (mean, std) = mean_std(&values);
                let against = (r.name != results[0].name)
                    .then(|| PairedDifference::of(&r.reported, &results[0].reported, value))
                    .flatten()
                    .map(|d| Against {
                        reference: results[0].name.clone(),
                        pairs: d.pairs,
                        mean: d.mean,
                        standard_error: d.standard_error,
                        verdict: d.verdict().into(),
                    });
                MethodSummary {
                    name: r.name.clone(),
                    lr: r.best_lr,
                    adapter_params: r.reported[0].adapter_params,
                    seeds: r.reported.iter().map(|o| o.seed).collect(),
                    values,
                    mean,
                    std,
                    against,
                }
            })
            .collect();
        Some(Summary {
            format: FORMAT.into(),
            version: VERSION,
            task: task.into(),
            zero_shot: zero_shot.and_then(|s| s.get(&metric)).copied(),
            metric,
            figure: figure.into(),
            selection: selection.into(),
            majority: majority(results),
            methods,
        })
    }

    /// Writes the summary to `path`, atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)? + "\n";
        write_atomic(path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))
    }

    /// Reads a summary that `taso-compare` wrote; refuses any other file, and a layout of
    /// another version, saying what to run.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            bail!(
                "{} is not a comparison summary (no \"format\": \"{FORMAT}\"); pass the .json \
                 that taso-compare writes beside its table",
                path.display()
            );
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(VERSION) => {}
            Some(v) if v > u64::from(VERSION) => bail!(
                "{} is a version-{v} summary, newer than this taso-compare reads ({VERSION}); \
                 update taso",
                path.display()
            ),
            _ => bail!(
                "{} is a summary of an older layout than version {VERSION}; remake it with the \
                 same taso-compare command and --report-only",
                path.display()
            ),
        }
        serde_json::from_value(value).with_context(|| format!("reading {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::outcome;
    use crate::Outcome;

    fn summary() -> Summary {
        let mut second = outcome(0.9, 0.8);
        second.seed = 1;
        second.majority = Some(0.5);
        let results = [
            MethodResult {
                name: "taso".into(),
                sweep: Vec::new(),
                best_lr: 1e-3,
                reported: vec![outcome(0.9, 0.7), second.clone()],
            },
            MethodResult {
                name: "lora-r1".into(),
                sweep: Vec::new(),
                best_lr: 2e-3,
                reported: vec![
                    outcome(0.9, 0.75),
                    Outcome {
                        eval: 0.86,
                        ..second
                    },
                ],
            },
        ];
        let zero_shot = Scores::from([("accuracy".to_string(), 0.6)]);
        Summary::new("rte", &results, Some(&zero_shot), "holdout").unwrap()
    }

    #[test]
    fn a_summary_holds_the_tables_figures_and_reads_back() {
        let summary = summary();
        assert_eq!(summary.figure, "eval");
        assert_eq!(
            (summary.zero_shot, summary.majority),
            (Some(0.6), Some(0.5))
        );
        let taso = &summary.methods[0];
        assert_eq!(
            (taso.seeds.as_slice(), taso.values.as_slice()),
            (&[0, 1][..], &[0.7, 0.8][..])
        );
        assert!((taso.mean - 0.75).abs() < 1e-12 && taso.std > 0.0);
        assert_eq!(taso.against, None);
        let against = summary.methods[1].against.as_ref().unwrap();
        assert_eq!((against.reference.as_str(), against.pairs), ("taso", 2));
        assert!((against.mean - 0.055).abs() < 1e-12, "{against:?}");
        assert_eq!(against.verdict, "ahead");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        summary.write(&path).unwrap();
        assert_eq!(Summary::read(&path).unwrap(), summary);
    }

    #[test]
    fn without_an_eval_figure_on_every_run_the_best_epoch_dev_is_shown() {
        let results = [MethodResult {
            name: "taso".into(),
            sweep: Vec::new(),
            best_lr: 1e-3,
            reported: vec![outcome(0.8, 0.7), outcome(0.9, f64::NAN)],
        }];
        let summary = Summary::new("rte", &results, None, "dev").unwrap();
        assert_eq!(summary.figure, "best-epoch dev");
        assert!((summary.methods[0].mean - 0.85).abs() < 1e-12);
        assert_eq!(summary.zero_shot, None);
        assert!(Summary::new("rte", &[], None, "dev").is_none());
    }

    #[test]
    fn another_file_or_version_is_refused_saying_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let refusal = |text: String| {
            std::fs::write(&path, text).unwrap();
            format!("{:#}", Summary::read(&path).unwrap_err())
        };
        assert!(refusal("{\"a\": 1}".into()).contains("not a comparison summary"));
        assert!(refusal("not json".into()).contains("is not JSON"));
        let mut newer = serde_json::to_value(summary()).unwrap();
        newer["version"] = 2.into();
        assert!(refusal(newer.to_string()).contains("update taso"));
        let mut older = newer.clone();
        older["version"] = 0.into();
        assert!(refusal(older.to_string()).contains("--report-only"));
        let missing = dir.path().join("none.json");
        let err = format!("{:#}", Summary::read(&missing).unwrap_err());
        assert!(
            err.contains("cannot read") && err.contains("none.json"),
            "{err}"
        );
    }
}
