//! What a training run records: per-epoch results, the training progress a checkpoint saves,
//! and the `metrics.json` file, which `taso-eval` extends with an `eval` entry.

use std::path::Path;

use serde::{Deserialize, Serialize};
use taso_artifact::write_atomic;
use taso_models::LossScale;
use taso_run::{format_scores, read_metrics, Method, RunError, Scores};

use crate::budget::Budget;
use crate::config::TrainConfig;
use crate::error::TrainError;

/// One epoch (or the final, partial one when `max_steps` cuts training short).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Optimizer steps done at its end.
    pub step: usize,
    /// Mean training loss over its steps.
    pub train_loss: f64,
    /// The base learning rate of its last step.
    pub lr: f64,
    /// Dev metrics at its end; absent when it was not evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<Scores>,
    /// Metrics on the held-out training examples (`run.holdout`), which then choose the best
    /// epoch; absent without hold-out or when it was not evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<Scores>,
}

impl EpochRecord {
    /// The scores that choose the best epoch: the hold-out's when the run has one, else dev's.
    pub fn selection(&self) -> Option<&Scores> {
        self.holdout.as_ref().or(self.dev.as_ref())
    }
}

/// The mean training loss of a stretch of steps: those after the previous entry, up to `step`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepLoss {
    /// The stretch's last optimizer step (1-based).
    pub step: usize,
    /// The mean loss of its steps.
    pub loss: f64,
}

/// The state of the training loop besides tensors: saved in checkpoints, turned into
/// `metrics.json` at the end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Optimizer steps done.
    pub step: usize,
    /// Finished epochs.
    pub epochs: Vec<EpochRecord>,
    /// The epoch with the best main metric so far on the hold-out, or on dev without one (the
    /// first one on ties).
    pub best: Option<EpochRecord>,
    /// Sum of the losses of the current epoch's steps so far.
    pub epoch_loss_sum: f64,
    /// Steps of the current epoch so far.
    pub epoch_steps: usize,
    /// Seconds spent in training steps (evaluation excluded), over all sessions.
    pub train_seconds: f64,
    /// Training examples processed.
    pub examples_seen: usize,
    /// Tokens of those examples, padding excluded.
    #[serde(default)]
    pub tokens_seen: usize,
    /// The loss scale under f16 (inactive otherwise), so that a resumed run scales as an
    /// uninterrupted one does.
    #[serde(default)]
    pub loss_scale: LossScale,
    /// The mean loss of every `train.log_every` steps so far (the run's last stretch may be
    /// shorter); empty before the first (and in checkpoints older than the record).
    #[serde(default)]
    pub step_losses: Vec<StepLoss>,
    /// Sum of the losses since the last entry of `step_losses`.
    #[serde(default)]
    pub stretch_loss_sum: f64,
    /// Steps since the last entry of `step_losses`.
    #[serde(default)]
    pub stretch_steps: usize,
}

impl Progress {
    /// Counts a finished optimizer step of mean loss `loss`. Every `every` steps, and at the
    /// run's last step `total`, the mean loss since the previous such step joins `step_losses`.
    pub fn add_step_loss(&mut self, loss: f64, every: usize, total: usize) {
        self.step += 1;
        self.epoch_loss_sum += loss;
        self.epoch_steps += 1;
        self.stretch_loss_sum += loss;
        self.stretch_steps += 1;
        if self.step.is_multiple_of(every.max(1)) || self.step == total {
            self.step_losses.push(StepLoss {
                step: self.step,
                loss: self.stretch_loss_sum / self.stretch_steps as f64,
            });
            self.stretch_loss_sum = 0.0;
            self.stretch_steps = 0;
        }
    }
}

/// Trainable parameter counts of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ParamCounts {
    /// Adapter factors (A and B).
    pub adapter: usize,
    /// Task head.
    pub head: usize,
    /// Trained base-model parameters (bitfit, full).
    pub base: usize,
    /// All trainable parameters.
    pub total: usize,
    /// Parameters of the base model (encoder), trained or not.
    pub base_model: usize,
    /// `total` as a percentage of `base_model`.
    pub percent_of_base: f64,
}

