//! A split of a run's task, tokenized for its model family, cut into [`TaskBatch`]es.

use crate::batch::BatchTensors;
use crate::choice_loss::ChoiceTensors;
use crate::task_model::{CausalTensors, TaskBatch};
use taso_data::{PromptExample, PromptSplit, TokenizedSplit};
use tch::Device;

/// A tokenized prompt split with the examples it came from (their gold answers score it).
#[derive(Debug, Clone)]
pub struct PromptData {
    /// The tokenized examples.
    pub split: PromptSplit,
    /// The examples as read, in the same order.
    pub examples: Vec<PromptExample>,
}

/// A split of either kind of task.
#[derive(Debug, Clone)]
pub enum TaskData {
    /// A classification or regression split for an encoder.
    Classification(TokenizedSplit),
    /// A prompt split for a causal LM.
    Prompt(PromptData),
}

impl TaskData {
    /// Number of examples.
    pub fn len(&self) -> usize {
        match self {
            TaskData::Classification(s) => s.len(),
            TaskData::Prompt(p) => p.split.len(),
        }
    }

    /// Whether the split has no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Token count of each training row (prompt plus gold answer for prompt tasks), for the
    /// batch planners; a prompt split must have every answer (see
    /// `taso_run::RunContext::require_labels`).
    pub fn lengths(&self) -> Vec<usize> {
        match self {
            TaskData::Classification(s) => s.lengths(),
            TaskData::Prompt(p) => p
                .split
                .training_lengths()
                .expect("prompt splits are checked for answers before training"),
        }
    }

    /// The most gold-answer tokens of any example (0 for a classification split): where a
    /// causal LM's head runs in training.
    pub fn longest_answer(&self) -> usize {
        match self {
            TaskData::Classification(_) => 0,
            TaskData::Prompt(p) => p
                .split
                .encodings
                .iter()
                .filter_map(|e| e.gold_ids().map(<[_]>::len))
                .max()
                .unwrap_or(0),
        }
    }

    /// The training batch of examples `indices`, on `device`.
    pub fn batch(&self, indices: &[usize], device: Device) -> TaskBatch {
        match self {
            TaskData::Classification(s) => {
                TaskBatch::Classification(BatchTensors::new(&s.batch(indices), device))
            }
            TaskData::Prompt(p) => {
                TaskBatch::Causal(CausalTensors::new(&p.split.training_batch(indices), device))
            }
        }
    }

    /// The choice among candidate answers that examples `indices` pose by their first answer
    /// token, on `device`, for the choice loss; `None` for a classification split and where
    /// [`taso_data::PromptSplit::first_token_choices`] has none.
    pub fn choices(&self, indices: &[usize], device: Device) -> Option<ChoiceTensors> {
        match self {
            TaskData::Classification(_) => None,
            TaskData::Prompt(p) => p
                .split
                .first_token_choices(indices)
                .map(|choices| ChoiceTensors::new(&choices, device)),
        }
    }

    /// The examples at `indices`, in that order (a data-parallel rank's share of a split).
    pub fn subset(&self, indices: &[usize]) -> TaskData {
        match self {
            TaskData::Classification(s) => TaskData::Classification(TokenizedSplit {
                encodings: indices.iter().map(|&i| s.encodings[i].clone()).collect(),
                labels: indices.iter().map(|&i| s.labels[i]).collect(),
                pad_id: s.pad_id,
            }),
            TaskData::Prompt(p) => TaskData::Prompt(PromptData {
                split: PromptSplit {
                    encodings: indices
                        .iter()
                        .map(|&i| p.split.encodings[i].clone())
                        .collect(),
                    pad_id: p.split.pad_id,
                },
                examples: indices.iter().map(|&i| p.examples[i].clone()).collect(),
            }),
        }
    }

    /// Whether every example has a label (or gold answer).
    pub fn is_labeled(&self) -> bool {
        match self {
            TaskData::Classification(s) => s.gold().is_some(),
            TaskData::Prompt(p) => p.split.training_lengths().is_ok(),
        }
    }
}
