//! The run folder's human-facing records that several stages write into: `metrics.json`
//! (one top-level entry per stage) and `report.md` (one `## ` section per stage).

use std::collections::BTreeMap;
use std::path::Path;

use taso_artifact::write_atomic;

use crate::error::RunError;

/// Metrics of a split by name (`accuracy`, `f1`, ...).
pub type Scores = BTreeMap<String, f64>;

/// `accuracy 0.6534, f1 0.7012`.
pub fn format_scores(scores: &Scores) -> String {
    scores
        .iter()
        .map(|(name, value)| format!("{name} {value:.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sets `metrics.json`'s top-level entry `key` to `value` (read, modify, write atomically),
/// creating the file if there is none.
pub fn set_metrics_entry(path: &Path, key: &str, value: serde_json::Value) -> Result<(), RunError> {
    let mut json = if path.exists() {
        read_metrics(path)?
    } else {
        serde_json::json!({})
    };
    let object = json.as_object_mut().ok_or_else(|| RunError::BadMetrics {
        path: path.to_path_buf(),
        reason: "not a JSON object".to_string(),
    })?;
    object.insert(key.to_string(), value);
    let text = serde_json::to_string_pretty(&json).expect("JSON values serialise");
    write_atomic(path, text.as_bytes()).map_err(|e| RunError::io(path, e))
}

/// Reads a run's `metrics.json` as JSON.
pub fn read_metrics(path: &Path) -> Result<serde_json::Value, RunError> {
    let text = std::fs::read_to_string(path).map_err(|e| RunError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| RunError::BadMetrics {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Replaces the section under the markdown heading `heading` (a `## ...` line) in `path`, or
/// appends it; other sections are kept, so re-running a stage does not repeat its section.
pub fn write_report_section(path: &Path, heading: &str, body: &str) -> Result<(), RunError> {
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(RunError::io(path, e)),
    };
    let section = format!("{heading}\n\n{}\n", body.trim_end());
    let mut kept: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in old.lines() {
        if line.starts_with("## ") && !current.is_empty() {
            kept.push(std::mem::take(&mut current));
        }
        current.push_str(line);
        current.push('\n');
    }
    if !current.is_empty() {
        kept.push(current);
    }
    let mut replaced = false;
    for part in &mut kept {
        if part.lines().next() == Some(heading) {
            *part = section.clone();
            replaced = true;
        }
    }
    if !replaced {
        kept.push(section);
    }
    let text = kept
        .iter()
        .map(|part| part.trim_end())
        .collect::<Vec<_>>()
        .join("\n\n")
        + "\n";
    write_atomic(path, text.as_bytes()).map_err(|e| RunError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_sections_are_replaced_in_place_or_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.md");
        write_report_section(&path, "## Training", "loss 1").unwrap();
        write_report_section(&path, "## Evaluation", "acc 0.5").unwrap();
        write_report_section(&path, "## Training", "loss 2\n\n| a |").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "## Training\n\nloss 2\n\n| a |\n\n## Evaluation\n\nacc 0.5\n"
        );
    }

    #[test]
    fn metrics_entries_are_added_without_losing_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.json");
        set_metrics_entry(&path, "a", serde_json::json!(1)).unwrap();
        set_metrics_entry(&path, "b", serde_json::json!({"x": 2})).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(json, serde_json::json!({"a": 1, "b": {"x": 2}}));
        std::fs::write(&path, "[1]").unwrap();
        let err = set_metrics_entry(&path, "a", serde_json::json!(1)).unwrap_err();
        assert!(err.to_string().contains("not a JSON object"), "{err}");
    }
}
