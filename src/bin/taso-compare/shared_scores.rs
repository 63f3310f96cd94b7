//! Scoring once per seed. Scoring reads only the `[run]` and `[score]` settings and is
//! deterministic, so every run of a comparison that scores (TASO, its variants, random regions)
//! with the same settings there — whatever its method, learning rate, regions or adapter —
//! computes the same `importance.safetensors`, byte for byte. A run whose sibling already holds
//! that file links it into its own folder instead of scoring again.

use anyhow::{Context, Result};
use std::path::Path;
use taso::run::ResolvedConfig;
use toml::{Table, Value};

/// The settings a run's importance depends on: `[run]` without its `name` and `method`, and
/// `[score]`, as TOML text. `None` for a method that scores nothing (dense LoRA, BitFit, full
/// fine-tuning).
pub fn score_key(config: &ResolvedConfig) -> Result<Option<String>> {
    if !config.run()?.method.needs_scores() {
        return Ok(None);
    }
    let mut table: Table = config
        .to_toml()
        .parse()
        .context("reading back the resolved config")?;
    table.retain(|section, _| section == "run" || section == "score");
    if let Some(Value::Table(run)) = table.get_mut("run") {
        run.remove("name");
        run.remove("method");
    }
    Ok(Some(table.to_string()))
}

/// Puts the importance file `from` at `to`: a hard link where the file system allows one (no
/// second copy of hundreds of MiB), else a copy written beside `to` and renamed into place.
pub fn share_importance(from: &Path, to: &Path) -> Result<()> {
    let place = || format!("sharing {} as {}", from.display(), to.display());
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).with_context(place)?;
    }
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    let bytes = std::fs::read(from).with_context(place)?;
    taso::artifact::write_atomic(to, &bytes).with_context(place)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(sets: &[&str]) -> Option<String> {
        let text = "[run]\ntask = \"rte\"\nname = \"a\"\nmethod = \"taso\"\nseed = 0\n\n\
                    [score]\nbatches = 4\n\n[regions]\nrank = 8\n\n[train]\nlr = 1e-3\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        score_key(&ResolvedConfig::load(&path, &sets).unwrap()).unwrap()
    }

    #[test]
    fn runs_that_score_alike_share_a_key() {
        let base = key(&[]).unwrap();
        for same in [
            &["run.name=b", "train.lr=2e-3"][..],
            &["run.method=random-regions"],
            &["regions.rank=4", "lora.init_fan_in=input", "train.gamma=1"],
        ] {
            assert_eq!(key(same).as_deref(), Some(base.as_str()), "{same:?}");
        }
        for other in [
            &["run.seed=1"][..],
            &["score.batches=8"],
            &["run.max_len=64"],
        ] {
            assert_ne!(key(other).as_deref(), Some(base.as_str()), "{other:?}");
        }
        for none in ["lora", "full", "bitfit"] {
            assert_eq!(key(&[&format!("run.method={none}")]), None, "{none}");
        }
    }

    #[test]
    fn sharing_links_or_copies_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("a/importance.safetensors");
        std::fs::create_dir_all(from.parent().unwrap()).unwrap();
        std::fs::write(&from, b"scores").unwrap();
        let to = dir.path().join("b/importance.safetensors");
        share_importance(&from, &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), b"scores");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("b")).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left");
    }
}
