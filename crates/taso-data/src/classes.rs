//! The per-class view of a classification: the confusion matrix, each class's precision, recall
//! and F1, and their macro average (scikit-learn's `f1_score(average="macro")`).

use serde::Serialize;

/// Per-class counts of class predictions against gold classes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassReport {
    /// Class names, by class id (`class N` for an id without a name).
    pub names: Vec<String>,
    /// `confusion[gold][predicted]`: how many examples of class `gold` were predicted `predicted`.
    pub confusion: Vec<Vec<usize>>,
}

impl ClassReport {
    /// Counts `pred` against `gold` (the same length) over the classes `names` and any id either
    /// side uses beyond them.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn new(names: &[String], pred: &[usize], gold: &[usize]) -> Self {
        assert_eq!(pred.len(), gold.len(), "ClassReport: length mismatch");
        let classes = pred
            .iter()
            .chain(gold)
            .map(|&c| c + 1)
            .max()
            .unwrap_or(0)
            .max(names.len());
        let mut confusion = vec![vec![0; classes]; classes];
        for (&p, &g) in pred.iter().zip(gold) {
            confusion[g][p] += 1;
        }
        let names = (0..classes)
            .map(|c| {
                names
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| format!("class {c}"))
            })
            .collect();
        Self { names, confusion }
    }

    fn predicted(&self, class: usize) -> usize {
        self.confusion.iter().map(|row| row[class]).sum()
    }

    fn actual(&self, class: usize) -> usize {
        self.confusion[class].iter().sum()
    }

    /// Of the examples predicted `class`, the share that are; 0 when none is predicted.
    pub fn precision(&self, class: usize) -> f64 {
        ratio(self.confusion[class][class], self.predicted(class))
    }

    /// Of the examples of `class`, the share predicted so; 0 when there is none.
    pub fn recall(&self, class: usize) -> f64 {
        ratio(self.confusion[class][class], self.actual(class))
    }

    /// The harmonic mean of precision and recall, `2·tp / (2·tp + fp + fn)`; 0 when both are 0.
    pub fn f1(&self, class: usize) -> f64 {
        let tp = self.confusion[class][class];
        ratio(2 * tp, self.predicted(class) + self.actual(class))
    }

    /// The mean F1 over the classes that occur in the gold labels or the predictions.
    pub fn macro_f1(&self) -> f64 {
        let present: Vec<usize> = (0..self.names.len())
            .filter(|&c| self.predicted(c) + self.actual(c) > 0)
            .collect();
        if present.is_empty() {
            return 0.0;
        }
        present.iter().map(|&c| self.f1(c)).sum::<f64>() / present.len() as f64
    }

    /// A per-class table (precision, recall, F1, support) and the confusion matrix, in markdown.
    pub fn markdown(&self) -> String {
        let mut text =
            String::from("| class | precision | recall | F1 | support |\n|---|---|---|---|---|\n");
        for (c, name) in self.names.iter().enumerate() {
            text.push_str(&format!(
                "| {name} | {:.4} | {:.4} | {:.4} | {} |\n",
                self.precision(c),
                self.recall(c),
                self.f1(c),
                self.actual(c)
            ));
        }
        text.push_str(
            "\nConfusion matrix (rows: gold, columns: predicted):\n\n| gold \\ predicted |",
        );
        for name in &self.names {
            text.push_str(&format!(" {name} |"));
        }
        text.push_str(&format!("\n|---|{}\n", "---|".repeat(self.names.len())));
        for (name, row) in self.names.iter().zip(&self.confusion) {
            text.push_str(&format!("| {name} |"));
            for count in row {
                text.push_str(&format!(" {count} |"));
            }
            text.push('\n');
        }
        text
    }
}

/// Macro-averaged F1 of class predictions (see [`ClassReport::macro_f1`]).
///
/// # Panics
/// If the lengths differ.
pub fn macro_f1(pred: &[usize], gold: &[usize]) -> f64 {
    ClassReport::new(&[], pred, gold).macro_f1()
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three classes; scikit-learn 1.9.1 gives for these:
    /// `precision_recall_fscore_support(gold, pred)` = P [0.5, 0.6667, 1.0], R [1.0, 0.6667, 0.3333],
    /// F1 [0.6667, 0.6667, 0.5], and `f1_score(gold, pred, average="macro")` = 0.6111.
    const GOLD: [usize; 8] = [0, 0, 1, 1, 1, 2, 2, 2];
    const PRED: [usize; 8] = [0, 0, 1, 1, 0, 2, 1, 0];

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn per_class_figures_and_the_macro_average() {
        let names = ["a", "b", "c"].map(String::from);
        let report = ClassReport::new(&names, &PRED, &GOLD);
        assert_eq!(
            report.confusion,
            vec![vec![2, 0, 0], vec![1, 2, 0], vec![1, 1, 1]]
        );
        for (c, (p, r, f)) in [
            (0.5, 1.0, 2.0 / 3.0),
            (2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0),
            (1.0, 1.0 / 3.0, 0.5),
        ]
        .into_iter()
        .enumerate()
        {
            assert!(
                close(report.precision(c), p)
                    && close(report.recall(c), r)
                    && close(report.f1(c), f),
                "class {c}"
            );
        }
        assert!(close(report.macro_f1(), 0.6111));
        assert!(close(macro_f1(&PRED, &GOLD), 0.6111));
        let text = report.markdown();
        assert!(
            text.contains("| c | 1.0000 | 0.3333 | 0.5000 | 3 |"),
            "{text}"
        );
        assert!(text.contains("| b | 1 | 2 | 0 |"), "{text}");
    }

    #[test]
    fn classes_never_seen_leave_the_average_and_unnamed_ids_get_a_name() {
        // A fourth named class that neither side uses does not pull the macro average down.
        let names = ["a", "b", "c", "d"].map(String::from);
        assert!(close(
            ClassReport::new(&names, &PRED, &GOLD).macro_f1(),
            0.6111
        ));
        let report = ClassReport::new(&names[..1], &[0, 1], &[1, 1]);
        assert_eq!(report.names, ["a", "class 1"]);
        // scikit-learn: f1_score([1, 1], [0, 1], average="macro") = 0.3333.
        assert!(close(report.macro_f1(), (0.0 + 2.0 / 3.0) / 2.0));
        assert_eq!(macro_f1(&[], &[]), 0.0);
    }
}