impl ParamCounts {
    /// Counts with `total` and `percent_of_base` derived.
    pub fn new(adapter: usize, head: usize, base: usize, base_model: usize) -> Self {
        let total = adapter + head + base;
        Self {
            adapter,
            head,
            base,
            total,
            base_model,
            percent_of_base: 100.0 * total as f64 / base_model.max(1) as f64,
        }
    }
}

/// The learning rates of a run (peak values, before the schedule).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LearningRates {
    /// `train.lr`; also the rate of trained base parameters.
    pub base: f64,
    /// The head's rate.
    pub head: f64,
    /// The adapter's rate, `base · factor`; absent without adapter.
    pub adapter: Option<f64>,
    /// The sparsity-aware factor `(P_dense(r) / P_sparse)^γ` (1 without adapter).
    pub factor: f64,
    /// γ.
    pub gamma: f64,
}

impl LearningRates {
    /// The rates `config` gives a run with an adapter of `budget` (or none).
    pub fn new(config: &TrainConfig, budget: Option<&Budget>) -> Self {
        let factor = budget.map_or(1.0, |b| b.lr_factor(config.gamma));
        Self {
            base: config.lr,
            head: config.head_lr(),
            adapter: budget.map(|_| config.lr * factor),
            factor,
            gamma: config.gamma,
        }
    }
}

/// The content of `metrics.json` as `taso-train` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainMetrics {
    /// The task.
    pub task: String,
    /// The method trained.
    pub method: Method,
    /// The run seed.
    pub seed: u64,
    /// The metric that picks the best epoch (the task's first).
    pub main_metric: String,
    /// Trainable parameter counts.
    pub params: ParamCounts,
    /// The adapter budget; absent without adapter.
    pub budget: Option<Budget>,
    /// Learning rates.
    pub lr: LearningRates,
    /// Optimizer steps of the run.
    pub total_steps: usize,
    /// Training examples per epoch.
    pub train_examples: usize,
    /// Training examples held out to choose the best epoch (`run.holdout`; 0: chosen on dev).
    #[serde(default)]
    pub holdout_examples: usize,
    /// Every epoch.
    pub epochs: Vec<EpochRecord>,
    /// The best evaluated epoch (by the hold-out's main metric, or dev's without one).
    pub best: Option<EpochRecord>,
    /// The last epoch.
    pub last: Option<EpochRecord>,
    /// Seconds spent in training steps (evaluation excluded).
    pub train_seconds: f64,
    /// Training examples per second of training.
    pub examples_per_second: f64,
    /// Training tokens (padding excluded) per second of training.
    #[serde(default)]
    pub tokens_per_second: f64,
    /// The training process's peak resident memory so far at the end of each epoch it ran
    /// (its training and evaluation included; after a resume, only the epochs since), in bytes;
    /// empty where it cannot be read (not Linux). Freed memory goes back to the system at each
    /// epoch's end, so it stays flat after the first epoch.
    #[serde(default)]
    pub peak_resident_bytes_by_epoch: Vec<u64>,
    /// The training loss along the run: the mean of every `train.log_every` steps (see
    /// [`Progress::step_losses`]); absent from records older than it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_losses: Vec<StepLoss>,
}

impl TrainMetrics {
    /// Writes `metrics.json` atomically (replacing any earlier run's file, evaluations included).
    pub fn write(&self, path: &Path) -> Result<(), TrainError> {
        let text = serde_json::to_string_pretty(self).expect("metrics serialise");
        write_atomic(path, text.as_bytes()).map_err(|e| TrainError::io(path, e))
    }

