//! The output folder of an import: refused when it holds something (unless forced), built
//! as a sibling staging folder, and renamed into place only when complete.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::GgufError;

/// Refuses an `out_dir` that exists and is not an empty folder, unless `force`.
pub fn check_output_dir(out_dir: &Path, force: bool) -> Result<(), GgufError> {
    if force || is_absent_or_empty(out_dir)? {
        Ok(())
    } else {
        Err(GgufError::OutputExists {
            path: out_dir.to_path_buf(),
        })
    }
}

fn is_absent_or_empty(path: &Path) -> Result<bool, GgufError> {
    match fs::read_dir(path) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => Ok(false),
        Err(e) => Err(GgufError::io(path, e)),
    }
}

/// A `.<name>.import-<pid>` folder beside the output, removed on drop unless it replaced it.
pub struct StagingDir {
    path: PathBuf,
    done: bool,
}

impl StagingDir {
    /// Creates the staging folder (and the output's parent folders).
    pub fn create_beside(out_dir: &Path) -> Result<StagingDir, GgufError> {
        let path = sibling(out_dir, "import")?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| GgufError::io(parent, e))?;
        }
        if path.exists() {
            // Left by an earlier run of this process id that was killed.
            fs::remove_dir_all(&path).map_err(|e| GgufError::io(&path, e))?;
        }
        fs::create_dir(&path).map_err(|e| GgufError::io(&path, e))?;
        Ok(StagingDir { path, done: false })
    }

    /// The staging folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` to `name` in the staging folder.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), GgufError> {
        let path = self.path.join(name);
        fs::write(&path, bytes).map_err(|e| GgufError::io(path, e))
    }

    /// Writes `value` as pretty JSON to `name` in the staging folder.
    pub fn write_json(&self, name: &str, value: &Value) -> Result<(), GgufError> {
        let mut text = serde_json::to_string_pretty(value).expect("JSON value");
        text.push('\n');
        self.write(name, text.as_bytes())
    }

    /// Renames the staging folder to `out_dir`. An empty `out_dir` is removed first; a
    /// non-empty one only with `force`, after being moved aside, so that a failure keeps it.
    pub fn replace(mut self, out_dir: &Path, force: bool) -> Result<(), GgufError> {
        let io_error = |e| GgufError::io(out_dir, e);
        let mut old = None;
        if out_dir.symlink_metadata().is_ok() {
            if is_absent_or_empty(out_dir)? {
                fs::remove_dir(out_dir).map_err(io_error)?;
            } else if force {
                let aside = sibling(out_dir, "old")?;
                fs::rename(out_dir, &aside).map_err(io_error)?;
                old = Some(aside);
            } else {
                return Err(GgufError::OutputExists {
                    path: out_dir.to_path_buf(),
                });
            }
        }
        fs::rename(&self.path, out_dir).map_err(io_error)?;
        self.done = true;
        if let Some(old) = old {
            remove_any(&old).map_err(|e| GgufError::io(&old, e))?;
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
fn sibling(path: &Path, what: &str) -> Result<PathBuf, GgufError> {
    let name = path.file_name().ok_or_else(|| {
        GgufError::io(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "the output must name a folder"),
        )
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
