//! Evaluating a run's adapter file: predictions, metrics, and the run folder's records.

use std::path::{Path, PathBuf};

use serde::Serialize;
use taso_data::{ClassReport, Split};
use taso_models::{TaskData, TaskModel};
use taso_run::Method;
use taso_run::{
    evaluate, format_scores, set_metrics_entry, write_report_section, RunContext, RunPaths, Scores,
    TaskPredictions, TrainedModel,
};

use crate::error::EvalError;
use crate::predictions::{predictions_tsv, prompt_predictions_tsv, write_predictions};
use crate::EvalConfig;

/// The heading of the evaluator's section in `report.md`.
pub const REPORT_HEADING: &str = "## Evaluation";
/// The `metrics.json` entry the evaluator writes (the latest evaluation replaces it).
pub const METRICS_KEY: &str = "eval";

/// What one evaluation found; also the `eval` entry of `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// The adapter file evaluated; `None` for the base model alone (`eval.adapter = "none"`).
    pub adapter: Option<PathBuf>,
    /// The method that trained it; `None` for the base model alone.
    pub method: Option<Method>,
    /// The epoch it was written at, if recorded.
    pub epoch: Option<usize>,
    /// The split predicted.
    pub split: Split,
    /// Whether the adapter was merged into the base weights.
    pub merged: bool,
    /// Examples predicted.
    pub examples: usize,
    /// The task's metrics; `None` on an unlabeled split.
    pub metrics: Option<Scores>,
    /// The accuracy of always giving the split's most frequent answer; `None` where that means
    /// nothing (regression, free-form answers, unlabeled splits).
    pub majority_accuracy: Option<f64>,
    /// Per-class precision, recall and F1 and the confusion matrix (classes or candidate
    /// positions); `None` where `majority_accuracy` is.
    pub classes: Option<ClassReport>,
    /// The predictions, in example order.
    #[serde(skip)]
    pub predictions: TaskPredictions,
}

impl EvalReport {
    /// The `report.md` section.
    pub fn markdown(&self) -> String {
        let what = match (&self.adapter, self.method) {
            (Some(adapter), Some(method)) => {
                let file = file_label(adapter);
                let epoch = self.epoch.map_or(String::new(), |e| format!(", epoch {e}"));
                let how = if self.merged {
                    "merged into the base weights"
                } else {
                    "attached"
                };
                format!("`{file}` (method {}{epoch}, adapter {how})", method)
            }
            _ => "The base model without an adapter (zero-shot)".to_string(),
        };
        let mut text = format!(
            "{what} on the {} split, {} examples; predictions in `predictions.tsv`.\n",
            self.split, self.examples
        );
        match &self.metrics {
            Some(metrics) => {
                text.push_str("\n| metric | value |\n|---|---|\n");
                for (name, value) in metrics {
                    text.push_str(&format!("| {name} | {value:.4} |\n"));
                }
                if let Some(majority) = self.majority_accuracy {
                    text.push_str(&format!(
                        "\nAlways giving the most frequent answer scores accuracy {majority:.4}.\n"
                    ));
                }
                if let Some(classes) = &self.classes {
                    text.push_str(&format!(
                        "\nPer class (macro-F1 {:.4}):\n\n{}",
                        classes.macro_f1(),
                        classes.markdown()
                    ));
                }
            }
            None => text.push_str("\nThe split is unlabeled: no metrics.\n"),
        }
        text
    }

    /// One line for the terminal.
    pub fn summary(&self) -> String {
        let mut metrics = self
            .metrics
            .as_ref()
            .map_or("unlabeled, no metrics".to_string(), format_scores);
        if let Some(majority) = self.majority_accuracy {
            metrics.push_str(&format!(" (majority answer: accuracy {majority:.4})"));
        }
        let what = self.adapter.as_ref().map_or_else(
            || "the base model (no adapter)".to_string(),
            |a| a.display().to_string(),
        );
        format!(
            "{what} on {} ({} examples{}): {metrics}",
            self.split,
            self.examples,
            if self.merged { ", merged" } else { "" }
        )
    }
}

