//! Built-in tasks (GLUE classification; BoolQ, WiC, ARC-Challenge, GSM8K and GLUE's SST-2, RTE,
//! MRPC, QNLI as prompt tasks) and loading a task by name or TOML path.
//!
//! The built-in specs are the TOML files in this crate's `tasks/` folder, compiled in; they double as
//! examples of the task formats.

use std::path::Path;

use crate::{DataError, PromptTaskSpec, TaskSpec};

/// Canonical built-in classification names and their TOML text.
const BUILTIN: [(&str, &str); 7] = [
    ("rte", include_str!("../tasks/rte.toml")),
    ("mrpc", include_str!("../tasks/mrpc.toml")),
    ("sst2", include_str!("../tasks/sst2.toml")),
    ("cola", include_str!("../tasks/cola.toml")),
    ("stsb", include_str!("../tasks/stsb.toml")),
    ("wnli", include_str!("../tasks/wnli.toml")),
    ("qnli", include_str!("../tasks/qnli.toml")),
];

const NAMES: [&str; 7] = ["rte", "mrpc", "sst2", "cola", "stsb", "wnli", "qnli"];

/// Canonical built-in prompt task names and their TOML text.
const PROMPT_BUILTIN: [(&str, &str); 8] = [
    ("boolq", include_str!("../tasks/boolq.toml")),
    ("wic", include_str!("../tasks/wic.toml")),
    ("arc-challenge", include_str!("../tasks/arc-challenge.toml")),
    ("gsm8k", include_str!("../tasks/gsm8k.toml")),
    ("sst2-prompt", include_str!("../tasks/sst2-prompt.toml")),
    ("rte-prompt", include_str!("../tasks/rte-prompt.toml")),
    ("mrpc-prompt", include_str!("../tasks/mrpc-prompt.toml")),
    ("qnli-prompt", include_str!("../tasks/qnli-prompt.toml")),
];

const PROMPT_NAMES: [&str; 8] = [
    "boolq",
    "wic",
    "arc-challenge",
    "gsm8k",
    "sst2-prompt",
    "rte-prompt",
    "mrpc-prompt",
    "qnli-prompt",
];

/// Other spellings accepted for built-in names.
const ALIASES: [(&str, &str); 3] = [
    ("sst-2", "sst2"),
    ("sts-b", "stsb"),
    ("arc", "arc-challenge"),
];

/// A task of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyTask {
    /// A classification or regression task for encoders (GLUE).
    Classification(TaskSpec),
    /// A prompt task for decoder LMs.
    Prompt(PromptTaskSpec),
}

impl AnyTask {
    /// The task's name.
    pub fn name(&self) -> &str {
        match self {
            AnyTask::Classification(spec) => &spec.name,
            AnyTask::Prompt(spec) => &spec.name,
        }
    }
}

/// The canonical names of the built-in classification tasks.
pub fn builtin_task_names() -> &'static [&'static str] {
    &NAMES
}

/// The canonical names of the built-in prompt tasks.
pub fn builtin_prompt_task_names() -> &'static [&'static str] {
    &PROMPT_NAMES
}

/// The canonical spelling of `name`: lower case, aliases resolved.
fn canonical(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canonical)| (*canonical).to_owned())
}

fn builtin_text<'a>(table: &'a [(&str, &str)], name: &str) -> Option<&'a str> {
    let name = canonical(name);
    table
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .map(|(_, text)| *text)
}

/// The built-in classification task called `name` (case-insensitive; "sst-2" and "sts-b" are accepted too).
pub fn builtin_task(name: &str) -> Option<TaskSpec> {
    builtin_text(&BUILTIN, name).map(|text| {
        toml::from_str(text).expect("built-in task TOML parses (checked by the builtin tests)")
    })
}

/// The built-in prompt task called `name` (case-insensitive; "arc" is ARC-Challenge).
pub fn builtin_prompt_task(name: &str) -> Option<PromptTaskSpec> {
    builtin_text(&PROMPT_BUILTIN, name).map(|text| {
        toml::from_str(text).expect("built-in task TOML parses (checked by the builtin tests)")
    })
}

