//! Reading a prompt task's split (JSONL, TSV, CSV or Parquet) into [`PromptExample`]s: prompt rendered, answer resolved.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::spec::{AnswerSpec, PromptTaskSpec, CHOICES_PLACEHOLDER};
use super::template::Template;
use crate::readers::{kind_of, split_file, split_objects, split_path};
use crate::{DataError, Split};

/// The answer of one example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptAnswer {
    /// Pick one of `candidates` (answer texts without separator); `gold` is the right one's position.
    Choice {
        /// Candidate answer texts, e.g. ["yes", "no"] or ["A", "B", "C", "D"].
        candidates: Vec<String>,
        /// Position of the gold candidate; `None` on unlabeled splits.
        gold: Option<usize>,
    },
    /// Generate freely; `target` is the gold worked answer.
    Free {
        /// The gold answer text; `None` on unlabeled splits.
        target: Option<String>,
    },
}

/// One example of a prompt task: the rendered prompt (before any chat template) and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptExample {
    /// The task template filled with the record's fields.
    pub prompt: String,
    /// The candidates or the free-form target.
    pub answer: PromptAnswer,
}

impl PromptTaskSpec {
    /// Reads `split` from its file under `data_dir` (absolute split paths ignore `data_dir`).
    ///
    /// Fails, naming the file and line, when the spec is invalid, the task has no such split, the
    /// file is missing, a JSONL line is not a JSON object, a TSV row has another number of fields
    /// than the header, a template placeholder or answer field names no field of the record, a
    /// label is not one of the candidates, or the file holds no examples.
    pub fn read_split(
        &self,
        data_dir: &Path,
        split: Split,
    ) -> Result<Vec<PromptExample>, DataError> {
        self.validate()?;
        let file = split_file(&self.name, self.description.as_deref(), &self.splits, split)?;
        let path = split_path(&self.name, data_dir, split, file)?;
        let reader = ExampleReader::new(self, !file.unlabeled)?;
        let objects = split_objects(&path, self.format, file)?;
        let examples = objects
            .into_iter()
            .map(|(line, object)| {
                reader.read(&Record {
                    path: &path,
                    line,
                    root: Value::Object(object),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if examples.is_empty() {
            return Err(DataError::EmptySplit { path });
        }
        Ok(examples)
    }
}

/// The parsed templates of a task, applied record by record.
struct ExampleReader<'a> {
    prompt: Template,
    answer: &'a AnswerSpec,
    choice_templates: Option<(Template, Template)>,
    labeled: bool,
}

impl<'a> ExampleReader<'a> {
    fn new(task: &'a PromptTaskSpec, labeled: bool) -> Result<Self, DataError> {
        let invalid = |problem| DataError::InvalidTask {
            task: task.name.clone(),
            problem,
        };
        let choice_templates = match &task.answer {
            AnswerSpec::Choices {
                line, candidate, ..
            } => Some((
                Template::parse(line).map_err(invalid)?,
                Template::parse(candidate).map_err(invalid)?,
            )),
            _ => None,
        };
        Ok(ExampleReader {
            prompt: task.prompt_template().map_err(invalid)?,
            answer: &task.answer,
            choice_templates,
            labeled,
        })
    }

    fn read(&self, record: &Record<'_>) -> Result<PromptExample, DataError> {
        let choices = self.choices(record)?;
        let prompt = self.prompt.render(|name| match &choices {
            Some(choices) if name == CHOICES_PLACEHOLDER => Ok(choices.block.clone()),
            _ => record.text(&record.root, name, "template placeholder"),
        })?;
        let answer = match (self.answer, choices) {
            (AnswerSpec::Candidates { field, candidates }, _) => PromptAnswer::Choice {
                candidates: candidates.iter().map(|c| c.text.clone()).collect(),
                gold: self.gold_position(
                    record,
                    field,
                    &candidates
                        .iter()
                        .map(|c| c.value.as_str())
                        .collect::<Vec<_>>(),
                )?,
            },
            (AnswerSpec::Choices { field, .. }, Some(choices)) => PromptAnswer::Choice {
                gold: self.gold_position(
                    record,
                    field,
                    &choices.keys.iter().map(String::as_str).collect::<Vec<_>>(),
                )?,
                candidates: choices.candidates,
            },
            (AnswerSpec::Free { field }, _) => PromptAnswer::Free {
                target: self.gold_text(record, field)?,
            },
            (AnswerSpec::Choices { .. }, None) => {
                unreachable!("choices are read for every choices answer")
            }
        };
        Ok(PromptExample { prompt, answer })
    }

    /// The gold label as text, or `None` on an unlabeled split.
    fn gold_text(&self, record: &Record<'_>, field: &str) -> Result<Option<String>, DataError> {
        self.labeled
            .then(|| record.text(&record.root, field, "answer field"))
            .transpose()
    }

    /// The position of the gold value among `allowed`, or `None` on an unlabeled split.
    fn gold_position(
        &self,
        record: &Record<'_>,
        field: &str,
        allowed: &[&str],
    ) -> Result<Option<usize>, DataError> {
        self.gold_text(record, field)?
            .map(|raw| record.position(raw.trim(), allowed))
            .transpose()
    }

    /// The rendered choices of a choices answer (`None` for other answers).
    fn choices(&self, record: &Record<'_>) -> Result<Option<Choices>, DataError> {
        let (AnswerSpec::Choices { list, key, .. }, Some((line_template, candidate_template))) =
            (self.answer, &self.choice_templates)
        else {
            return Ok(None);
        };
        let items = match record.get(&record.root, list, "answer list")? {
            Value::Array(items) if !items.is_empty() => items,
            other => {
                return Err(record.bad(
                    list,
                    format!("is {}, not a non-empty list of choices", kind_of(other)),
                ))
            }
        };
        let mut choices = Choices::default();
        for item in items {
            let choice = |name: &str| record.text(item, name, "choice placeholder");
            choices
                .keys
                .push(record.text(item, key, "choice key")?.trim().to_owned());
            choices.candidates.push(candidate_template.render(choice)?);
            let line = line_template.render(choice)?;
            if !choices.block.is_empty() {
                choices.block.push('\n');
            }
            choices.block.push_str(&line);
        }
        Ok(Some(choices))
    }
}

/// One example's choices: keys (matched with the gold key), candidate texts, and the prompt block.
#[derive(Default)]
struct Choices {
    keys: Vec<String>,
    candidates: Vec<String>,
    block: String,
}

/// One JSONL line or TSV row as an object, with errors that name file, line and field.
struct Record<'a> {
    path: &'a Path,
    line: usize,
    root: Value,
}

impl Record<'_> {
    /// The value at the dotted `field` path inside `base` (the record or one of its choices).
    fn get<'v>(
        &self,
        base: &'v Value,
        field: &str,
        role: &'static str,
    ) -> Result<&'v Value, DataError> {
        field.split('.').try_fold(base, |value, key| {
            match value.as_object().and_then(|object| object.get(key)) {
                Some(found) if !found.is_null() => Ok(found),
                _ => Err(self.unknown(value, field, role)),
            }
        })
    }

    /// The text of a string, number or boolean field (numbers and booleans in their JSON spelling).
    fn text(&self, base: &Value, field: &str, role: &'static str) -> Result<String, DataError> {
        match self.get(base, field, role)? {
            Value::String(s) => Ok(s.clone()),
            value @ (Value::Number(_) | Value::Bool(_)) => Ok(value.to_string()),
            other => Err(self.bad(field, format!("is {}, not text", kind_of(other)))),
        }
    }

    /// The position of the gold value `raw` among `allowed`.
    fn position(&self, raw: &str, allowed: &[&str]) -> Result<usize, DataError> {
        allowed
            .iter()
            .position(|value| *value == raw)
            .ok_or_else(|| DataError::UnknownLabel {
                path: PathBuf::from(self.path),
                line: self.line,
                value: raw.to_owned(),
                allowed: allowed
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// `field` is missing below `level` (the object where the path broke off).
    fn unknown(&self, level: &Value, field: &str, role: &'static str) -> DataError {
        let available = match level.as_object() {
            Some(object) if !object.is_empty() => format!(
                "keys there: {}",
                object
                    .keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!("the path reaches {}", kind_of(level)),
        };
        DataError::UnknownField {
            path: PathBuf::from(self.path),
            line: self.line,
            role,
            field: field.to_owned(),
            available,
            hint: if role == "answer field" {
                " or the answer is missing (for a split without answers, mark it unlabeled = true)"
            } else {
                ""
            },
        }
    }

    fn bad(&self, field: &str, problem: String) -> DataError {
        DataError::BadField {
            path: PathBuf::from(self.path),
            line: self.line,
            field: format!("`{field}`"),
            problem,
        }
    }
}
