//! Output folders written whole or not at all: built as a hidden sibling folder and renamed
//! into place only when complete (a model folder that an import or export writes).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Whether `path` is absent or an empty folder (a free place for an output folder).
pub fn is_absent_or_empty(path: &Path) -> io::Result<bool> {
    match fs::read_dir(path) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => Ok(false),
        Err(e) => Err(e),
    }
}

/// A `.<name>.<what>-<pid>` folder beside the output, removed on drop unless it replaced it.
#[derive(Debug)]
pub struct StagingDir {
    path: PathBuf,
    done: bool,
}

impl StagingDir {
    /// Creates the staging folder for `out_dir` (and the output's parent folders); `what`
    /// (`import`, `export`) names the writer in the hidden folder's name.
    pub fn create_beside(out_dir: &Path, what: &str) -> io::Result<StagingDir> {
        let path = sibling(out_dir, what)?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        if path.exists() {
            // Left by an earlier run of this process id that was killed.
            fs::remove_dir_all(&path)?;
        }
        fs::create_dir(&path)?;
        Ok(StagingDir { path, done: false })
    }

    /// The staging folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the staging folder to `out_dir`. An empty `out_dir` is removed first; a
    /// non-empty one only with `force`, after being moved aside, so that a failure keeps it.
    /// Without `force`, a non-empty `out_dir` is an [`io::ErrorKind::AlreadyExists`] error.
    pub fn replace(mut self, out_dir: &Path, force: bool) -> io::Result<()> {
        let mut old = None;
        if out_dir.symlink_metadata().is_ok() {
            if is_absent_or_empty(out_dir)? {
                fs::remove_dir(out_dir)?;
            } else if force {
                let aside = sibling(out_dir, "old")?;
                fs::rename(out_dir, &aside)?;
                old = Some(aside);
            } else {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "the output folder exists and is not empty",
                ));
            }
        }
        fs::rename(&self.path, out_dir)?;
        self.done = true;
        if let Some(old) = old {
            remove_any(&old)?;
        }
        Ok(())
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if !self.done {
            // Nothing more can be done if removal fails; the error being handled matters more.
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// `.<name>.<what>-<pid>` beside `path`.
fn sibling(path: &Path, what: &str) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the output must name a folder")
    })?;
    let sibling = format!(".{}.{what}-{}", name.to_string_lossy(), std::process::id());
    Ok(path.with_file_name(sibling))
}

fn remove_any(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_folder_replaces_the_output_only_when_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let stage = StagingDir::create_beside(&out, "export").unwrap();
        fs::write(stage.path().join("a"), "new").unwrap();
        stage.replace(&out, false).unwrap();
        assert_eq!(fs::read_to_string(out.join("a")).unwrap(), "new");

        let stage = StagingDir::create_beside(&out, "export").unwrap();
        let staged = stage.path().to_path_buf();
        let err = stage.replace(&out, false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(!staged.exists(), "the staging folder is removed on failure");
        assert_eq!(fs::read_to_string(out.join("a")).unwrap(), "new");

        let stage = StagingDir::create_beside(&out, "export").unwrap();
        fs::write(stage.path().join("b"), "newer").unwrap();
        stage.replace(&out, true).unwrap();
        assert!(!out.join("a").exists() && out.join("b").exists());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "nothing else is left"
        );
    }
}
