//! Evaluation metrics as GLUE defines them.
//!
//! Degenerate inputs give 0, not NaN: Matthews correlation with an all-one-class column or row of the
//! confusion matrix, binary F1 with no positive prediction and no positive label, and Pearson/Spearman
//! when either side is constant (e.g. a model that predicts one value for every example).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{DataError, Label};

/// A metric a task can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Fraction of correct class predictions.
    Accuracy,
    /// Binary F1 with class 1 as the positive class.
    F1,
    /// F1 averaged over the classes (multi-class tasks such as CB), as scikit-learn's
    /// `average="macro"`.
    #[serde(rename = "macro_f1")]
    MacroF1,
    /// Matthews correlation coefficient (multi-class form, as scikit-learn computes it).
    Matthews,
    /// Pearson correlation of predicted and true scores.
    Pearson,
    /// Spearman rank correlation (ties get their average rank).
    Spearman,
}

impl Metric {
    /// The lower-case name used in TOML and in result maps.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::F1 => "f1",
            Metric::MacroF1 => "macro_f1",
            Metric::Matthews => "matthews",
            Metric::Pearson => "pearson",
            Metric::Spearman => "spearman",
        }
    }

    /// Whether the metric scores regression outputs (otherwise class predictions).
    pub fn is_regression(self) -> bool {
        matches!(self, Metric::Pearson | Metric::Spearman)
    }
}

/// A model's outputs on a split, in example order.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    /// Predicted class ids.
    Classes(Vec<usize>),
    /// Predicted regression scores.
    Scores(Vec<f32>),
}

impl Predictions {
    /// Number of predictions.
    pub fn len(&self) -> usize {
        match self {
            Predictions::Classes(v) => v.len(),
            Predictions::Scores(v) => v.len(),
        }
    }

