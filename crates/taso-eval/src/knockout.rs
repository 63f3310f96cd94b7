//! Knock-out by matrix type: a trained adapter evaluated whole, then with each matrix type's
//! adapters detached in turn (the other types stay attached), so that what each type of matrix
//! contributes to the score can be read beside where its importance and its blocks sit.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use taso_artifact::group_by_matrix_type;
use taso_data::Split;
use taso_models::{TaskData, TaskModel};
use taso_run::{
    evaluate, set_metrics_entry, write_report_section, RunContext, Scores, TrainedModel,
};

use crate::error::EvalError;
use crate::run::{adapter_to_evaluate, create_run_folder, file_label};
use crate::EvalConfig;

/// The `metrics.json` entry the knock-out writes (the latest one replaces it).
pub const KNOCKOUT_KEY: &str = "knockout";
/// The heading of the knock-out's section in `report.md`.
pub const KNOCKOUT_HEADING: &str = "## Knock-out by matrix type";

/// The adapter without one matrix type's adapters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnockoutRow {
    /// The matrix type detached (`self_attn.q_proj`, `mlp.down_proj`, …).
    pub matrix_type: String,
    /// How many matrices of that type the adapter adapts.
    pub matrices: usize,
    /// The adapter parameters in them.
    pub adapter_params: usize,
    /// The task's metrics with them detached.
    pub metrics: Scores,
}

/// What a knock-out found; also the `knockout` entry of `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnockoutReport {
    /// The adapter file evaluated.
    pub adapter: PathBuf,
    /// The split predicted.
    pub split: Split,
    /// Examples predicted.
    pub examples: usize,
    /// The metric the differences are given in (the task's first).
    pub main_metric: String,
    /// How many matrices the adapter adapts.
    pub matrices: usize,
    /// Its adapter parameters.
    pub adapter_params: usize,
    /// The metrics with every adapter attached.
    pub whole: Scores,
    /// One row per matrix type, in model order.
    pub without: Vec<KnockoutRow>,
}

impl KnockoutReport {
    /// The main metric of `scores`.
    fn main(&self, scores: &Scores) -> f64 {
        scores[&self.main_metric]
    }

    /// The `report.md` section: a table of the main metric, whole and without each type.
    pub fn markdown(&self) -> String {
        let file = file_label(&self.adapter);
        let metric = &self.main_metric;
        let mut text = format!(
            "`{file}` on the {} split, {} examples: the adapter whole, then without each matrix \
             type's adapters (the other types attached).\n\n\
             | adapters | matrices | adapter parameters | {metric} | Δ {metric} against the whole |\n\
             |---|---|---|---|---|\n\
             | all | {} | {} | {:.4} | — |\n",
            self.split,
            self.examples,
            self.matrices,
            self.adapter_params,
            self.main(&self.whole)
        );
        for row in &self.without {
            let value = self.main(&row.metrics);
            text.push_str(&format!(
                "| without {} | {} | {} | {value:.4} | {:+.4} |\n",
                row.matrix_type,
                row.matrices,
                row.adapter_params,
                value - self.main(&self.whole)
            ));
        }
        text
    }

    /// Lines for the terminal.
    pub fn summary(&self) -> String {
        let metric = &self.main_metric;
        let whole = self.main(&self.whole);
        let mut text = format!(
            "{} on {} ({} examples): {metric} {whole:.4} whole",
            self.adapter.display(),
            self.split,
            self.examples
        );
        for row in &self.without {
            let value = self.main(&row.metrics);
            text.push_str(&format!(
                "\n  without {:<18} {metric} {value:.4} ({:+.4})",
                row.matrix_type,
                value - whole
            ));
        }
        text
    }
}

/// Evaluates the adapter file `adapter` (default: the run folder's file that `config.adapter`
/// names) on `config.split` whole, then with each matrix type's adapters detached in turn;
/// writes the `knockout` entry of `metrics.json` and the `report.md` section (the evaluation's
/// own `eval` entry and `predictions.tsv` stay as they are) and returns the report. The adapter
/// is always attached (`config.merged` does not apply).
pub fn knockout_run(
    ctx: &RunContext,
    config: &EvalConfig,
    adapter: Option<&Path>,
) -> Result<KnockoutReport, EvalError> {
    config.validate()?;
    let path = adapter_to_evaluate(ctx, config, adapter)?.ok_or(EvalError::NothingToKnockOut)?;
    let mut trained = TrainedModel::load(ctx, &path, false)?;
    let Some(adapters) = trained.adapters.take() else {
        return Err(EvalError::NoAdapterMatrices {
            method: trained.method.to_string(),
        });
    };
    let data = ctx.split(config.split, config.max_examples)?;
    let score = |model: &TaskModel, what: &str| -> Result<Scores, EvalError> {
        let scores = scores_of(ctx, model, &data, config)?;
        tracing::info!("{what}: {}", taso_run::format_scores(&scores));
        Ok(scores)
    };
    let whole = score(&trained.model, "the adapter whole")?;
    let matrices = adapters.matrices();
    let mut without = Vec::new();
    for (matrix_type, members) in group_by_matrix_type(matrices.iter().map(|m| (m.name(), m))) {
        let names: HashSet<&str> = members.iter().map(|m| m.name()).collect();
        adapters.detach_where(&mut trained.model, |name| names.contains(name))?;
        let metrics = score(&trained.model, &format!("without {matrix_type}"))?;
        adapters.attach(&mut trained.model)?;
        without.push(KnockoutRow {
            matrix_type,
            matrices: members.len(),
            adapter_params: members.iter().map(|m| m.num_params()).sum(),
            metrics,
        });
    }
    let report = KnockoutReport {
        adapter: path,
        split: config.split,
        examples: data.len(),
        main_metric: ctx.main_metric().to_string(),
        matrices: matrices.len(),
        adapter_params: adapters.num_params(),
        whole,
        without,
    };
    if ctx.is_main() {
        create_run_folder(&ctx.paths)?;
        let entry = serde_json::to_value(&report).expect("the report serialises");
        set_metrics_entry(&ctx.paths.metrics(), KNOCKOUT_KEY, entry)?;
        write_report_section(&ctx.paths.report(), KNOCKOUT_HEADING, &report.markdown())?;
    }
    Ok(report)
}

/// The task's metrics of `model` on `data`; refuses an unlabeled split.
fn scores_of(
    ctx: &RunContext,
    model: &TaskModel,
    data: &TaskData,
    config: &EvalConfig,
) -> Result<Scores, EvalError> {
    evaluate(ctx, model, data, config.batch_size)?
        .scores
        .ok_or(EvalError::UnlabeledKnockout {
            split: config.split,
        })
}