/// Evaluates the adapter file `adapter` (default: the run folder's file that `config.adapter`
/// names, or no adapter for `adapter = "none"`) on `config.split`, writes `predictions.tsv`, the
/// `eval` entry of `metrics.json` and the `report.md` section, and returns the report with the
/// loaded adapter (`None` for the base model alone). In a data-parallel run the ranks share the
/// examples and rank 0 alone writes.
pub fn evaluate_run(
    ctx: &RunContext,
    config: &EvalConfig,
    adapter: Option<&Path>,
) -> Result<(EvalReport, Option<TrainedModel>), EvalError> {
    config.validate()?;
    let path = adapter_to_evaluate(ctx, config, adapter)?;
    let paths = &ctx.paths;
    let trained = match &path {
        Some(path) => Some(TrainedModel::load(ctx, path, config.merged)?),
        None => None,
    };
    let base;
    let model = match &trained {
        Some(trained) => &trained.model,
        None => {
            base = base_model(ctx)?;
            &base
        }
    };
    let data = ctx.split(config.split, config.max_examples)?;
    let evaluation = evaluate(ctx, model, &data, config.batch_size)?;
    let report = EvalReport {
        adapter: path,
        method: trained.as_ref().map(|t| t.method),
        epoch: trained.as_ref().and_then(|t| {
            t.artifact
                .meta
                .extra
                .get(taso_run::EPOCH)
                .and_then(|e| e.parse().ok())
        }),
        split: config.split,
        merged: config.merged,
        examples: data.len(),
        metrics: evaluation.scores,
        majority_accuracy: evaluation.majority,
        classes: evaluation.classes,
        predictions: evaluation.predictions,
    };
    if !ctx.is_main() {
        return Ok((report, trained));
    }
    create_run_folder(paths)?;
    write_predictions(&paths.predictions(), &tsv(ctx, &report.predictions, &data))?;
    let entry = serde_json::to_value(&report).expect("the report serialises");
    set_metrics_entry(&paths.metrics(), METRICS_KEY, entry)?;
    write_report_section(&paths.report(), REPORT_HEADING, &report.markdown())?;
    Ok((report, trained))
}

/// The adapter file to evaluate: `adapter`, else the run folder's file that `config.adapter`
/// names (`None` for `eval.adapter = "none"`), once the run folder is known to be writable and
/// the file's training to have finished.
pub(crate) fn adapter_to_evaluate(
    ctx: &RunContext,
    config: &EvalConfig,
    adapter: Option<&Path>,
) -> Result<Option<PathBuf>, EvalError> {
    let path = adapter.map_or_else(
        || config.adapter.path(&ctx.paths),
        |p| Some(p.to_path_buf()),
    );
    let paths = &ctx.paths;
    paths.check_writable().map_err(|source| EvalError::Io {
        path: paths.dir.clone(),
        source,
    })?;
    if let Some(path) = &path {
        check_training_finished(ctx, path, config.allow_incomplete)?;
    }
    Ok(path)
}

/// Creates the run folder (and the folders above it) for the evaluation's outputs.
pub(crate) fn create_run_folder(paths: &RunPaths) -> Result<(), EvalError> {
    paths.create().map_err(|source| EvalError::Io {
        path: paths.dir.clone(),
        source,
    })
}

/// The file name of `path` for a report, or the whole path where it has none.
pub(crate) fn file_label(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Refuses an adapter of the run folder while its training has not finished (the folder holds
/// `training.incomplete`), unless `allow` says to evaluate it anyway, which is logged.
fn check_training_finished(ctx: &RunContext, adapter: &Path, allow: bool) -> Result<(), EvalError> {
    let paths = &ctx.paths;
    let in_folder = adapter.parent() == Some(paths.dir.as_path());
    if !in_folder || !paths.training_marker().exists() {
        return Ok(());
    }
    if allow {
        tracing::warn!(
            "evaluating {} of a training that did not finish (eval.allow_incomplete)",
            adapter.display()
        );
        return Ok(());
    }
    Err(EvalError::IncompleteTraining {
        dir: paths.dir.clone(),
    })
}

/// The run's base model as it is: a decoder only (an encoder's head is untrained).
fn base_model(ctx: &RunContext) -> Result<TaskModel, EvalError> {
    match ctx.task {
        taso_data::AnyTask::Prompt(_) => Ok(ctx.load_model()?),
        taso_data::AnyTask::Classification(_) => Err(EvalError::NoBaseline),
    }
}

/// The `predictions.tsv` text of `predictions` on `data`.
fn tsv(ctx: &RunContext, predictions: &TaskPredictions, data: &TaskData) -> String {
    match (&ctx.task, predictions, data) {
        (
            taso_data::AnyTask::Classification(task),
            TaskPredictions::Classification(predictions),
            TaskData::Classification(split),
        ) => predictions_tsv(&task.labels, predictions, &split.labels),
        (_, TaskPredictions::Prompt(predictions), TaskData::Prompt(prompt)) => {
            prompt_predictions_tsv(predictions, &prompt.examples)
        }
        _ => unreachable!("evaluate predicts the kind of the run's task"),
    }
}
