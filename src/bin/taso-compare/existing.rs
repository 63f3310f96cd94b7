//! Guards the run folders a comparison would write into: a folder that holds a run with other
//! settings (another `--set`, an edited config) is never silently replaced.

use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use toml::{Table, Value};

/// Fails when the run folder's `config.toml` (`existing`) differs from the one asked for,
/// naming the settings that differ and how to keep both runs.
pub fn refuse_other_settings(dir: &Path, existing: &str, asked: &str) -> Result<()> {
    if existing == asked {
        return Ok(());
    }
    let changed = changed_keys(existing, asked);
    let shown = if changed.is_empty() {
        "its config.toml differs in layout".to_string()
    } else {
        changed.join(", ")
    };
    bail!(
        "{} already holds a run with other settings ({shown}); rerunning would replace it. \
         Give this comparison its own --tag (e.g. --tag epochs6) to keep both, or delete the \
         folder to rerun it",
        dir.display()
    )
}

/// The dotted keys whose values differ between two TOML documents, as `key: old → new`.
fn changed_keys(old: &str, new: &str) -> Vec<String> {
    let (Ok(old), Ok(new)) = (old.parse::<Table>(), new.parse::<Table>()) else {
        return Vec::new();
    };
    let (mut old_leaves, mut new_leaves) = (BTreeMap::new(), BTreeMap::new());
    flatten("", &old, &mut old_leaves);
    flatten("", &new, &mut new_leaves);
    let keys: BTreeSet<&String> = old_leaves.keys().chain(new_leaves.keys()).collect();
    let shown = |value: Option<&String>| value.map_or("(unset)", String::as_str).to_string();
    keys.into_iter()
        .filter(|key| old_leaves.get(*key) != new_leaves.get(*key))
        .map(|key| {
            let (was, now) = (shown(old_leaves.get(key)), shown(new_leaves.get(key)));
            format!("{key}: {was} → {now}")
        })
        .collect()
}

/// Every leaf of `table`, by dotted key.
fn flatten(prefix: &str, table: &Table, out: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        let key = format!("{prefix}{key}");
        match value {
            Value::Table(inner) => flatten(&format!("{key}."), inner, out),
            leaf => {
                out.insert(key, leaf.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_changed_settings() {
        let old = "[run]\nseed = 0\n[train]\nepochs = 3\nlr = 0.001\n";
        let new = "[run]\nseed = 0\n[train]\nepochs = 6\nlr = 0.001\ngamma = 0.5\n";
        assert_eq!(
            changed_keys(old, new),
            ["train.epochs: 3 → 6", "train.gamma: (unset) → 0.5"]
        );
        let err = refuse_other_settings(Path::new("runs/x"), old, new).unwrap_err();
        assert!(err.to_string().contains("train.epochs: 3 → 6"), "{err}");
        assert!(err.to_string().contains("--tag"), "{err}");
        assert!(refuse_other_settings(Path::new("runs/x"), old, old).is_ok());
    }
}
