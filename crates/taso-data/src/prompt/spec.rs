//! Prompt task specs: where the fields are, how the prompt reads, what the answer is.
//!
//! A [`PromptTaskSpec`] is plain data, deserialised from TOML (`kind = "prompt"`, see the crate
//! docs) or built in ([`crate::builtin_prompt_task`]). [`PromptTaskSpec::validate`] checks it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::template::Template;
use crate::spec::check_task_name;
use crate::{DataError, Format, Split, SplitFile, Splits};

/// The marker `kind = "prompt"` that sets prompt task files apart from classification ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptKind {
    /// A prompt task for decoder LMs.
    Prompt,
}

/// What a prompt task's metric scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptMetric {
    /// Fraction of examples whose most likely candidate is the gold one (candidate answers).
    Accuracy,
    /// Fraction of generations whose final number equals the gold answer's (free-form answers).
    ExactMatch,
}

impl PromptMetric {
    /// The lower-case name used in TOML and in result maps.
    pub fn name(self) -> &'static str {
        match self {
            PromptMetric::Accuracy => "accuracy",
            PromptMetric::ExactMatch => "exact_match",
        }
    }
}

/// One fixed candidate answer: the label value it stands for and the text the model should give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// The label as it appears in the file (JSON `true` is matched by "true", `1` by "1").
    pub value: String,
    /// The answer text, e.g. "yes".
    pub text: String,
}

/// What the model answers, and where the gold answer is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum AnswerSpec {
    /// The same candidates for every example (BoolQ yes/no); the gold one is picked by `field`.
    Candidates {
        /// The label field (a dotted path).
        field: String,
        /// The candidates; the gold candidate is the one whose `value` equals the label.
        candidates: Vec<Candidate>,
    },
    /// Per-example candidates from a list of choice objects (ARC: `question.choices`).
    Choices {
        /// The field holding the gold choice's key (ARC: `answerKey`).
        field: String,
        /// The list of choice objects (ARC: `question.choices`).
        list: String,
        /// The field of a choice that `field` is compared with (ARC: `label`).
        key: String,
        /// How a choice is shown in the prompt's `{choices}` block, one line each (ARC: "{label}. {text}").
        line: String,
        /// The candidate answer text of a choice (ARC: "{label}").
        candidate: String,
    },
    /// A free-form answer (GSM8K): the field's whole text is the training target; evaluation
    /// compares the final number of a generation with the field's (after "####" if present).
    Free {
        /// The answer field.
        field: String,
    },
}

impl AnswerSpec {
    /// The gold answer's field.
    pub fn field(&self) -> &str {
        match self {
            AnswerSpec::Candidates { field, .. }
            | AnswerSpec::Choices { field, .. }
            | AnswerSpec::Free { field } => field,
        }
    }

    /// Whether the model picks among candidates (otherwise it generates freely).
    pub fn has_candidates(&self) -> bool {
        !matches!(self, AnswerSpec::Free { .. })
    }
}

/// The template placeholder that a `choices` answer fills with its rendered choice lines.
pub const CHOICES_PLACEHOLDER: &str = "choices";

/// A prompt task for decoder LMs. See the crate docs for the TOML form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptTaskSpec {
    /// Short name, used in messages and run records.
    pub name: String,
    /// Always `prompt`.
    pub kind: PromptKind,
    /// One line about the task; shown in messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The prompt, with `{field}` placeholders (and `{choices}` for a choices answer).
    pub template: String,
    /// Put between prompt and answer when no chat template is used (default one space).
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Render the prompt with the tokenizer's chat template when it has one (default true).
    #[serde(default = "default_true")]
    pub chat_template: bool,
    /// The answer.
    pub answer: AnswerSpec,
    /// Metrics to report, the first being the main one.
    pub metrics: Vec<PromptMetric>,
    /// File format of the splits: `jsonl` (default; fields are keys) or `tsv` (the header row
    /// names the columns, and `0`, `1`, … name them by position).
    #[serde(default = "default_format")]
    pub format: Format,
    /// The split files. Per-file column overrides do not apply to prompt tasks.
    pub splits: Splits,
}

fn default_format() -> Format {
    Format::Jsonl
}

fn default_separator() -> String {
    " ".to_owned()
}

