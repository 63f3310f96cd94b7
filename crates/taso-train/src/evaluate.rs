//! Scoring a model on a split: predictions and the task's metrics.

use taso_data::{compute_metrics, Metric, Predictions, TokenizedSplit};
use taso_models::{predict, SequenceClassifier};
use tch::Device;

use crate::error::TrainError;
use crate::records::Scores;

/// A model's predictions on a split, and its scores when the split has labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Predictions in example order.
    pub predictions: Predictions,
    /// The metrics, by name; `None` on an unlabeled split.
    pub scores: Option<Scores>,
}

/// Predicts every example of `data` (eval mode, no gradients, length-sorted batches of
/// `batch_size`) and computes `metrics` if the split is labeled.
pub fn evaluate(
    model: &SequenceClassifier,
    data: &TokenizedSplit,
    metrics: &[Metric],
    batch_size: usize,
    device: Device,
) -> Result<Evaluation, TrainError> {
    let predictions = predict(model, data, batch_size, device);
    let scores = match data.gold() {
        Some(gold) => Some(compute_metrics(metrics, &predictions, &gold)?),
        None => None,
    };
    Ok(Evaluation {
        predictions,
        scores,
    })
}