    /// Reads a `metrics.json` written by [`TrainMetrics::write`] (extra entries are ignored).
    pub fn read(path: &Path) -> Result<Self, TrainError> {
        let bad = |e: serde_json::Error| RunError::BadMetrics {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        Ok(serde_json::from_value(read_metrics(path)?).map_err(bad)?)
    }
}

impl TrainMetrics {
    /// A few lines for the terminal: trainable parameters, budget, best and last dev scores.
    pub fn summary(&self) -> String {
        let p = &self.params;
        let mut lines = vec![format!(
            "trainable parameters: {} (adapter {}, head {}, base {}) = {:.4}% of the {} base parameters",
            p.total, p.adapter, p.head, p.base, p.percent_of_base, p.base_model
        )];
        if let (Some(b), Some(adapter_lr)) = (&self.budget, self.lr.adapter) {
            lines.push(format!(
                "budget: P_sparse {} vs P_dense(r={}) {}; adapter lr {:.3e} = {:.3e} x {:.4} (gamma {})",
                b.p_sparse, b.rank, b.p_dense, adapter_lr, self.lr.base, self.lr.factor, self.lr.gamma
            ));
        }
        for (label, record) in [("best", &self.best), ("last", &self.last)] {
            if let Some(record) = record {
                let dev = record
                    .dev
                    .as_ref()
                    .map_or("not evaluated".to_string(), format_scores);
                let holdout = record
                    .holdout
                    .as_ref()
                    .map_or(String::new(), |h| format!("; holdout {}", format_scores(h)));
                lines.push(format!(
                    "{label}: epoch {} (step {}): dev {dev}{holdout}",
                    record.epoch, record.step
                ));
            }
        }
        lines.push(format!(
            "{} steps in {:.1} s ({:.1} examples/s, {:.0} tokens/s)",
            self.total_steps, self.train_seconds, self.examples_per_second, self.tokens_per_second
        ));
        lines.join("\n")
    }

    /// The trainer's `report.md` section: the summary and a table of the epochs.
    pub fn report(&self) -> String {
        let dev_names = metric_names(self.epochs.iter().filter_map(|e| e.dev.as_ref()));
        let holdout_names = metric_names(self.epochs.iter().filter_map(|e| e.holdout.as_ref()));
        let mut text = format!(
            "Method `{}`, task `{}`, seed {}.\n\n```\n{}\n```\n\n| epoch | step | train loss | lr |",
            self.method,
            self.task,
            self.seed,
            self.summary()
        );
        for name in &dev_names {
            text.push_str(&format!(" dev {name} |"));
        }
        for name in &holdout_names {
            text.push_str(&format!(" holdout {name} |"));
        }
        let columns = dev_names.len() + holdout_names.len();
        text.push_str(&format!("\n|---|---|---|---|{}", "---|".repeat(columns)));
        for e in &self.epochs {
            text.push_str(&format!(
                "\n| {} | {} | {:.4} | {:.3e} |",
                e.epoch, e.step, e.train_loss, e.lr
            ));
            for name in &dev_names {
                text.push_str(&cell(&e.dev, name));
            }
            for name in &holdout_names {
                text.push_str(&cell(&e.holdout, name));
            }
        }
        text.push('\n');
        text
    }
}

/// The metric names in `scores`, in the order first seen.
fn metric_names<'a>(scores: impl Iterator<Item = &'a Scores>) -> Vec<&'a String> {
    scores
        .flat_map(|s| s.keys())
        .fold(Vec::new(), |mut names, name| {
            if !names.contains(&name) {
                names.push(name);
            }
            names
        })
}

/// One table cell: ` 0.6534 |`, or ` |` when `name` was not measured.
fn cell(scores: &Option<Scores>, name: &str) -> String {
    let value = scores.as_ref().and_then(|scores| scores.get(name));
    value.map_or(" |".to_string(), |v| format!(" {v:.4} |"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_losses_average_each_stretch_and_close_the_last_one() {
        let mut progress = Progress::default();
        for loss in [4.0, 2.0, 3.0, 1.0, 6.0] {
            progress.add_step_loss(loss, 2, 5);
        }
        let points: Vec<(usize, f64)> = progress
            .step_losses
            .iter()
            .map(|p| (p.step, p.loss))
            .collect();
        assert_eq!(points, [(2, 3.0), (4, 2.0), (5, 6.0)]);
        assert_eq!((progress.step, progress.epoch_steps), (5, 5));
        assert_eq!(progress.epoch_loss_sum, 16.0);
        assert_eq!(progress.stretch_steps, 0);
    }

    #[test]
    fn percent_of_base_is_derived() {
        let counts = ParamCounts::new(10, 5, 5, 1000);
        assert_eq!((counts.total, counts.percent_of_base), (20, 2.0));
    }
}
