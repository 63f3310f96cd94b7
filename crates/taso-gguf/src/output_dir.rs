//! The output folder of an import and the output file of an export: refused when they exist
//! (a folder: when it holds something) unless forced, built as a sibling staging folder or
//! file, and renamed into place only when complete.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use taso_artifact::is_absent_or_empty;

use serde_json::Value;

use crate::error::GgufError;

/// Refuses an `out_dir` that exists and is not an empty folder, unless `force`.
pub fn check_output_dir(out_dir: &Path, force: bool) -> Result<(), GgufError> {
    if force || is_absent_or_empty(out_dir).map_err(|e| GgufError::io(out_dir, e))? {
        Ok(())
    } else {
        Err(GgufError::OutputExists {
            path: out_dir.to_path_buf(),
        })
    }
}

/// A hidden folder beside the output ([`taso_artifact::StagingDir`]), removed on drop unless
/// it replaced the output.
pub struct StagingDir(taso_artifact::StagingDir);

impl StagingDir {
    /// Creates the staging folder (and the output's parent folders).
    pub fn create_beside(out_dir: &Path) -> Result<StagingDir, GgufError> {
        taso_artifact::StagingDir::create_beside(out_dir, "import")
            .map(StagingDir)
            .map_err(|e| GgufError::io(out_dir, e))
    }

    /// The staging folder.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes `bytes` to `name` in the staging folder.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), GgufError> {
        let path = self.path().join(name);
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
    pub fn replace(self, out_dir: &Path, force: bool) -> Result<(), GgufError> {
        self.0.replace(out_dir, force).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => GgufError::OutputExists {
                path: out_dir.to_path_buf(),
            },
            _ => GgufError::io(out_dir, e),
        })
    }
}

/// Refuses an `out` file that exists, unless `force`.
pub fn check_output_file(out: &Path, force: bool) -> Result<(), GgufError> {
    if force || out.symlink_metadata().is_err() {
        Ok(())
    } else {
        Err(GgufError::OutputFileExists {
            path: out.to_path_buf(),
        })
    }
}

/// A `.<name>.export-<pid>` file beside the output, removed on drop unless it became the output.
pub struct StagingFile {
    path: PathBuf,
    file: File,
    done: bool,
}

impl StagingFile {
    /// Creates the staging file (and the output's parent folders).
    pub fn create_beside(out: &Path) -> Result<StagingFile, GgufError> {
        let path = sibling(out, "export")?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| GgufError::io(parent, e))?;
        }
        // Truncates one left by an earlier run of this process id that was killed.
        let file = File::create(&path).map_err(|e| GgufError::io(&path, e))?;
        Ok(StagingFile {
            path,
            file,
            done: false,
        })
    }

    /// The staging file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open staging file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Syncs the staging file and renames it to `out`; an existing `out` is refused unless
    /// `force`, and replaced atomically with it.
    pub fn persist(mut self, out: &Path, force: bool) -> Result<(), GgufError> {
        self.file
            .sync_all()
            .map_err(|e| GgufError::io(&self.path, e))?;
        check_output_file(out, force)?;
        fs::rename(&self.path, out).map_err(|e| GgufError::io(out, e))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for StagingFile {
    fn drop(&mut self) {
        if !self.done {
            // Nothing more can be done if removal fails; the error being handled matters more.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// `.<name>.<what>-<pid>` beside `path`.
fn sibling(path: &Path, what: &str) -> Result<PathBuf, GgufError> {
    let name = path.file_name().ok_or_else(|| {
        GgufError::io(
            path,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the output path must end in a name",
            ),
        )
    })?;
    let sibling = format!(".{}.{what}-{}", name.to_string_lossy(), std::process::id());
    Ok(path.with_file_name(sibling))
}
