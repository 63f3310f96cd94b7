//! Prompt task metrics: candidate accuracy and GSM8K-style exact match of the final number.

use std::collections::BTreeMap;

use super::read::{PromptAnswer, PromptExample};
use super::spec::{PromptMetric, PromptTaskSpec};
use crate::{accuracy, DataError};

/// The final-answer marker of GSM8K solutions.
pub const FINAL_ANSWER_MARKER: &str = "####";

/// A model's outputs on a prompt split, in example order.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptPredictions {
    /// The picked candidate of each example.
    Choices(Vec<usize>),
    /// The generated text of each example.
    Generations(Vec<String>),
}

/// The final number of `text`: the first number after the last "####" if there is one, else the
/// last number; commas, `$` and a trailing `.` are ignored ("$1,234." is 1234).
pub fn extract_final_number(text: &str) -> Option<f64> {
    match text.rfind(FINAL_ANSWER_MARKER) {
        Some(at) => numbers(&text[at + FINAL_ANSWER_MARKER.len()..]).next(),
        None => numbers(text).last(),
    }
}

/// Whether two final numbers are equal (up to float rounding of decimals).
pub fn numbers_match(predicted: f64, gold: f64) -> bool {
    (predicted - gold).abs() <= 1e-6 * gold.abs().max(1.0)
}

/// Fraction of `generated` texts whose final number equals that of the parallel `gold` text
/// (0 for empty input; a generation without a number is wrong).
///
/// # Panics
/// If the lengths differ.
pub fn exact_match(generated: &[String], gold: &[String]) -> f64 {
    assert_eq!(generated.len(), gold.len(), "exact_match: length mismatch");
    if gold.is_empty() {
        return 0.0;
    }
    let correct = generated
        .iter()
        .zip(gold)
        .filter(
            |(g, t)| match (extract_final_number(g), extract_final_number(t)) {
                (Some(p), Some(t)) => numbers_match(p, t),
                _ => false,
            },
        )
        .count();
    correct as f64 / gold.len() as f64
}

/// The numbers in `text`, in order: an optional `-`, digits with `,` group separators, an optional
/// decimal part (a `.` not followed by a digit ends the number).
fn numbers(text: &str) -> impl Iterator<Item = f64> + '_ {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() {
            let start = at;
            let negative = bytes[at] == b'-' && bytes.get(at + 1).is_some_and(u8::is_ascii_digit);
            if !(negative || bytes[at].is_ascii_digit()) {
                at += 1;
                continue;
            }
            at += usize::from(negative);
            let mut seen_point = false;
            while at < bytes.len() {
                let next_is_digit = bytes.get(at + 1).is_some_and(u8::is_ascii_digit);
                match bytes[at] {
                    b'0'..=b'9' => {}
                    b',' if next_is_digit && !seen_point => {}
                    b'.' if next_is_digit && !seen_point => seen_point = true,
                    _ => break,
                }
                at += 1;
            }
            let digits: String = text[start..at].chars().filter(|&c| c != ',').collect();
            if let Ok(value) = digits.parse() {
                return Some(value);
            }
        }
        None
    })
}

impl PromptTaskSpec {
    /// Computes the task's metrics, keyed by [`PromptMetric::name`], against the gold answers of
    /// `examples` (as read by [`PromptTaskSpec::read_split`]).
    ///
    /// Fails when counts differ, there are no examples, an example has no gold answer, or the
    /// predictions are of the other kind (choices for a free-form task or generations for a
    /// candidate task).
    pub fn score(
        &self,
        predictions: &PromptPredictions,
        examples: &[PromptExample],
    ) -> Result<BTreeMap<String, f64>, DataError> {
        self.metrics
            .iter()
            .map(|&metric| {
                Ok((
                    metric.name().to_owned(),
                    score_one(metric, predictions, examples)?,
                ))
            })
            .collect()
    }
}

fn score_one(
    metric: PromptMetric,
    predictions: &PromptPredictions,
    examples: &[PromptExample],
) -> Result<f64, DataError> {
    let fail = |problem: String| DataError::Metric {
        metric: metric.name().to_owned(),
        problem,
    };
    let count = match predictions {
        PromptPredictions::Choices(picked) => picked.len(),
        PromptPredictions::Generations(texts) => texts.len(),
    };
    if count != examples.len() {
        return Err(fail(format!(
            "{count} predictions for {} examples: predict every example of the split exactly once",
            examples.len()
        )));
    }
    if examples.is_empty() {
        return Err(fail("no examples: evaluate on a non-empty split".into()));
    }
    let missing = || fail("an example has no gold answer: evaluate on a labeled split".into());
    match (metric, predictions) {
        (PromptMetric::Accuracy, PromptPredictions::Choices(picked)) => {
            let gold = examples
                .iter()
                .map(|e| match e.answer {
                    PromptAnswer::Choice { gold, .. } => gold,
                    PromptAnswer::Free { .. } => None,
                })
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(missing)?;
            Ok(accuracy(picked, &gold))
        }
        (PromptMetric::ExactMatch, PromptPredictions::Generations(texts)) => {
            let gold = examples
                .iter()
                .map(|e| match &e.answer {
                    PromptAnswer::Free { target } => target.clone(),
                    PromptAnswer::Choice { .. } => None,
                })
                .collect::<Option<Vec<String>>>()
                .ok_or_else(missing)?;
            Ok(exact_match(texts, &gold))
        }
        (PromptMetric::Accuracy, _) => Err(fail(
            "it takes picked candidates (PromptPredictions::Choices)".into(),
        )),
        (PromptMetric::ExactMatch, _) => Err(fail(
            "it takes generated texts (PromptPredictions::Generations)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_numbers_of_tricky_strings() {
        let cases: [(&str, Option<f64>); 14] = [
            (
                "She makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18",
                Some(18.0),
            ),
            ("#### 1,234", Some(1234.0)),
            ("The answer is $1,234.", Some(1234.0)),
            ("It costs $18.50 in total.", Some(18.5)),
            ("#### -5", Some(-5.0)),
            ("from 3 to 7 - 2 = 5", Some(5.0)),
            ("a well-known 10-year plan", Some(10.0)),
            ("#### 72\n\nQuestion: what about 8 apples?", Some(72.0)),
            ("first #### 3 then #### 4", Some(4.0)),
            ("12 apples\n#### none", None),
            ("no digits at all", None),
            ("1,000,000 people.", Some(1_000_000.0)),
            ("ratio 0.5.", Some(0.5)),
            ("pay 5,", Some(5.0)),
        ];
        for (text, expected) in cases {
            assert_eq!(extract_final_number(text), expected, "{text:?}");
        }
    }

    #[test]
    fn exact_match_compares_numbers_not_spellings() {
        let gold = [
            "x\n#### 1000".to_owned(),
            "#### 7".to_owned(),
            "#### 0.5".to_owned(),
        ];
        let generated = [
            "so the total is $1,000.".to_owned(),
            "#### 7.0".to_owned(),
            "I don't know".to_owned(),
        ];
        assert!((exact_match(&generated, &gold) - 2.0 / 3.0).abs() < 1e-12);
        assert!(numbers_match(0.1 + 0.2, 0.3));
        assert!(!numbers_match(18.0, 18.5));
    }
}
