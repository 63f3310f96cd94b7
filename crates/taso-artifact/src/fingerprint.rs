//! Base-model fingerprints: a cheap identity for a Hugging Face model folder.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::digest::format_digest;
use crate::error::ArtifactError;
use crate::header::{RawHeader, Source};

/// Number of data samples hashed per weight file.
const SAMPLES: u64 = 16;
/// Bytes per data sample (64 KiB).
const SAMPLE_LEN: u64 = 64 * 1024;
/// Bumped whenever what the fingerprint covers changes.
const DOMAIN: &[u8] = b"taso-model-fingerprint-v1";
/// The shard index of a sharded checkpoint.
const INDEX_FILE: &str = "model.safetensors.index.json";

/// The fingerprint (`"sha256:<hex>"`) of the model in `model_dir`.
///
/// It is the SHA-256 of, in this order, each field prefixed with its length as a u64
/// little-endian where marked *(len)*:
/// 1. the tag `taso-model-fingerprint-v1`;
/// 2. the bytes of `config.json` *(len)*;
/// 3. for every `*.safetensors` file directly in the folder, sorted by file name: its name
///    *(len)*, its size (u64 LE), its safetensors header JSON *(len)*, and the SHA-256 of 16
///    evenly spaced 64 KiB samples of its data region, the first at its start and the last at
///    its end (the whole data region when it is at most 1 MiB).
///
/// So any change to config.json, to tensor names, dtypes, shapes or the metadata of a weight
/// file, or to a file's size changes it, as does any change in a sampled window; a change
/// elsewhere in a file over 1 MiB of data with size and header unchanged does not. It reads
/// about 1 MiB per weight file, so it is fast even on multi-GB models. Tokenizer files are not
/// covered. If `model.safetensors.index.json` is present, every shard it names must exist.
pub fn model_fingerprint(model_dir: &Path) -> Result<String, ArtifactError> {
    if !model_dir.is_dir() {
        return Err(ArtifactError::MissingFile {
            path: model_dir.to_path_buf(),
            needed: None,
        });
    }
    let config = read_config(model_dir)?;
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    put_field(&mut hasher, &config);
    for path in weight_files(model_dir)? {
        hash_weight_file(&mut hasher, &path)?;
    }
    Ok(format_digest(hasher))
}

fn not_a_model(model_dir: &Path, reason: String) -> ArtifactError {
    ArtifactError::NotAModel {
        path: model_dir.to_path_buf(),
        reason,
    }
}

fn read_config(model_dir: &Path) -> Result<Vec<u8>, ArtifactError> {
    let path = model_dir.join("config.json");
    if !path.is_file() {
        return Err(not_a_model(model_dir, "it has no config.json".to_string()));
    }
    fs::read(&path).map_err(|e| ArtifactError::io(&path, e))
}

/// The `*.safetensors` files directly in `model_dir`, sorted by name.
fn weight_files(model_dir: &Path) -> Result<Vec<PathBuf>, ArtifactError> {
    let listing = fs::read_dir(model_dir).map_err(|e| ArtifactError::io(model_dir, e))?;
    let mut names = BTreeSet::new();
    for entry in listing {
        let path = entry.map_err(|e| ArtifactError::io(model_dir, e))?.path();
        let is_weights = path.extension().is_some_and(|ext| ext == "safetensors");
        if is_weights && path.is_file() {
            names.extend(path.file_name().map(|n| n.to_string_lossy().into_owned()));
        }
    }
    if names.is_empty() {
        return Err(not_a_model(
            model_dir,
            "it has no *.safetensors weight file".to_string(),
        ));
    }
    check_index_shards(model_dir, &names)?;
    Ok(names.iter().map(|name| model_dir.join(name)).collect())
}

/// Every shard named by the index file, when there is one, must be among `names`.
fn check_index_shards(model_dir: &Path, names: &BTreeSet<String>) -> Result<(), ArtifactError> {
    let index_path = model_dir.join(INDEX_FILE);
    if !index_path.is_file() {
        return Ok(());
    }
    let text = fs::read(&index_path).map_err(|e| ArtifactError::io(&index_path, e))?;
    let index: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| not_a_model(model_dir, format!("{INDEX_FILE} is not valid JSON ({e})")))?;
    let shards = index
        .get("weight_map")
        .and_then(serde_json::Value::as_object)
        .ok_or_else(|| not_a_model(model_dir, format!("{INDEX_FILE} has no weight_map")))?;
    let missing = shards
        .values()
        .filter_map(serde_json::Value::as_str)
        .find(|shard| !names.contains(*shard));
    match missing {
        Some(shard) => Err(not_a_model(
            model_dir,
            format!("{INDEX_FILE} names the shard {shard}, which is missing"),
        )),
        None => Ok(()),
    }
}

fn hash_weight_file(hasher: &mut Sha256, path: &Path) -> Result<(), ArtifactError> {
    let file = File::open(path).map_err(|e| ArtifactError::io(path, e))?;
    let header = RawHeader::read(&file, Source { path, needed: None })?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    put_field(hasher, name.as_bytes());
    hasher.update(header.file_len.to_le_bytes());
    put_field(hasher, &header.json);
    let samples = sample_digest(&file, header.data_start, header.file_len)
        .map_err(|e| ArtifactError::io(path, e))?;
    hasher.update(samples);
    Ok(())
}

/// The SHA-256 of the sample windows of the data region `[start, end)`.
fn sample_digest(file: &File, start: u64, end: u64) -> std::io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = Vec::new();
    for (offset, len) in sample_windows(start, end) {
        buf.resize(len as usize, 0);
        file.read_exact_at(&mut buf, offset)?;
        hasher.update(&buf);
    }
    Ok(hasher.finalize().into())
}

/// `(offset, len)` of the sampled windows: the whole region when it is small, otherwise
/// `SAMPLES` windows of `SAMPLE_LEN` from the start to the end of the region.
fn sample_windows(start: u64, end: u64) -> Vec<(u64, u64)> {
    let len = end - start;
    if len <= SAMPLES * SAMPLE_LEN {
        return vec![(start, len)];
    }
    let last = u128::from(len - SAMPLE_LEN);
    (0..SAMPLES)
        .map(|i| {
            let step = last * u128::from(i) / u128::from(SAMPLES - 1);
            // `step <= last < len`, so it fits in u64.
            (start + step as u64, SAMPLE_LEN)
        })
        .collect()
}

/// Hashes `bytes` prefixed with their length, so that consecutive fields cannot run together.
fn put_field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_regions_are_hashed_whole() {
        assert_eq!(sample_windows(8, 108), vec![(8, 100)]);
        assert_eq!(sample_windows(8, 8), vec![(8, 0)]);
    }

    #[test]
    fn large_regions_are_sampled_from_start_to_end() {
        let (start, end) = (100, 100 + 10 * SAMPLES * SAMPLE_LEN + 7);
        let windows = sample_windows(start, end);
        assert_eq!(windows.len(), SAMPLES as usize);
        assert_eq!(windows[0], (start, SAMPLE_LEN));
        let (last_offset, last_len) = windows[windows.len() - 1];
        assert_eq!(last_offset + last_len, end);
        assert!(windows.windows(2).all(|w| w[0].0 + SAMPLE_LEN <= w[1].0));
    }
}
