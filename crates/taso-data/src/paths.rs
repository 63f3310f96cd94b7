//! Locating the task data directory.

use std::path::{Path, PathBuf};

use crate::DataError;

/// Environment variable that names the data directory.
pub const DATA_DIR_ENV: &str = "TASO_DATA_DIR";

/// Finds the data directory relative to the current directory; see [`resolve_data_dir_from`].
pub fn resolve_data_dir(explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    let cwd = std::env::current_dir().map_err(|source| DataError::Io {
        path: PathBuf::from("."),
        source,
    })?;
    resolve_data_dir_from(explicit, &cwd)
}

/// Finds the data directory, trying in order:
/// 1. `explicit`, if given (it must exist);
/// 2. the environment variable `TASO_DATA_DIR`, if set (it must exist);
/// 3. `<base>/data/shared` (the link `scripts/bootstrap.sh` makes);
/// 4. `<base>/../shared/data`;
/// 5. `<base>/data`, the repository's own data folder, which ships GLUE RTE (train and dev), so
///    that the main job runs on a machine with no other data. It must hold a `glue/` folder.
pub fn resolve_data_dir_from(explicit: Option<&Path>, base: &Path) -> Result<PathBuf, DataError> {
    if let Some(path) = explicit {
        return existing_dir(path.to_path_buf(), "the explicit argument");
    }
    if let Some(path) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return existing_dir(PathBuf::from(path), DATA_DIR_ENV);
    }
    let shipped = base.join("data");
    let candidates = [base.join("data/shared"), base.join("../shared/data")];
    if let Some(found) = candidates.iter().find(|c| c.is_dir()) {
        return Ok(found.clone());
    }
    if shipped.join("glue").is_dir() {
        return Ok(shipped);
    }
    let tried = std::iter::once(format!("{DATA_DIR_ENV} (unset)"))
        .chain(
            candidates
                .iter()
                .chain([&shipped])
                .map(|c| c.display().to_string()),
        )
        .collect::<Vec<_>>()
        .join(", ");
    Err(DataError::DataDirNotFound { tried })
}

fn existing_dir(path: PathBuf, origin: &'static str) -> Result<PathBuf, DataError> {
    if path.is_dir() {
        Ok(path)
    } else {
        Err(DataError::DataDirInvalid { path, origin })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_path_wins_and_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let found = resolve_data_dir_from(Some(dir.path()), Path::new("/nonexistent")).unwrap();
        assert_eq!(found, dir.path());

        let missing = dir.path().join("nope");
        let err = resolve_data_dir_from(Some(&missing), dir.path()).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn finds_data_shared_under_base() {
        if std::env::var_os(DATA_DIR_ENV).is_some() {
            eprintln!("note: {DATA_DIR_ENV} is set; skipping the fallback-order test");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let err = resolve_data_dir_from(None, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("glue/RTE/train.tsv") && err.contains(DATA_DIR_ENV),
            "{err}"
        );

        std::fs::create_dir_all(dir.path().join("shared/data")).unwrap();
        let base = dir.path().join("main");
        std::fs::create_dir_all(&base).unwrap();
        let found = resolve_data_dir_from(None, &base).unwrap();
        assert_eq!(found, base.join("../shared/data"));

        std::fs::create_dir_all(base.join("data/shared")).unwrap();
        assert_eq!(
            resolve_data_dir_from(None, &base).unwrap(),
            base.join("data/shared")
        );
    }

    #[test]
    fn the_repository_data_folder_comes_last_and_only_with_its_glue_files() {
        if std::env::var_os(DATA_DIR_ENV).is_some() {
            eprintln!("note: {DATA_DIR_ENV} is set; skipping the fallback-order test");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("clone");
        std::fs::create_dir_all(base.join("data")).unwrap();
        let err = resolve_data_dir_from(None, &base).unwrap_err().to_string();
        assert!(
            err.contains("--data-dir") && err.contains(DATA_DIR_ENV),
            "{err}"
        );
        std::fs::create_dir_all(base.join("data/glue/RTE")).unwrap();
        assert_eq!(
            resolve_data_dir_from(None, &base).unwrap(),
            base.join("data")
        );
        std::fs::create_dir_all(base.join("data/shared")).unwrap();
        assert_eq!(
            resolve_data_dir_from(None, &base).unwrap(),
            base.join("data/shared")
        );
    }
}