/// A built-in task of either kind by name, or else a task `.toml` file by path (parsed and validated).
pub fn load_any_task(name_or_path: &str) -> Result<AnyTask, DataError> {
    if let Some(spec) = builtin_task(name_or_path) {
        return Ok(AnyTask::Classification(spec));
    }
    if let Some(spec) = builtin_prompt_task(name_or_path) {
        return Ok(AnyTask::Prompt(spec));
    }
    let path = Path::new(name_or_path);
    if path.extension().is_some_and(|ext| ext == "toml") || path.is_file() {
        return load_any_task_file(path);
    }
    Err(DataError::UnknownTask {
        name: name_or_path.to_owned(),
        known: NAMES
            .iter()
            .chain(&PROMPT_NAMES)
            .copied()
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// A classification task: built in by name, or a task `.toml` file by path.
pub fn load_task(name_or_path: &str) -> Result<TaskSpec, DataError> {
    match load_any_task(name_or_path)? {
        AnyTask::Classification(spec) => Ok(spec),
        AnyTask::Prompt(spec) => Err(DataError::WrongTaskKind {
            task: spec.name,
            kind: "prompt",
            expected: "a classification",
            advice: "prompt tasks (kind = \"prompt\") are for decoder LMs; use a GLUE task or a classification task .toml",
        }),
    }
}

/// A prompt task: built in by name, or a task `.toml` file (with `kind = "prompt"`) by path.
pub fn load_prompt_task(name_or_path: &str) -> Result<PromptTaskSpec, DataError> {
    match load_any_task(name_or_path)? {
        AnyTask::Prompt(spec) => Ok(spec),
        AnyTask::Classification(spec) => Err(DataError::WrongTaskKind {
            task: spec.name,
            kind: "classification",
            expected: "a prompt",
            advice: "decoder LMs take prompt tasks (boolq, wic, arc-challenge, gsm8k, sst2-prompt, rte-prompt, mrpc-prompt, qnli-prompt, or a .toml with kind = \"prompt\")",
        }),
    }
}

/// Reads, parses and validates a classification task `.toml` file.
pub fn load_task_file(path: &Path) -> Result<TaskSpec, DataError> {
    match load_any_task_file(path)? {
        AnyTask::Classification(spec) => Ok(spec),
        AnyTask::Prompt(spec) => Err(DataError::WrongTaskKind {
            task: spec.name,
            kind: "prompt",
            expected: "a classification",
            advice:
                "this file has kind = \"prompt\"; load it with load_any_task or load_prompt_task",
        }),
    }
}

/// Reads, parses and validates a task `.toml` file of either kind (`kind = "prompt"` marks prompt tasks).
pub fn load_any_task_file(path: &Path) -> Result<AnyTask, DataError> {
    let text = crate::readers::read_text(path)?;
    let parse_error = |e: toml::de::Error| DataError::TaskFile {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_owned(),
    };
    let table: toml::Table = toml::from_str(&text).map_err(parse_error)?;
    if table.get("kind").and_then(toml::Value::as_str) == Some("prompt") {
        let spec: PromptTaskSpec = toml::from_str(&text).map_err(parse_error)?;
        spec.validate()?;
        return Ok(AnyTask::Prompt(spec));
    }
    let spec: TaskSpec = toml::from_str(&text).map_err(parse_error)?;
    spec.validate()?;
    Ok(AnyTask::Classification(spec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LabelSpec, Metric, Split};

    #[test]
    fn every_builtin_parses_validates_and_is_named_like_its_key() {
        assert_eq!(BUILTIN.map(|(name, _)| name), NAMES);
        for name in builtin_task_names() {
            let spec = builtin_task(name).unwrap();
            spec.validate().unwrap();
            assert_eq!(spec.name, *name);
            assert!(
                spec.splits.test.as_ref().unwrap().unlabeled,
                "{name}: GLUE test files have no labels"
            );
        }
    }

    #[test]
    fn every_prompt_builtin_parses_validates_and_is_named_like_its_key() {
        assert_eq!(PROMPT_BUILTIN.map(|(name, _)| name), PROMPT_NAMES);
        for name in builtin_prompt_task_names() {
            let spec = builtin_prompt_task(name).unwrap();
            spec.validate().unwrap();
            assert_eq!(spec.name, *name);
            assert!(
                builtin_task(name).is_none(),
                "{name} is not a classification task"
            );
        }
        assert_eq!(builtin_prompt_task("ARC").unwrap().name, "arc-challenge");
    }

    #[test]
    fn kinds_are_told_apart_with_advice() {
        assert!(matches!(load_any_task("boolq"), Ok(AnyTask::Prompt(_))));
        assert!(matches!(
            load_any_task("rte"),
            Ok(AnyTask::Classification(_))
        ));
        let err = load_task("gsm8k").unwrap_err().to_string();
        assert!(
            err.contains("prompt task") && err.contains("decoder"),
            "{err}"
        );
        let err = load_prompt_task("rte").unwrap_err().to_string();
        assert!(
            err.contains("classification task") && err.contains("boolq"),
            "{err}"
        );
        let err = load_task("mnli").unwrap_err().to_string();
        assert!(err.contains("gsm8k") && err.contains("rte"), "{err}");
    }

    #[test]
    fn aliases_and_case_resolve() {
        assert_eq!(builtin_task("SST-2").unwrap().name, "sst2");
        assert_eq!(builtin_task("sts-b").unwrap().name, "stsb");
        assert_eq!(builtin_task("RTE").unwrap().name, "rte");
        assert!(builtin_task("mnli").is_none());
    }

    #[test]
    fn glue_metrics_and_labels() {
        let metrics = |name: &str| builtin_task(name).unwrap().metrics;
        assert_eq!(metrics("mrpc"), [Metric::F1, Metric::Accuracy]);
        assert_eq!(metrics("cola"), [Metric::Matthews]);
        assert_eq!(metrics("stsb"), [Metric::Pearson, Metric::Spearman]);
        assert_eq!(builtin_task("stsb").unwrap().labels, LabelSpec::Regression);
        assert!(builtin_task("qnli")
            .unwrap()
            .splits
            .get(Split::Train)
            .is_none());
    }

    #[test]
    fn load_task_reports_unknown_names() {
        let err = load_task("mnli").unwrap_err().to_string();
        assert!(
            err.contains("mnli") && err.contains("rte") && err.contains(".toml"),
            "{err}"
        );
        let err = load_task("no/such/task.toml").unwrap_err().to_string();
        assert!(err.contains("no/such/task.toml"), "{err}");
    }
}
