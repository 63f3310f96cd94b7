//! Task specs: what a task's files look like and how they are scored.
//!
//! A [`TaskSpec`] is plain data, deserialised from TOML (see the crate docs for the format) or
//! built in ([`crate::builtin_task`]). [`TaskSpec::validate`] checks it before use.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{DataError, Metric};

/// One of a task's data splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The training split.
    Train,
    /// The development split (GLUE's "dev", SuperGLUE's "val"): where results are reported.
    Dev,
    /// The test split (unlabeled for GLUE).
    Test,
}

impl Split {
    /// All splits, in the order train, dev, test.
    pub const ALL: [Split; 3] = [Split::Train, Split::Dev, Split::Test];

    /// The lower-case name used in TOML and messages.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// File format of a task's splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Tab-separated values, split on tabs only (quotes are ordinary characters).
    Tsv,
    /// Comma-separated values (RFC 4180): fields holding commas, quotes or line breaks are
    /// quoted, with quotes doubled inside.
    Csv,
    /// Apache Parquet, as the Hugging Face hub stores datasets: columns are fields, as in JSONL
    /// (nested lists and structs too); errors name the 1-based row.
    Parquet,
    /// One JSON object per line; fields are top-level keys.
    Jsonl,
}

impl Format {
    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            Format::Tsv => "tsv",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

/// A field of a row: a column name (TSV with a header, or a JSONL key) or a 0-based TSV column index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a column name (string) or a 0-based column index (non-negative integer)"
)]
pub enum Column {
    /// A header name (TSV) or key (JSONL).
    Name(String),
    /// A 0-based column index (TSV only).
    Index(usize),
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Name(name) => write!(f, "`{name}`"),
            Column::Index(index) => write!(f, "{index} (0-based)"),
        }
    }
}

/// What a task predicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum LabelSpec {
    /// Classification: a label value in the file must equal one of `names`; its position is the class id.
    Classes {
        /// Class names, in class-id order.
        names: Vec<String>,
    },
    /// Regression on a number.
    Regression,
}

impl LabelSpec {
    /// Number of model outputs: the class count, or 1 for regression.
    pub fn num_outputs(&self) -> usize {
        match self {
            LabelSpec::Classes { names } => names.len(),
            LabelSpec::Regression => 1,
        }
    }

    /// Whether this is a regression task.
    pub fn is_regression(&self) -> bool {
        matches!(self, LabelSpec::Regression)
    }
}

/// Where one split lives, and how its file differs from the task-level layout (if at all).
///
/// In TOML either a plain path string or a table with `path` and any of the optional keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "SplitFileToml")]
pub struct SplitFile {
    /// The file, relative to the data directory (or absolute).
    pub path: PathBuf,
    /// Skip the first `skip_examples` examples of the file (default 0), e.g. to train and
    /// evaluate on disjoint parts of one file.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skip_examples: usize,
    /// Read only the first `max_examples` examples of the file, after any skipped ones (for
    /// documented subsets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_examples: Option<usize>,
    /// The file has no labels (e.g. GLUE test files): examples are read with `label: None`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unlabeled: bool,
    /// Overrides the task's `header` for this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    /// Overrides the task's `text` for this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Column>,
    /// Overrides the task's `pair` for this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<Column>,
    /// Overrides the task's `label` for this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Column>,
}

fn is_false(value: &bool) -> bool {
    !value
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

/// The two TOML spellings of a [`SplitFile`].
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a path string, or a table with `path` and optional `skip_examples`, `max_examples`, `unlabeled`, `header`, `text`, `pair`, `label`"
)]
enum SplitFileToml {
    Path(PathBuf),
    Table(SplitFileTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitFileTable {
    path: PathBuf,
    #[serde(default)]
    skip_examples: usize,
    #[serde(default)]
    max_examples: Option<usize>,
    #[serde(default)]
    unlabeled: bool,
    #[serde(default)]
    header: Option<bool>,
    #[serde(default)]
    text: Option<Column>,
    #[serde(default)]
    pair: Option<Column>,
    #[serde(default)]
    label: Option<Column>,
}

impl From<SplitFileToml> for SplitFile {
    fn from(toml: SplitFileToml) -> Self {
        match toml {
            SplitFileToml::Path(path) => SplitFile::new(path),
            SplitFileToml::Table(t) => SplitFile {
                path: t.path,
                skip_examples: t.skip_examples,
                max_examples: t.max_examples,
                unlabeled: t.unlabeled,
                header: t.header,
                text: t.text,
                pair: t.pair,
                label: t.label,
            },
        }
    }
}

impl SplitFile {
    /// A labeled file with the task-level layout.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SplitFile {
            path: path.into(),
            skip_examples: 0,
            max_examples: None,
            unlabeled: false,
            header: None,
            text: None,
            pair: None,
            label: None,
        }
    }
}

/// The files of a task's splits; any may be absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Splits {
    /// Training file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<SplitFile>,
    /// Development file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<SplitFile>,
    /// Test file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<SplitFile>,
}

