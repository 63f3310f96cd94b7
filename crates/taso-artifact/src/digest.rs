//! File digests: `sha256:<hex>` of a file's bytes, used to link an artifact to its parent.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::ArtifactError;

/// Bytes hashed per read.
const CHUNK: usize = 1 << 20;

/// The digest of the file at `path`: `"sha256:"` followed by the lowercase hex SHA-256 of its
/// bytes, streamed in 1 MiB chunks.
pub fn file_digest(path: &Path) -> Result<String, ArtifactError> {
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ArtifactError::MissingFile {
            path: path.to_path_buf(),
            needed: None,
        },
        _ => ArtifactError::io(path, e),
    })?;
    digest_of_open_file(&file).map_err(|e| ArtifactError::io(path, e))
}

/// [`file_digest`] of an open file, with positional reads (the file cursor is not used).
pub(crate) fn digest_of_open_file(file: &File) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut offset = 0u64;
    loop {
        match file.read_at(&mut buf, offset) {
            Ok(0) => return Ok(format_digest(hasher)),
            Ok(n) => {
                hasher.update(&buf[..n]);
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Formats a finished hash as `sha256:<hex>`.
pub(crate) fn format_digest(hasher: Sha256) -> String {
    format!("sha256:{}", hex::encode(hasher.finalize()))
}
