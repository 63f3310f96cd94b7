//! A run's per-epoch curves — training loss, and the task's main metric on the split that chose
//! the best epoch (hold-out, else dev) and on dev — drawn as `curves.png` beside `report.md`.

use std::path::Path;

use taso_plot::{run_curves, Curve};
use taso_run::Scores;

use crate::error::TrainError;
use crate::records::{EpochRecord, StepLoss, TrainMetrics};

/// The loss curve and the `metric` curves of `epochs`: hold-out first (it chooses the best
/// epoch when there is one), then dev; a split never evaluated gets no curve.
pub fn epoch_curves(epochs: &[EpochRecord], metric: &str) -> (Curve, Vec<Curve>) {
    let loss = Curve {
        label: "train loss".to_string(),
        points: epochs
            .iter()
            .map(|e| (e.epoch as f64, e.train_loss))
            .collect(),
    };
    let on = |split: &str, scores: fn(&EpochRecord) -> Option<&Scores>| {
        let points: Vec<(f64, f64)> = epochs
            .iter()
            .filter_map(|e| Some((e.epoch as f64, *scores(e)?.get(metric)?)))
            .collect();
        (!points.is_empty()).then(|| Curve {
            label: format!("{split} {metric}"),
            points,
        })
    };
    let metrics = [
        on("hold-out", |e| e.holdout.as_ref()),
        on("dev", |e| e.dev.as_ref()),
    ];
    (loss, metrics.into_iter().flatten().collect())
}

/// The training loss along a run (`step_losses`, the mean of each `train.log_every` steps)
/// under `label`, with x in epochs: a stretch's last step over the steps of the first epoch.
/// `None` without step losses or without a finished epoch to measure an epoch by.
pub fn step_loss_curve(
    step_losses: &[StepLoss],
    epochs: &[EpochRecord],
    label: &str,
) -> Option<Curve> {
    let steps_per_epoch = epochs.first()?.step;
    if step_losses.is_empty() || steps_per_epoch == 0 {
        return None;
    }
    let points = step_losses
        .iter()
        .map(|s| (s.step as f64 / steps_per_epoch as f64, s.loss))
        .collect();
    Some(Curve {
        label: label.to_string(),
        points,
    })
}

impl TrainMetrics {
    /// Draws the run's loss (per epoch, and along the epochs where the run recorded it) and
    /// main-metric curves to the PNG `path`; `false` (nothing drawn) when no epoch was
    /// evaluated.
    pub fn draw_curves(&self, path: &Path) -> Result<bool, TrainError> {
        let (mut loss, metrics) = epoch_curves(&self.epochs, &self.main_metric);
        if metrics.is_empty() {
            return Ok(false);
        }
        let along = step_loss_curve(
            &self.step_losses,
            &self.epochs,
            "train loss, each stretch of log_every steps",
        );
        if along.is_some() {
            loss.label = "train loss, epoch mean".to_string();
        }
        let losses: Vec<Curve> = std::iter::once(loss).chain(along).collect();
        let title = format!("{} on {}, seed {}", self.method, self.task, self.seed);
        run_curves(path, &title, &losses, &metrics, &self.main_metric)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: usize, loss: f64, dev: Option<f64>, holdout: Option<f64>) -> EpochRecord {
        let scores = |v: Option<f64>| v.map(|v| Scores::from([("f1".to_string(), v)]));
        EpochRecord {
            epoch,
            step: 10 * epoch,
            train_loss: loss,
            lr: 1e-3,
            dev: scores(dev),
            holdout: scores(holdout),
        }
    }

    #[test]
    fn curves_follow_the_main_metric_hold_out_first() {
        let epochs = [
            epoch(1, 0.7, Some(0.5), Some(0.4)),
            epoch(2, 0.6, Some(0.6), Some(0.55)),
        ];
        let (loss, metrics) = epoch_curves(&epochs, "f1");
        assert_eq!(loss.points, [(1.0, 0.7), (2.0, 0.6)]);
        let labels: Vec<&str> = metrics.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["hold-out f1", "dev f1"]);
        assert_eq!(metrics[1].points, [(1.0, 0.5), (2.0, 0.6)]);
    }

    #[test]
    fn step_losses_are_placed_in_epochs() {
        let epochs = [
            epoch(1, 0.7, Some(0.5), None),
            epoch(2, 0.6, Some(0.6), None),
        ];
        let losses = [(5, 0.9), (10, 0.7), (15, 0.65), (20, 0.6)]
            .map(|(step, loss)| StepLoss { step, loss });
        let curve = step_loss_curve(&losses, &epochs, "along").expect("a curve");
        assert_eq!(
            curve.points,
            [(0.5, 0.9), (1.0, 0.7), (1.5, 0.65), (2.0, 0.6)]
        );
        assert!(step_loss_curve(&[], &epochs, "along").is_none());
        assert!(step_loss_curve(&losses, &[], "along").is_none());
    }

    #[test]
    fn unevaluated_splits_get_no_curve() {
        let epochs = [epoch(1, 0.7, Some(0.5), None), epoch(2, 0.6, None, None)];
        let (_, metrics) = epoch_curves(&epochs, "f1");
        assert_eq!(metrics.len(), 1);
        assert_eq!(metrics[0].points, [(1.0, 0.5)]);
        assert!(epoch_curves(&epochs, "accuracy").1.is_empty());
    }
}