fn default_true() -> bool {
    true
}

impl PromptTaskSpec {
    /// Checks the spec for mistakes that would otherwise surface only while reading.
    pub fn validate(&self) -> Result<(), DataError> {
        self.check_name()
            .and_then(|()| self.check_templates())
            .and_then(|()| self.check_answer())
            .and_then(|()| self.check_metrics())
            .and_then(|()| self.check_splits())
            .map_err(|problem| DataError::InvalidTask {
                task: self.name.clone(),
                problem,
            })
    }

    /// The parsed prompt template (valid after [`Self::validate`]).
    pub(crate) fn prompt_template(&self) -> Result<Template, String> {
        Template::parse(&self.template)
    }

    fn check_name(&self) -> Result<(), String> {
        check_task_name(&self.name)
    }

    fn check_templates(&self) -> Result<(), String> {
        let template = self.prompt_template()?;
        let placeholders: Vec<&str> = template.placeholders().collect();
        if placeholders.is_empty() {
            return Err(format!(
                "template `{}` has no placeholder: name the fields to show, e.g. template = \"Question: {{question}}\\nAnswer:\"",
                self.template
            ));
        }
        let uses_choices = placeholders.contains(&CHOICES_PLACEHOLDER);
        match &self.answer {
            AnswerSpec::Choices {
                line, candidate, ..
            } => {
                Template::parse(line)?;
                Template::parse(candidate)?;
                if !uses_choices {
                    return Err(format!(
                        "template `{}` does not show the choices: add {{{CHOICES_PLACEHOLDER}}} where the choice lines go",
                        self.template
                    ));
                }
            }
            _ if uses_choices => {
                return Err(format!(
                    "template `{}` uses {{{CHOICES_PLACEHOLDER}}}, which only a kind = \"choices\" answer fills",
                    self.template
                ))
            }
            _ => {}
        }
        Ok(())
    }

    fn check_answer(&self) -> Result<(), String> {
        let paths = match &self.answer {
            AnswerSpec::Candidates { field, candidates } => {
                check_candidates(candidates)?;
                vec![field]
            }
            AnswerSpec::Choices {
                field, list, key, ..
            } => vec![field, list, key],
            AnswerSpec::Free { field } => vec![field],
        };
        match paths.into_iter().find(|path| !is_field_path(path)) {
            Some(bad) => Err(format!(
                "answer field `{bad}` is not a field name: use a key such as \"label\" or a dotted path such as \"question.choices\""
            )),
            None => Ok(()),
        }
    }

    fn check_metrics(&self) -> Result<(), String> {
        let Some(first) = self.metrics.first() else {
            return Err(format!(
                "`metrics` is empty: list one, e.g. metrics = [\"{}\"]",
                self.fitting_metric().name()
            ));
        };
        if let Some(wrong) = self.metrics.iter().find(|&&m| m != self.fitting_metric()) {
            return Err(format!(
                "metric `{}` does not apply to a {} answer: use metrics = [\"{}\"]",
                wrong.name(),
                if self.answer.has_candidates() {
                    "candidate"
                } else {
                    "free-form"
                },
                self.fitting_metric().name()
            ));
        }
        if self.metrics.len() > 1 {
            return Err(format!(
                "metric `{}` is listed twice in `metrics`: list it once",
                first.name()
            ));
        }
        Ok(())
    }

    /// The one metric that fits the answer kind.
    fn fitting_metric(&self) -> PromptMetric {
        if self.answer.has_candidates() {
            PromptMetric::Accuracy
        } else {
            PromptMetric::ExactMatch
        }
    }

    fn check_splits(&self) -> Result<(), String> {
        self.splits.check_each("my/train.jsonl", check_split_file)
    }
}