impl Splits {
    /// Checks that at least one split is defined (`example` is a path for the message), and
    /// each defined file: a path, a positive `max_examples`, then the task kind's own `check`.
    pub(crate) fn check_each(
        &self,
        example: &str,
        mut check: impl FnMut(Split, &SplitFile) -> Result<(), String>,
    ) -> Result<(), String> {
        let defined: Vec<(Split, &SplitFile)> = Split::ALL
            .iter()
            .filter_map(|&split| self.get(split).map(|file| (split, file)))
            .collect();
        if defined.is_empty() {
            return Err(format!(
                "no splits: add e.g. [splits] train = \"{example}\""
            ));
        }
        defined.into_iter().try_for_each(|(split, file)| {
            if file.path.as_os_str().is_empty() {
                return Err(format!(
                    "the {split} split's path is empty: give the file's path"
                ));
            }
            if file.max_examples == Some(0) {
                return Err(format!(
                    "the {split} split has max_examples = 0: remove it or give a positive count"
                ));
            }
            check(split, file)
        })
    }

    /// The file of `split`, if the task has one.
    pub fn get(&self, split: Split) -> Option<&SplitFile> {
        match split {
            Split::Train => self.train.as_ref(),
            Split::Dev => self.dev.as_ref(),
            Split::Test => self.test.as_ref(),
        }
    }
}

/// A task: its files, their layout, its labels and metrics. See the crate docs for the TOML form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Short name, used in messages and run records.
    pub name: String,
    /// One line about the task; shown in messages (e.g. why a split is missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// File format of every split.
    pub format: Format,
    /// TSV only: whether the first line names the columns (default true).
    #[serde(default = "default_header")]
    pub header: bool,
    /// The (first) text field.
    pub text: Column,
    /// The optional second text field of a sentence pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<Column>,
    /// The label field.
    pub label: Column,
    /// Classes or regression.
    pub labels: LabelSpec,
    /// Metrics to report, the first being the main one.
    pub metrics: Vec<Metric>,
    /// The split files.
    pub splits: Splits,
}

fn default_header() -> bool {
    true
}

/// The columns to read from one split file, after applying its overrides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout<'a> {
    pub header: bool,
    pub text: &'a Column,
    pub pair: Option<&'a Column>,
    /// `None` when the file is unlabeled.
    pub label: Option<&'a Column>,
    pub skip_examples: usize,
    pub max_examples: Option<usize>,
}

/// A task needs a name: it labels runs, artifacts and messages.
pub(crate) fn check_task_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("`name` is empty: give the task a name, e.g. name = \"my-task\"".into());
    }
    Ok(())
}

impl TaskSpec {
    /// Checks the spec for mistakes that would otherwise surface only while reading.
    pub fn validate(&self) -> Result<(), DataError> {
        self.check_name()
            .and_then(|()| self.check_labels())
            .and_then(|()| self.check_metrics())
            .and_then(|()| self.check_splits())
            .map_err(|problem| DataError::InvalidTask {
                task: self.name.clone(),
                problem,
            })
    }

    /// The layout used to read `file`: the task-level columns with the file's overrides applied.
    pub(crate) fn layout<'a>(&'a self, file: &'a SplitFile) -> Layout<'a> {
        Layout {
            header: file.header.unwrap_or(self.header),
            text: file.text.as_ref().unwrap_or(&self.text),
            pair: file.pair.as_ref().or(self.pair.as_ref()),
            label: (!file.unlabeled).then(|| file.label.as_ref().unwrap_or(&self.label)),
            skip_examples: file.skip_examples,
            max_examples: file.max_examples,
        }
    }

    fn check_name(&self) -> Result<(), String> {
        check_task_name(&self.name)
    }

