//! Scoring a model on a split: predictions and the task's metrics.

use taso_data::{
    compute_metrics, majority_accuracy, AnswerSpec, AnyTask, ClassReport, Label, LabelSpec,
    Predictions, PromptAnswer, PromptPredictions,
};
use taso_models::{predict as predict_classes, predict_prompts, TaskData, TaskModel};

use crate::context::{RunContext, RunTokenizer};
use crate::error::RunError;
use crate::parallel::DataParallel;
use crate::records::Scores;

/// Predictions of either kind of task, in example order.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskPredictions {
    /// Classes or scores of a classification or regression task.
    Classification(Predictions),
    /// Picked candidates or generated texts of a prompt task.
    Prompt(PromptPredictions),
}

/// A model's predictions on a split, and its scores when the split has labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Predictions in example order.
    pub predictions: TaskPredictions,
    /// The metrics, by name; `None` on an unlabeled split.
    pub scores: Option<Scores>,
    /// The accuracy of always giving the split's most frequent answer (class, or candidate
    /// position); `None` for regression, free-form answers and unlabeled splits.
    pub majority: Option<f64>,
    /// Per-class precision, recall and F1 and the confusion matrix, over classes or candidate
    /// positions; `None` where `majority` is.
    pub classes: Option<ClassReport>,
}

/// Predicts every example of `data` of the run `ctx` (eval mode, no gradients, length-sorted
/// batches of `batch_size`; prompt tasks by candidate likelihood or greedy generation as
/// `ctx.generation` says) and computes the task's metrics if the split is labeled. In a
/// data-parallel run each rank predicts every `world_size`-th example and every rank gets all
/// the predictions back.
pub fn evaluate(
    ctx: &RunContext,
    model: &TaskModel,
    data: &TaskData,
    batch_size: usize,
) -> Result<Evaluation, RunError> {
    let predictions = match ctx.parallel {
        Some(parallel) => {
            let mine: Vec<usize> = (0..data.len()).filter(|&i| parallel.owns(i)).collect();
            let share = predict(ctx, model, &data.subset(&mine), batch_size)?;
            gather(parallel, data.len(), &mine, share)?
        }
        None => predict(ctx, model, data, batch_size)?,
    };
    let scores = match (&ctx.task, data, &predictions) {
        _ if !data.is_labeled() => None,
        (
            AnyTask::Classification(task),
            TaskData::Classification(split),
            TaskPredictions::Classification(p),
        ) => {
            let gold = split.gold().expect("a labeled split has gold labels");
            Some(compute_metrics(&task.metrics, p, &gold)?)
        }
        (AnyTask::Prompt(task), TaskData::Prompt(prompt), TaskPredictions::Prompt(p)) => {
            Some(task.score(p, &prompt.examples)?)
        }
        _ => unreachable!("RunContext pairs task, data and predictions"),
    };
    let gold = gold_classes(data);
    Ok(Evaluation {
        classes: gold
            .as_ref()
            .and_then(|gold| class_report(&ctx.task, &predictions, gold)),
        majority: gold.as_deref().and_then(majority_accuracy),
        predictions,
        scores,
    })
}

/// The predictions for every example of `data`, in example order.
fn predict(
    ctx: &RunContext,
    model: &TaskModel,
    data: &TaskData,
    batch_size: usize,
) -> Result<TaskPredictions, RunError> {
    Ok(match (&ctx.task, model, data, &ctx.tokenizer) {
        (_, TaskModel::Classifier(model), TaskData::Classification(split), _) => {
            TaskPredictions::Classification(predict_classes(model, split, batch_size, ctx.device))
        }
        (
            AnyTask::Prompt(task),
            TaskModel::CausalLm(model),
            TaskData::Prompt(prompt),
            RunTokenizer::Prompt(tokenizer),
        ) => TaskPredictions::Prompt(predict_prompts(
            model,
            task,
            &prompt.split,
            tokenizer,
            batch_size,
            &ctx.generation,
        )?),
        _ => unreachable!("RunContext pairs task, tokenizer, data and model"),
    })
}

/// Every rank's predictions of its examples (`mine`), put together in example order.
fn gather(
    parallel: &DataParallel,
    len: usize,
    mine: &[usize],
    share: TaskPredictions,
) -> Result<TaskPredictions, RunError> {
    let ids = |ids: Vec<usize>| ids.into_iter().map(|id| id as f64).collect::<Vec<_>>();
    let as_ids = |values: Vec<f64>| values.into_iter().map(|v| v as usize).collect();
    Ok(match share {
        TaskPredictions::Classification(Predictions::Classes(p)) => {
            TaskPredictions::Classification(Predictions::Classes(as_ids(parallel.gather_values(
                len,
                mine,
                &ids(p),
            )?)))
        }
        TaskPredictions::Classification(Predictions::Scores(p)) => {
            let values: Vec<f64> = p.into_iter().map(f64::from).collect();
            let all = parallel.gather_values(len, mine, &values)?;
            TaskPredictions::Classification(Predictions::Scores(
                all.into_iter().map(|v| v as f32).collect(),
            ))
        }
        TaskPredictions::Prompt(PromptPredictions::Choices(p)) => TaskPredictions::Prompt(
            PromptPredictions::Choices(as_ids(parallel.gather_values(len, mine, &ids(p))?)),
        ),
        TaskPredictions::Prompt(PromptPredictions::Generations(texts)) => TaskPredictions::Prompt(
            PromptPredictions::Generations(parallel.gather_texts(len, mine, &texts)?),
        ),
    })
}

/// The per-class view of class or candidate predictions against `gold`, with the classes'
/// names (a prompt task's fixed candidates; `choice N` for per-example choices).
fn class_report(
    task: &AnyTask,
    predictions: &TaskPredictions,
    gold: &[usize],
) -> Option<ClassReport> {
    let (names, predicted): (Vec<String>, &[usize]) = match (task, predictions) {
        (
            AnyTask::Classification(task),
            TaskPredictions::Classification(Predictions::Classes(p)),
        ) => match &task.labels {
            LabelSpec::Classes { names } => (names.clone(), p),
            LabelSpec::Regression => return None,
        },
        (AnyTask::Prompt(task), TaskPredictions::Prompt(PromptPredictions::Choices(p))) => {
            let names = match &task.answer {
                AnswerSpec::Candidates { candidates, .. } => {
                    candidates.iter().map(|c| c.text.clone()).collect()
                }
                _ => Vec::new(),
            };
            (names, p)
        }
        _ => return None,
    };
    let mut report = ClassReport::new(&names, predicted, gold);
    for (index, name) in report.names.iter_mut().enumerate().skip(names.len()) {
        *name = format!("choice {}", index + 1);
    }
    Some(report)
}

/// The gold class or candidate position of every example of `data`; `None` for regression,
/// free-form answers and unlabeled splits.
fn gold_classes(data: &TaskData) -> Option<Vec<usize>> {
    match data {
        TaskData::Classification(split) => split
            .labels
            .iter()
            .map(|label| match label {
                Some(Label::Class(class)) => Some(*class),
                _ => None,
            })
            .collect(),
        TaskData::Prompt(prompt) => prompt
            .examples
            .iter()
            .map(|example| match &example.answer {
                PromptAnswer::Choice { gold, .. } => *gold,
                PromptAnswer::Free { .. } => None,
            })
            .collect(),
    }
}