fn check_candidates(candidates: &[Candidate]) -> Result<(), String> {
    if candidates.len() < 2 {
        return Err(format!(
            "the answer lists {} candidate(s); list at least 2, e.g. candidates = [{{ value = \"true\", text = \"yes\" }}, {{ value = \"false\", text = \"no\" }}]",
            candidates.len()
        ));
    }
    if let Some(empty) = candidates.iter().find(|c| c.text.trim().is_empty()) {
        return Err(format!(
            "candidate for value `{}` has an empty text: give the answer the model should produce",
            empty.value
        ));
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = candidates.iter().find(|c| !seen.insert(c.value.as_str())) {
        return Err(format!(
            "candidate value `{}` is listed twice: list each label value once",
            dup.value
        ));
    }
    Ok(())
}

/// Refuses the classification-only keys in one split file of a prompt task.
fn check_split_file(split: Split, file: &SplitFile) -> Result<(), String> {
    let overrides = [
        ("header", file.header.is_some()),
        ("text", file.text.is_some()),
        ("pair", file.pair.is_some()),
        ("label", file.label.is_some()),
    ];
    match overrides.into_iter().find(|(_, given)| *given) {
        Some((key, _)) => Err(format!(
            "the {split} split sets `{key}`, which only classification tasks use: prompt tasks read the fields named in `template` and `answer`"
        )),
        None => Ok(()),
    }
}

/// Whether `path` is a dotted path of non-empty names.
fn is_field_path(path: &str) -> bool {
    path.split('.')
        .all(|part| !part.is_empty() && !part.chars().any(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        name = "t"
        kind = "prompt"
        template = "Q: {question}\nA:"
        answer = { kind = "candidates", field = "label", candidates = [{ value = "true", text = "yes" }, { value = "false", text = "no" }] }
        metrics = ["accuracy"]
        [splits]
        train = "t/train.jsonl"
    "#;

    fn spec(text: &str) -> PromptTaskSpec {
        toml::from_str(text).unwrap()
    }

    fn problem(text: &str) -> String {
        spec(text).validate().unwrap_err().to_string()
    }

    #[test]
    fn defaults_and_round_trip() {
        let s = spec(BASE);
        s.validate().unwrap();
        assert_eq!(s.separator, " ");
        assert!(s.chat_template);
        assert_eq!(spec(&toml::to_string(&s).unwrap()), s);
    }

    #[test]
    fn rejects_bad_specs_with_a_fix() {
        let choices = r#"answer = { kind = "choices", field = "answerKey", list = "question.choices", key = "label", line = "{label}. {text}", candidate = "{label}" }"#;
        let cases = [
            (BASE.replace("{question}", "question"), "no placeholder"),
            (BASE.replace("{question}", "{question"), "without its `}`"),
            (
                BASE.replace("{question}", "{question} {choices}"),
                "only a kind = \"choices\"",
            ),
            (
                BASE.replace(BASE.lines().nth(4).unwrap(), choices),
                "does not show the choices",
            ),
            (
                BASE.replace("[\"accuracy\"]", "[\"exact_match\"]"),
                "candidate answer",
            ),
            (BASE.replace("[\"accuracy\"]", "[]"), "`metrics` is empty"),
            (
                BASE.replace("[\"accuracy\"]", "[\"accuracy\", \"accuracy\"]"),
                "twice",
            ),
            (
                BASE.replace("value = \"false\"", "value = \"true\""),
                "listed twice",
            ),
            (BASE.replace("text = \"no\"", "text = \" \""), "empty text"),
            (
                BASE.replace("field = \"label\"", "field = \"a..b\""),
                "not a field name",
            ),
            (
                BASE.replace(
                    "train = \"t/train.jsonl\"",
                    "train = { path = \"t.jsonl\", text = \"q\" }",
                ),
                "only classification tasks",
            ),
            (BASE.replace("name = \"t\"", "name = \" \""), "name"),
            (
                BASE.split("[splits]").next().unwrap().to_owned() + "[splits]\n",
                "no splits",
            ),
        ];
        for (text, needle) in cases {
            let message = problem(&text);
            assert!(
                message.contains(needle),
                "expected `{needle}` in: {message}"
            );
        }
    }

    #[test]
    fn unknown_keys_fail_to_parse_and_name_the_key() {
        let err =
            toml::from_str::<PromptTaskSpec>(&BASE.replace("metrics", "metric = []\nmetrics"))
                .unwrap_err();
        assert!(err.to_string().contains("metric"), "{err}");
        let err = toml::from_str::<PromptTaskSpec>(
            &BASE.replace("field = \"label\"", "feild = \"label\""),
        )
        .unwrap_err();
        assert!(err.to_string().contains("feild"), "{err}");
    }
}
