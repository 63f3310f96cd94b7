//! Guards the run folders a comparison would write into: a folder that holds a run with other
//! settings (another `--set`, an edited config) is never silently replaced. Settings that do
//! not change what a run trains (logging, checkpointing: [`NEUTRAL_SETTINGS`]) may differ.

use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use taso::run::ResolvedConfig;
use taso::train::NEUTRAL_SETTINGS;
use toml::{Table, Value};

/// A run folder's `config.toml` as settings to compare with a resolved config: its paths taken
/// from its own folder (how a run writes them), then its text as written (older runs wrote
/// paths from the project root). Empty when there is no such file.
pub fn read_settings(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let anchored = ResolvedConfig::load(path, &[]).map(|config| config.to_toml());
    anchored.into_iter().chain([text]).collect()
}

/// Whether the run folder's `config.toml` (`existing`) asks for the same run as `asked`.
pub fn same_settings(existing: &str, asked: &str) -> bool {
    existing == asked || changed_keys(existing, asked).is_some_and(|keys| keys.is_empty())
}

/// Fails when the run folder's `config.toml` (`existing`) asks for another run than `asked`,
/// naming the settings that differ and how to keep both runs.
pub fn refuse_other_settings(dir: &Path, existing: &str, asked: &str) -> Result<()> {
    if same_settings(existing, asked) {
        return Ok(());
    }
    let shown = match changed_keys(existing, asked) {
        Some(changed) => changed.join(", "),
        None => "its config.toml is not valid TOML".to_string(),
    };
    bail!(
        "{} already holds a run with other settings ({shown}); rerunning would replace it. \
         Give this comparison its own --tag (e.g. --tag epochs6) to keep both, or delete the \
         folder to rerun it",
        dir.display()
    )
}

/// The dotted keys whose values differ between two TOML documents, as `key: old → new`,
/// leaving out the neutral settings; `None` when either is not valid TOML.
fn changed_keys(old: &str, new: &str) -> Option<Vec<String>> {
    let (old, new) = (old.parse::<Table>().ok()?, new.parse::<Table>().ok()?);
    let (mut old_leaves, mut new_leaves) = (BTreeMap::new(), BTreeMap::new());
    flatten("", &old, &mut old_leaves);
    flatten("", &new, &mut new_leaves);
    let keys: BTreeSet<&String> = old_leaves.keys().chain(new_leaves.keys()).collect();
    let shown = |value: Option<&String>| value.map_or("(unset)", String::as_str).to_string();
    let changed = keys
        .into_iter()
        .filter(|key| !NEUTRAL_SETTINGS.contains(&key.as_str()))
        .filter(|key| old_leaves.get(*key) != new_leaves.get(*key))
        .map(|key| {
            let (was, now) = (shown(old_leaves.get(key)), shown(new_leaves.get(key)));
            format!("{key}: {was} → {now}")
        })
        .collect();
    Some(changed)
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
            changed_keys(old, new).unwrap(),
            ["train.epochs: 3 → 6", "train.gamma: (unset) → 0.5"]
        );
        let err = refuse_other_settings(Path::new("runs/x"), old, new).unwrap_err();
        assert!(err.to_string().contains("train.epochs: 3 → 6"), "{err}");
        assert!(err.to_string().contains("--tag"), "{err}");
        assert!(refuse_other_settings(Path::new("runs/x"), old, old).is_ok());
        assert!(!same_settings(old, new) && same_settings(old, old));
    }

    #[test]
    fn a_run_folder_config_is_read_with_its_paths_from_its_own_folder_or_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display();
        let path = dir.path().join("runs/rte/x/config.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "[run]\nmodel = \"../../../models/m\"\n").unwrap();
        let asked = format!("[run]\nmodel = \"{root}/models/m\"\n");
        let read = read_settings(&path);
        assert!(
            read.iter().any(|text| same_settings(text, &asked)),
            "{read:?}"
        );
        std::fs::write(&path, "[run]\nmodel = \"models/m\"\n").unwrap();
        let read = read_settings(&path);
        assert!(read
            .iter()
            .any(|t| same_settings(t, "[run]\nmodel = \"models/m\"\n")));
        assert!(read_settings(&dir.path().join("none.toml")).is_empty());
    }

    #[test]
    fn logging_and_checkpointing_do_not_make_another_run() {
        let old = "[run]\nseed = 0\n[train]\nepochs = 3\n";
        let new = "[run]\nseed = 0\n[train]\nepochs = 3\ncheckpoint_every = 100\n\
                   keep_checkpoints = 2\nlog_every = 5\nresume = true\n";
        assert!(same_settings(old, new));
        assert!(refuse_other_settings(Path::new("runs/x"), old, new).is_ok());
        assert!(!same_settings("[run", "[run]"));
        let err = refuse_other_settings(Path::new("runs/x"), "[run", new).unwrap_err();
        assert!(err.to_string().contains("not valid TOML"), "{err}");
    }
}