    fn check_labels(&self) -> Result<(), String> {
        let LabelSpec::Classes { names } = &self.labels else {
            return Ok(());
        };
        if names.len() < 2 {
            return Err(format!(
                "labels lists {} class(es); a classification task needs at least 2, e.g. \
                 labels = {{ kind = \"classes\", names = [\"0\", \"1\"] }}",
                names.len()
            ));
        }
        if names.iter().any(|n| n.is_empty()) {
            return Err(
                "a class name is empty: give every class a name as it appears in the files".into(),
            );
        }
        let mut seen = BTreeSet::new();
        if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(format!(
                "class `{dup}` is listed twice in labels: list each class once"
            ));
        }
        Ok(())
    }

    fn check_metrics(&self) -> Result<(), String> {
        if self.metrics.is_empty() {
            return Err(
                "`metrics` is empty: list at least one, e.g. metrics = [\"accuracy\"]".into(),
            );
        }
        let regression = self.labels.is_regression();
        for metric in &self.metrics {
            if metric.is_regression() != regression {
                let (task_kind, allowed) = if regression {
                    ("regression", "pearson, spearman")
                } else {
                    ("classification", "accuracy, f1, matthews")
                };
                return Err(format!(
                    "metric `{}` does not apply to a {task_kind} task: use {allowed}",
                    metric.name()
                ));
            }
            if *metric == Metric::F1 && self.labels.num_outputs() != 2 {
                return Err(format!(
                    "metric `f1` is binary F1 (positive class 1) but the task has {} classes: use accuracy or matthews",
                    self.labels.num_outputs()
                ));
            }
        }
        let distinct: BTreeSet<_> = self.metrics.iter().collect();
        if distinct.len() != self.metrics.len() {
            return Err("a metric is listed twice in `metrics`: list each once".into());
        }
        Ok(())
    }

    fn check_splits(&self) -> Result<(), String> {
        self.splits.check_each("my/train.tsv", |split, file| {
            self.check_split_file(split, file)
        })
    }

    fn check_split_file(&self, split: Split, file: &SplitFile) -> Result<(), String> {
        let layout = self.layout(file);
        [Some(layout.text), layout.pair, layout.label]
            .into_iter()
            .flatten()
            .try_for_each(|column| self.check_column(split, column, layout.header))
    }

    fn check_column(&self, split: Split, column: &Column, header: bool) -> Result<(), String> {
        match (self.format, column) {
            (_, Column::Name(name)) if name.is_empty() => {
                Err(format!("an empty column name is used for the {split} split: name the column"))
            }
            (Format::Jsonl | Format::Parquet, Column::Index(index)) => Err(format!(
                "column index {index} used with format = \"{}\": its fields are named, e.g. text = \"question\"",
                self.format.name()
            )),
            (Format::Tsv | Format::Csv, Column::Name(name)) if !header => Err(format!(
                "column `{name}` is named but the {split} file has no header (header = false): \
                 use a 0-based index such as text = 3, or set header = true"
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> TaskSpec {
        toml::from_str(toml_text).unwrap()
    }

    const BASE: &str = r#"
        name = "t"
        format = "tsv"
        text = "a"
        label = "y"
        labels = { kind = "classes", names = ["0", "1"] }
        metrics = ["accuracy"]
        [splits]
        train = "train.tsv"
        test = { path = "test.tsv", unlabeled = true, max_examples = 5 }
    "#;

    fn problem(toml_text: &str) -> String {
        spec(toml_text).validate().unwrap_err().to_string()
    }

    #[test]
    fn parses_both_split_spellings() {
        let s = spec(BASE);
        s.validate().unwrap();
        assert_eq!(s.splits.train, Some(SplitFile::new("train.tsv")));
        let test = s.splits.test.as_ref().unwrap();
        assert!(test.unlabeled);
        assert_eq!(test.max_examples, Some(5));
        assert!(s.layout(test).label.is_none());
        assert!(s.header, "header defaults to true");
    }

    #[test]
    fn round_trips_through_toml() {
        let s = spec(BASE);
        let text = toml::to_string(&s).unwrap();
        assert_eq!(spec(&text), s);
    }

    #[test]
    fn rejects_bad_specs_with_a_fix() {
        let cases = [
            (BASE.replace("[\"accuracy\"]", "[]"), "metrics"),
            (BASE.replace("[\"accuracy\"]", "[\"pearson\"]"), "pearson"),
            (BASE.replace("[\"0\", \"1\"]", "[\"0\"]"), "at least 2"),
            (BASE.replace("[\"0\", \"1\"]", "[\"0\", \"0\"]"), "twice"),
            (
                BASE.replace(
                    "{ kind = \"classes\", names = [\"0\", \"1\"] }",
                    "{ kind = \"regression\" }",
                ),
                "accuracy",
            ),
            (BASE.replace("name = \"t\"", "name = \"\""), "name"),
            (
                BASE.replace("format = \"tsv\"", "format = \"tsv\"\nheader = false"),
                "header",
            ),
            (
                BASE.replace("format = \"tsv\"", "format = \"jsonl\"\npair = 2"),
                "jsonl",
            ),
            (
                BASE.replace("max_examples = 5", "max_examples = 0"),
                "max_examples",
            ),
        ];
        for (text, needle) in cases {
            let message = problem(&text);
            assert!(
                message.contains(needle),
                "expected `{needle}` in: {message}"
            );
        }
        let f1_three = BASE
            .replace("[\"0\", \"1\"]", "[\"a\", \"b\", \"c\"]")
            .replace("[\"accuracy\"]", "[\"f1\"]");
        assert!(problem(&f1_three).contains("binary"));
        let no_splits = BASE.split("[splits]").next().unwrap().to_owned() + "[splits]\n";
        assert!(problem(&no_splits).contains("no splits"));
    }

    #[test]
    fn unknown_metric_and_unknown_key_fail_to_parse() {
        let err = toml::from_str::<TaskSpec>(&BASE.replace("accuracy", "bleu")).unwrap_err();
        assert!(err.to_string().contains("bleu"), "{err}");
        let err = toml::from_str::<TaskSpec>(
            &BASE.replace("text = \"a\"", "text = \"a\"\ntext3 = \"c\""),
        )
        .unwrap_err();
        assert!(err.to_string().contains("text3"), "{err}");
    }
}
