//! `predictions.tsv`: one line per example, `index`, `prediction`, `gold`.

use std::path::Path;

use taso_artifact::write_atomic;
use taso_data::{Label, LabelSpec, Predictions, PromptAnswer, PromptExample, PromptPredictions};

use crate::error::EvalError;

/// The TSV text: a header, then per example its 0-based index, the prediction and the gold
/// label (class names for classification, numbers for regression; gold empty when unlabeled).
pub fn predictions_tsv(
    labels: &LabelSpec,
    predictions: &Predictions,
    gold: &[Option<Label>],
) -> String {
    let class = |id: usize| match labels {
        LabelSpec::Classes { names } => names.get(id).cloned().unwrap_or_else(|| id.to_string()),
        LabelSpec::Regression => id.to_string(),
    };
    let predicted: Vec<String> = match predictions {
        Predictions::Classes(ids) => ids.iter().map(|&id| class(id)).collect(),
        Predictions::Scores(scores) => scores.iter().map(f32::to_string).collect(),
    };
    let mut text = String::from("index\tprediction\tgold\n");
    for (index, (prediction, gold)) in predicted.iter().zip(gold).enumerate() {
        let gold = match gold {
            Some(Label::Class(id)) => class(*id),
            Some(Label::Score(score)) => score.to_string(),
            None => String::new(),
        };
        text.push_str(&format!("{index}\t{prediction}\t{gold}\n"));
    }
    text
}

/// The TSV text of a prompt task: per example its index, the picked candidate's answer text
/// or the generated text, and the gold answer (texts escaped: `\\`, `\t`, `\n`, `\r`; gold
/// empty when unlabeled).
pub fn prompt_predictions_tsv(
    predictions: &PromptPredictions,
    examples: &[PromptExample],
) -> String {
    let mut text = String::from("index\tprediction\tgold\n");
    for (index, example) in examples.iter().enumerate() {
        let (prediction, gold) = match (predictions, &example.answer) {
            (PromptPredictions::Choices(picked), PromptAnswer::Choice { candidates, gold }) => (
                candidates.get(picked[index]).cloned().unwrap_or_default(),
                gold.map(|g| candidates[g].clone()),
            ),
            (PromptPredictions::Generations(texts), PromptAnswer::Free { target }) => {
                (texts[index].clone(), target.clone())
            }
            _ => (String::new(), None),
        };
        let gold = gold.map_or(String::new(), |g| escape(&g));
        text.push_str(&format!("{index}\t{}\t{gold}\n", escape(&prediction)));
    }
    text
}

/// `text` on one TSV cell: backslash, tab and line breaks escaped.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// Writes a `predictions.tsv` text to `path` atomically.
pub fn write_predictions(path: &Path, tsv: &str) -> Result<(), EvalError> {
    write_atomic(path, tsv.as_bytes()).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_named_and_missing_gold_is_empty() {
        let labels = LabelSpec::Classes {
            names: vec!["no".into(), "yes".into()],
        };
        let text = predictions_tsv(
            &labels,
            &Predictions::Classes(vec![1, 0]),
            &[Some(Label::Class(1)), None],
        );
        assert_eq!(text, "index\tprediction\tgold\n0\tyes\tyes\n1\tno\t\n");
        let text = predictions_tsv(
            &LabelSpec::Regression,
            &Predictions::Scores(vec![2.5]),
            &[Some(Label::Score(3.0))],
        );
        assert_eq!(text, "index\tprediction\tgold\n0\t2.5\t3\n");
    }

    #[test]
    fn prompt_answers_are_texts_and_escaped() {
        let example = |answer| PromptExample {
            prompt: "Q".into(),
            answer,
        };
        let choice = example(PromptAnswer::Choice {
            candidates: vec!["yes".into(), "no".into()],
            gold: Some(0),
        });
        let text = prompt_predictions_tsv(&PromptPredictions::Choices(vec![1]), &[choice]);
        assert_eq!(text, "index\tprediction\tgold\n0\tno\tyes\n");
        let free = example(PromptAnswer::Free {
            target: Some("3\n#### 3".into()),
        });
        let generated = PromptPredictions::Generations(vec!["a\tb\\c".into()]);
        let text = prompt_predictions_tsv(&generated, &[free]);
        assert_eq!(text, "index\tprediction\tgold\n0\ta\\tb\\\\c\t3\\n#### 3\n");
    }
}
