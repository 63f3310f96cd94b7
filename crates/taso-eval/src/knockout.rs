//! Knock-out by matrix type: a trained adapter evaluated whole and with no adapter matrix, then
//! with each matrix type's adapters detached in turn (the other types attached) and with each
//! type's adapters attached alone, so that what each type of matrix contributes to the score
//! can be read beside where its importance and its blocks sit.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use taso_artifact::group_by_matrix_type;
use taso_data::Split;
use taso_models::{TaskData, TaskModel};
use taso_plot::{grouped_bars, BarGroup, Reference, Series};
use taso_run::{
    evaluate, set_metrics_entry, write_report_section, RunContext, Scores, TrainedModel,
};

use crate::error::EvalError;
use crate::run::{adapter_to_evaluate, create_run_folder, file_label};
use crate::EvalConfig;

/// The `metrics.json` entry the knock-out writes (the latest one replaces it).
pub const KNOCKOUT_KEY: &str = "knockout";
/// The knock-out's chart in the run folder.
pub const KNOCKOUT_CHART_FILE: &str = "knockout.png";
/// The heading of the knock-out's section in `report.md`.
pub const KNOCKOUT_HEADING: &str = "## Knock-out by matrix type";

/// One matrix type's adapters: taken out of the whole, and attached alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnockoutRow {
    /// The matrix type (`self_attn.q_proj`, `mlp.down_proj`, …).
    pub matrix_type: String,
    /// How many matrices of that type the adapter adapts.
    pub matrices: usize,
    /// The adapter parameters in them.
    pub adapter_params: usize,
    /// The task's metrics with this type's adapters detached and every other type's attached.
    pub without: Scores,
    /// The task's metrics with only this type's adapters attached.
    pub alone: Scores,
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
    /// The metrics with no adapter matrix attached (the base model; an encoder keeps the
    /// file's trained head).
    pub none: Scores,
    /// One row per matrix type, in model order.
    pub by_type: Vec<KnockoutRow>,
}

impl KnockoutReport {
    /// The main metric of `scores`.
    fn main(&self, scores: &Scores) -> f64 {
        scores[&self.main_metric]
    }

    /// The `report.md` section: the main metric whole and with no adapter, then per matrix type
    /// without it and with it alone, and the chart.
    pub fn markdown(&self) -> String {
        let file = file_label(&self.adapter);
        let metric = &self.main_metric;
        let (whole, none) = (self.main(&self.whole), self.main(&self.none));
        let mut text = format!(
            "`{file}` on the {} split, {} examples: the adapter whole ({} matrices, {} adapter \
             parameters) scores {metric} {whole:.4}, and with no adapter matrix attached \
             {none:.4}. Each matrix type's adapters taken out (the other types attached), and \
             attached alone:\n\n\
             | matrix type | matrices | adapter parameters | without it | Δ against the whole | \
             it alone | Δ against none |\n\
             |---|---|---|---|---|---|---|\n",
            self.split, self.examples, self.matrices, self.adapter_params,
        );
        for row in &self.by_type {
            let (without, alone) = (self.main(&row.without), self.main(&row.alone));
            text.push_str(&format!(
                "| {} | {} | {} | {without:.4} | {:+.4} | {alone:.4} | {:+.4} |\n",
                row.matrix_type,
                row.matrices,
                row.adapter_params,
                without - whole,
                alone - none,
            ));
        }
        text.push_str(&format!(
            "\n![{metric} without each matrix type and with it alone]({KNOCKOUT_CHART_FILE})\n"
        ));
        text
    }

    /// Lines for the terminal.
    pub fn summary(&self) -> String {
        let metric = &self.main_metric;
        let (whole, none) = (self.main(&self.whole), self.main(&self.none));
        let mut text = format!(
            "{} on {} ({} examples): {metric} {whole:.4} whole, {none:.4} with no adapter",
            self.adapter.display(),
            self.split,
            self.examples
        );
        for row in &self.by_type {
            let (without, alone) = (self.main(&row.without), self.main(&row.alone));
            text.push_str(&format!(
                "\n  {:<18} without it {without:.4} ({:+.4}), alone {alone:.4} ({:+.4})",
                row.matrix_type,
                without - whole,
                alone - none
            ));
        }
        text
    }

    /// Draws the chart: per matrix type the main metric without it and with it alone, against
    /// the whole adapter and no adapter.
    pub fn draw_chart(&self, path: &Path) -> Result<(), taso_plot::PlotError> {
        let series = [Series::new("without it"), Series::new("it alone")];
        let groups: Vec<BarGroup> = self
            .by_type
            .iter()
            .map(|row| BarGroup {
                label: row.matrix_type.clone(),
                values: vec![self.main(&row.without), self.main(&row.alone)],
                spreads: Vec::new(),
            })
            .collect();
        let references = [
            Reference {
                label: "the whole adapter".into(),
                value: self.main(&self.whole),
            },
            Reference {
                label: "no adapter matrix".into(),
                value: self.main(&self.none),
            },
        ];
        let folder = self.adapter.parent().and_then(Path::file_name);
        let source = match folder {
            Some(folder) => format!("{}/{}", folder.to_string_lossy(), file_label(&self.adapter)),
            None => file_label(&self.adapter),
        };
        let title = format!("Knock-out by matrix type: {source}");
        grouped_bars(
            path,
            &title,
            &self.main_metric,
            &series,
            &groups,
            &references,
        )
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
    adapters.detach(&mut trained.model)?;
    let none = score(&trained.model, "no adapter matrix")?;
    let matrices = adapters.matrices();
    let mut by_type = Vec::new();
    for (matrix_type, members) in group_by_matrix_type(matrices.iter().map(|m| (m.name(), m))) {
        let names: HashSet<&str> = members.iter().map(|m| m.name()).collect();
        adapters.attach(&mut trained.model)?;
        adapters.detach_where(&mut trained.model, |name| names.contains(name))?;
        let without = score(&trained.model, &format!("without {matrix_type}"))?;
        adapters.attach(&mut trained.model)?;
        adapters.detach_where(&mut trained.model, |name| !names.contains(name))?;
        let alone = score(&trained.model, &format!("{matrix_type} alone"))?;
        by_type.push(KnockoutRow {
            matrix_type,
            matrices: members.len(),
            adapter_params: members.iter().map(|m| m.num_params()).sum(),
            without,
            alone,
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
        none,
        by_type,
    };
    if ctx.is_main() {
        create_run_folder(&ctx.paths)?;
        let entry = serde_json::to_value(&report).expect("the report serialises");
        set_metrics_entry(&ctx.paths.metrics(), KNOCKOUT_KEY, entry)?;
        report.draw_chart(&ctx.paths.dir.join(KNOCKOUT_CHART_FILE))?;
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