    /// Whether there are no predictions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Computes each metric, keyed by [`Metric::name`].
///
/// Fails when the counts differ, there are no examples, or predictions and labels are of a kind the
/// metric does not take (class metrics need class predictions and labels, correlations need scores).
pub fn compute_metrics(
    metrics: &[Metric],
    predictions: &Predictions,
    labels: &[Label],
) -> Result<BTreeMap<String, f64>, DataError> {
    metrics
        .iter()
        .map(|&metric| {
            Ok((
                metric.name().to_owned(),
                compute_one(metric, predictions, labels)?,
            ))
        })
        .collect()
}

fn compute_one(
    metric: Metric,
    predictions: &Predictions,
    labels: &[Label],
) -> Result<f64, DataError> {
    let fail = |problem: String| DataError::Metric {
        metric: metric.name().to_owned(),
        problem,
    };
    if predictions.len() != labels.len() {
        return Err(fail(format!(
            "{} predictions for {} labels: predict every example of the split exactly once",
            predictions.len(),
            labels.len()
        )));
    }
    if labels.is_empty() {
        return Err(fail("no examples: evaluate on a non-empty split".into()));
    }
    match (metric, predictions) {
        (Metric::Pearson | Metric::Spearman, Predictions::Scores(pred)) => {
            let gold = gold_scores(labels)
                .ok_or_else(|| fail("the labels are not regression scores".into()))?;
            let pred: Vec<f64> = pred.iter().map(|&p| f64::from(p)).collect();
            Ok(if metric == Metric::Pearson {
                pearson(&pred, &gold)
            } else {
                spearman(&pred, &gold)
            })
        }
        (
            Metric::Accuracy | Metric::F1 | Metric::MacroF1 | Metric::Matthews,
            Predictions::Classes(pred),
        ) => {
            let gold =
                gold_classes(labels).ok_or_else(|| fail("the labels are not class ids".into()))?;
            Ok(match metric {
                Metric::Accuracy => accuracy(pred, &gold),
                Metric::F1 => binary_f1(pred, &gold),
                Metric::MacroF1 => crate::macro_f1(pred, &gold),
                _ => matthews(pred, &gold),
            })
        }
        (_, _) => Err(fail(format!(
            "it takes {} predictions: use the metrics of the task's label kind",
            if metric.is_regression() {
                "score"
            } else {
                "class"
            }
        ))),
    }
}

fn gold_classes(labels: &[Label]) -> Option<Vec<usize>> {
    labels
        .iter()
        .map(|label| match label {
            Label::Class(c) => Some(*c),
            Label::Score(_) => None,
        })
        .collect()
}

fn gold_scores(labels: &[Label]) -> Option<Vec<f64>> {
    labels
        .iter()
        .map(|label| match label {
            Label::Score(s) => Some(f64::from(*s)),
            Label::Class(_) => None,
        })
        .collect()
}

/// Fraction of positions where `pred` equals `gold` (0 for empty input).
///
/// # Panics
/// If the lengths differ.
pub fn accuracy(pred: &[usize], gold: &[usize]) -> f64 {
    assert_eq!(pred.len(), gold.len(), "accuracy: length mismatch");
    if gold.is_empty() {
        return 0.0;
    }
    let correct = pred.iter().zip(gold).filter(|(p, g)| p == g).count();
    correct as f64 / gold.len() as f64
}

/// The accuracy of always answering the most frequent class of `gold` (`None` when empty): the
/// floor a classifier must beat.
pub fn majority_accuracy(gold: &[usize]) -> Option<f64> {
    let mut counts = std::collections::BTreeMap::new();
    for &class in gold {
        *counts.entry(class).or_insert(0usize) += 1;
    }
    let most = counts.values().max()?;
    Some(*most as f64 / gold.len() as f64)
}

/// Binary F1 with class 1 positive: `2·tp / (2·tp + fp + fn)`, 0 when there is no positive at all.
///
/// # Panics
/// If the lengths differ.
pub fn binary_f1(pred: &[usize], gold: &[usize]) -> f64 {
    assert_eq!(pred.len(), gold.len(), "binary_f1: length mismatch");
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (&p, &g) in pred.iter().zip(gold) {
        match (p == 1, g == 1) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    let denominator = 2 * tp + fp + fn_;
    if denominator == 0 {
        return 0.0;
    }
    (2 * tp) as f64 / denominator as f64
}

/// Matthews correlation coefficient, multi-class form:
/// `(c·s − Σ p_k t_k) / √((s² − Σ p_k²)(s² − Σ t_k²))` with `c` correct, `s` total, `p_k`/`t_k` the
/// predicted/true count of class k. 0 when the denominator is 0.
///
/// # Panics
/// If the lengths differ.
pub fn matthews(pred: &[usize], gold: &[usize]) -> f64 {
    assert_eq!(pred.len(), gold.len(), "matthews: length mismatch");
    let classes = pred.iter().chain(gold).max().map_or(0, |&m| m + 1);
    let (mut predicted, mut truth) = (vec![0f64; classes], vec![0f64; classes]);
    for (&p, &g) in pred.iter().zip(gold) {
        predicted[p] += 1.0;
        truth[g] += 1.0;
    }
    let correct = pred.iter().zip(gold).filter(|(p, g)| p == g).count() as f64;
    let total = gold.len() as f64;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let numerator = correct * total - dot(&predicted, &truth);
    let denominator = ((total * total - dot(&predicted, &predicted))
        * (total * total - dot(&truth, &truth)))
    .sqrt();
    if denominator == 0.0 {
        return 0.0;
    }
    numerator / denominator
}

/// Pearson correlation; 0 when either side is constant (zero variance) or there are fewer than 2 values.
///
/// # Panics
/// If the lengths differ.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "pearson: length mismatch");
    if x.len() < 2 {
        return 0.0;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (mx, my) = (mean(x), mean(y));
    let (mut cov, mut vx, mut vy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        cov += dx * dy;
        vx += dx * dx;
        vy += dy * dy;
    }
    if vx == 0.0 || vy == 0.0 {
        return 0.0;
    }
    cov / (vx * vy).sqrt()
}

/// Spearman rank correlation: Pearson of the ranks, ties sharing their average rank.
///
/// # Panics
/// If the lengths differ.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "spearman: length mismatch");
    pearson(&average_ranks(x), &average_ranks(y))
}

/// 1-based ranks; a run of equal values gets the mean of the ranks it spans.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let value = values[order[start]];
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| values[i] == value)
                .count();
        // Positions start..end (0-based) hold ranks start+1..=end; their mean is (start+1+end)/2.
        let rank = (start + 1 + end) as f64 / 2.0;
        order[start..end].iter().for_each(|&i| ranks[i] = rank);
        start = end;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn majority_accuracy_is_the_share_of_the_most_frequent_class() {
        assert_eq!(majority_accuracy(&[0, 1, 1, 2]), Some(0.5));
        assert_eq!(majority_accuracy(&[3, 3, 3]), Some(1.0));
        assert_eq!(majority_accuracy(&[]), None);
    }

    #[test]
    fn macro_f1_is_a_task_metric() {
        let metric: Metric = serde_json::from_str("\"macro_f1\"").unwrap();
        assert_eq!((metric, metric.name()), (Metric::MacroF1, "macro_f1"));
        let gold: Vec<Label> = [0, 0, 1, 1, 1, 2, 2, 2].map(Label::Class).to_vec();
        let pred = Predictions::Classes(vec![0, 0, 1, 1, 0, 2, 1, 0]);
        let scores = compute_metrics(&[Metric::MacroF1], &pred, &gold).unwrap();
        // scikit-learn 1.9.1: 0.611111111111111.
        assert!(close(scores["macro_f1"], 11.0 / 18.0), "{scores:?}");
    }

    #[test]
    fn accuracy_counts_matches() {
        // 3 of 4 equal.
        assert!(close(accuracy(&[0, 1, 1, 0], &[0, 1, 0, 0]), 0.75));
    }

    #[test]
    fn f1_on_a_small_case() {
        // pred 1,1,0,1,0 vs gold 1,0,0,1,1: tp=2 (pos 0,3), fp=1 (pos 1), fn=1 (pos 4)
        // F1 = 2·2 / (2·2 + 1 + 1) = 4/6.
        assert!(close(
            binary_f1(&[1, 1, 0, 1, 0], &[1, 0, 0, 1, 1]),
            4.0 / 6.0
        ));
        // No positives anywhere: 0 by convention.
        assert_eq!(binary_f1(&[0, 0], &[0, 0]), 0.0);
    }

    #[test]
    fn matthews_on_small_cases() {
        // Same data as F1: tp=2, tn=1, fp=1, fn=1.
        // MCC = (tp·tn − fp·fn)/√((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (2−1)/√(3·3·2·2) = 1/6.
        assert!(close(
            matthews(&[1, 1, 0, 1, 0], &[1, 0, 0, 1, 1]),
            1.0 / 6.0
        ));
        assert!(close(matthews(&[0, 1, 0, 1], &[0, 1, 0, 1]), 1.0));
        assert!(close(matthews(&[1, 0, 1, 0], &[0, 1, 0, 1]), -1.0));
        // All predictions one class: denominator 0, MCC 0.
        assert_eq!(matthews(&[1, 1, 1], &[0, 1, 0]), 0.0);
        // All labels one class, too.
        assert_eq!(matthews(&[0, 1, 0], &[1, 1, 1]), 0.0);
    }

    #[test]
    fn matthews_three_classes() {
        // pred 0,1,2,2 vs gold 0,1,1,2: c=3, s=4, p=(1,1,2), t=(1,2,1).
        // num = 3·4 − (1·1 + 1·2 + 2·1) = 12 − 5 = 7
        // den = √((16 − (1+1+4))·(16 − (1+4+1))) = √(10·10) = 10 → 0.7.
        assert!(close(matthews(&[0, 1, 2, 2], &[0, 1, 1, 2]), 0.7));
    }

    #[test]
    fn pearson_on_small_cases() {
        // x = 1,2,3, y = 1,3,2: means 2,2; dx = −1,0,1; dy = −1,1,0
        // cov = 1+0+0 = 1, vx = 2, vy = 2 → 1/2.
        assert!(close(pearson(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]), 0.5));
        assert!(close(pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), 1.0));
        // Constant predictions: 0 by convention.
        assert_eq!(pearson(&[2.0, 2.0, 2.0], &[1.0, 2.0, 3.0]), 0.0);
    }

    #[test]
    fn spearman_uses_average_ranks_for_ties() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 20.0, 5.0]),
            vec![2.0, 3.5, 3.5, 1.0]
        );
        // Monotone but non-linear: ranks agree exactly.
        assert!(close(
            spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 4.0, 9.0, 16.0]),
            1.0
        ));
        // x ranks 1,2,3,4; y = 1,2,2,3 ranks 1,2.5,2.5,4.
        // dx = −1.5,−.5,.5,1.5; dy = −1.5,0,0,1.5 → cov = 4.5, vx = 5, vy = 4.5
        // rho = 4.5/√(22.5) = √(0.9).
        assert!(close(
            spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 2.0, 3.0]),
            0.9f64.sqrt()
        ));
        assert_eq!(spearman(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn compute_metrics_maps_names_and_checks_inputs() {
        let labels = [
            Label::Class(1),
            Label::Class(0),
            Label::Class(1),
            Label::Class(1),
        ];
        let pred = Predictions::Classes(vec![1, 0, 0, 1]);
        let got = compute_metrics(&[Metric::Accuracy, Metric::F1], &pred, &labels).unwrap();
        // tp=2, fn=1, fp=0: F1 = 4/5.
        assert!(
            close(got["accuracy"], 0.75) && close(got["f1"], 0.8),
            "{got:?}"
        );

        let short = Predictions::Classes(vec![1]);
        let err = compute_metrics(&[Metric::Accuracy], &short, &labels).unwrap_err();
        assert!(
            err.to_string().contains("1 predictions for 4 labels"),
            "{err}"
        );
        let scores = Predictions::Scores(vec![0.5; 4]);
        assert!(compute_metrics(&[Metric::Accuracy], &scores, &labels).is_err());
        assert!(compute_metrics(&[Metric::Pearson], &scores, &labels).is_err());

        let gold = [Label::Score(1.0), Label::Score(2.0), Label::Score(3.0)];
        let pred = Predictions::Scores(vec![1.0, 3.0, 2.0]);
        let got = compute_metrics(&[Metric::Pearson, Metric::Spearman], &pred, &gold).unwrap();
        assert!(
            close(got["pearson"], 0.5) && close(got["spearman"], 0.5),
            "{got:?}"
        );
    }
}
