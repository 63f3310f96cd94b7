//! Built-in GLUE tasks and loading a task by name or TOML path.
//!
//! The built-in specs are the TOML files in this crate's `tasks/` folder, compiled in; they double as
//! examples of the task format.

use std::path::Path;

use crate::{DataError, TaskSpec};

/// Canonical built-in names and their TOML text.
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

/// Other spellings accepted for built-in names (GLUE's folder names).
const ALIASES: [(&str, &str); 2] = [("sst-2", "sst2"), ("sts-b", "stsb")];

/// The canonical names of the built-in tasks.
pub fn builtin_task_names() -> &'static [&'static str] {
    &NAMES
}

/// The built-in task called `name` (case-insensitive; "sst-2" and "sts-b" are accepted too).
pub fn builtin_task(name: &str) -> Option<TaskSpec> {
    let name = name.to_ascii_lowercase();
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name.as_str(), |(_, canonical)| canonical);
    BUILTIN
        .iter()
        .find(|(builtin, _)| *builtin == canonical)
        .map(|(_, text)| {
            toml::from_str(text).expect("built-in task TOML parses (checked by the builtin tests)")
        })
}

/// A built-in task by name, or else a task `.toml` file by path (parsed and validated).
pub fn load_task(name_or_path: &str) -> Result<TaskSpec, DataError> {
    if let Some(spec) = builtin_task(name_or_path) {
        return Ok(spec);
    }
    let path = Path::new(name_or_path);
    if path.extension().is_some_and(|ext| ext == "toml") || path.is_file() {
        return load_task_file(path);
    }
    Err(DataError::UnknownTask {
        name: name_or_path.to_owned(),
        known: NAMES.join(", "),
    })
}

/// Reads, parses and validates a task `.toml` file.
pub fn load_task_file(path: &Path) -> Result<TaskSpec, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let spec: TaskSpec = toml::from_str(&text).map_err(|e| DataError::TaskFile {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    spec.validate()?;
    Ok(spec)
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
