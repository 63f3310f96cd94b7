//! Atomic file writes: write a temporary file beside the target, flush and fsync it, then
//! rename it over the target. Readers see the old file or the new one, never a partial one.
//!
//! A writer killed mid-write (`kill -9`, power loss) cannot remove its temporary file; the next
//! atomic write into the same folder removes every `.NAME.tmp-PID-N` file whose process `PID`
//! is no longer alive ([`remove_dead_writers_temp_files`]).

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
        remove_dead_writers_temp_files(parent_folder(target));
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

/// Removes the temporary files (`.NAME.tmp-PID-N`) that writers no longer alive left in
/// `folder`; returns how many. Best effort: an unreadable folder or a file that cannot be
/// removed is left as it is. Files of live processes (this one included) are kept.
pub fn remove_dead_writers_temp_files(folder: &Path) -> usize {
    let Ok(entries) = fs::read_dir(folder) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            writer_pid(&name.to_string_lossy()).is_some_and(|pid| !process_alive(pid))
        })
        .filter(|entry| fs::remove_file(entry.path()).is_ok())
        .count()
}

/// The PID in a temporary file name `.NAME.tmp-PID-N`.
fn writer_pid(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?;
    let (_, suffix) = rest.rsplit_once(".tmp-")?;
    let (pid, counter) = suffix.split_once('-')?;
    counter.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Whether a process with this PID exists (signal 0 probes without sending anything).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 sends nothing; it only reports whether the PID exists.
    let status = unsafe { libc::kill(pid, 0) };
    status == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_of_dead_writers_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        // A PID far above any Linux pid_max, so no process has it.
        let dead = dir.path().join(".metrics.json.tmp-2147483000-0");
        let other_dead = dir.path().join(".step-000100.safetensors.tmp-2147483001-3");
        let live = dir
            .path()
            .join(format!(".other.json.tmp-{}-7", std::process::id()));
        let not_ours = dir.path().join(".notes.tmp-x-1");
        for path in [&dead, &other_dead, &live, &not_ours] {
            fs::write(path, b"partial").unwrap();
        }
        write_atomic(&dir.path().join("metrics.json"), b"{}").unwrap();
        assert!(!dead.exists() && !other_dead.exists());
        assert!(live.exists() && not_ours.exists());
        assert_eq!(fs::read(dir.path().join("metrics.json")).unwrap(), b"{}");
        assert_eq!(writer_pid(".a.b.tmp-12-0"), Some(12));
        assert_eq!(writer_pid("a.tmp-12-0"), None);
    }
}
