//! Atomic file writes: write a temporary file beside the target, flush and fsync it, then
//! rename it over the target. Readers see the old file or the new one, never a partial one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` atomically (for the JSON, TOML and Markdown files stages write
/// beside their artifacts). On error no temporary file is left and `path` is unchanged.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// Runs `write` on a buffered temporary file beside `path`, then makes it `path` atomically.
/// On any error (including from `write`) the temporary file is removed.
pub(crate) fn write_atomic_with<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<T> {
    let temp = TempFile::create_beside(path)?;
    let mut out = BufWriter::new(&temp.file);
    let value = write(&mut out)?;
    out.flush()?;
    drop(out);
    temp.file.sync_all()?;
    temp.persist(path)?;
    Ok(value)
}

/// A `.<name>.tmp-<pid>-<n>` file in the target's folder, removed on drop unless persisted.
struct TempFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl TempFile {
    fn create_beside(target: &Path) -> io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = target.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} does not name a file", target.display()),
            )
        })?;
        let temp_name = format!(
            ".{}.tmp-{}-{}",
            name.to_string_lossy(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = target.with_file_name(temp_name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(TempFile {
            path,
            file,
            persisted: false,
        })
    }

    /// Renames the file over `target`, then syncs the folder so that the rename survives a
    /// crash (best effort: the rename has already happened).
    fn persist(mut self, target: &Path) -> io::Result<()> {
        fs::rename(&self.path, target)?;
        self.persisted = true;
        if let Ok(folder) = File::open(parent_folder(target)) {
            // Durability only; the new file is already in place.
            let _ = folder.sync_all();
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            // Nothing more can be done if removal fails; the error being handled matters more.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The folder holding `path` (`.` for a bare file name).
fn parent_folder(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}
