//! `--record DIR`: a compact copy of a comparison's finished runs, each run's `config.toml` and
//! `metrics.json` under `DIR/<task>/<run name>/` — a few kilobytes per run, small enough to keep
//! under version control. A run whose folder is gone (another machine, a cleaned `runs/`) is
//! restored from it, so the table can be remade and the comparison continued elsewhere; the
//! restored run is checked like any other (same settings, evaluated) before it is reused.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use taso::artifact::write_atomic;
use taso::run::RunPaths;

/// The record of one task's comparison runs.
pub struct Record {
    dir: PathBuf,
}

impl Record {
    /// The record of `task` under `root`.
    pub fn new(root: &Path, task: &str) -> Self {
        Record {
            dir: root.join(task),
        }
    }

    /// The pairs (in the record, in the run folder) of the files kept for run `name`.
    fn files(&self, name: &str, paths: &RunPaths) -> [(PathBuf, PathBuf); 2] {
        let kept = self.dir.join(name);
        [
            (kept.join("config.toml"), paths.config()),
            (kept.join("metrics.json"), paths.metrics()),
        ]
    }

    /// Copies the recorded run `name` into its run folder when that folder holds no run (no
    /// `config.toml`) and the record has both files; whether it did.
    pub fn restore(&self, name: &str, paths: &RunPaths) -> Result<bool> {
        let files = self.files(name, paths);
        let recorded = files.iter().all(|(kept, _)| kept.is_file());
        if !recorded || paths.config().exists() {
            return Ok(false);
        }
        // The config goes last: without it the folder does not claim to hold a run.
        for (kept, run) in files.iter().rev() {
            copy_if_changed(kept, run)?;
        }
        Ok(true)
    }

    /// Keeps the finished run `name`'s files, rewriting only those that changed.
    pub fn keep(&self, name: &str, paths: &RunPaths) -> Result<()> {
        for (kept, run) in self.files(name, paths) {
            copy_if_changed(&run, &kept)?;
        }
        Ok(())
    }
}

/// Copies `from` to `to` through a temporary file, creating `to`'s folder, unless `to` already
/// holds the same bytes.
fn copy_if_changed(from: &Path, to: &Path) -> Result<()> {
    let bytes = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    if std::fs::read(to).ok().as_deref() == Some(bytes.as_slice()) {
        return Ok(());
    }
    write_file(to, &bytes)
}

/// Writes `bytes` to `path` atomically, creating its folder.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    path.parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| write_atomic(path, bytes))
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_paths(dir: &Path) -> RunPaths {
        RunPaths {
            dir: dir.to_path_buf(),
        }
    }

    #[test]
    fn a_kept_run_is_restored_into_an_empty_folder_and_never_over_a_run() {
        let tmp = tempfile::tempdir().unwrap();
        let tmp = tmp.path();
        let record = Record::new(&tmp.join("record"), "rte");
        let first = run_paths(&tmp.join("runs/first"));
        write_file(&first.config(), b"[run]\nseed = 0\n").unwrap();
        write_file(&first.metrics(), b"{\"eval\": {}}").unwrap();
        record.keep("cmp-a", &first).unwrap();

        let gone = run_paths(&tmp.join("runs/gone"));
        assert!(record.restore("cmp-a", &gone).unwrap());
        assert_eq!(std::fs::read(gone.metrics()).unwrap(), b"{\"eval\": {}}");
        assert_eq!(std::fs::read(gone.config()).unwrap(), b"[run]\nseed = 0\n");

        // A folder that holds a run (its own config) is left alone, and so is an unrecorded run.
        write_file(&first.config(), b"[run]\nseed = 1\n").unwrap();
        assert!(!record.restore("cmp-a", &first).unwrap());
        assert_eq!(std::fs::read(first.config()).unwrap(), b"[run]\nseed = 1\n");
        assert!(!record
            .restore("cmp-b", &run_paths(&tmp.join("runs/b")))
            .unwrap());
    }
}
