//! Test helpers (feature `testing`, for tests only): sample artifacts and plain safetensors
//! files to read back.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::{write_artifact, ArtifactKind, ArtifactMeta, TensorData};
use safetensors::tensor::TensorView;
use safetensors::Dtype;

pub const MODEL: &str = "sha256:model-a";

/// Importance metadata as `taso-score` would write it.
pub fn importance_meta() -> ArtifactMeta {
    let config = serde_json::json!({ "estimator": "sum-abs", "batches": 4, "store": "full" });
    ArtifactMeta::new(
        ArtifactKind::Importance,
        "taso-score",
        "0.1.0",
        MODEL,
        "rte",
        &config,
    )
    .unwrap()
    .with_extra("examples", "512")
}

/// A few tensors of different dtypes.
pub fn sample_tensors() -> Vec<(String, TensorData)> {
    vec![
        (
            "layer0.q.scores".to_string(),
            TensorData::from_f32([2, 3], &[0.5, -1.0, 2.0, 0.0, 3.5, -0.25]).unwrap(),
        ),
        (
            "layer0.q.rows".to_string(),
            TensorData::from_i64([3], &[0, 4, 7]).unwrap(),
        ),
        (
            "layer0.q.mask".to_string(),
            TensorData::from_u8([2], &[1, 0]).unwrap(),
        ),
    ]
}

/// Writes the sample importance artifact into `dir`; returns its path and digest.
pub fn write_sample(dir: &Path) -> (PathBuf, String) {
    let path = dir.join("importance.safetensors");
    let digest = write_artifact(&path, &importance_meta(), &sample_tensors()).unwrap();
    (path, digest)
}

/// Writes a safetensors file with the `safetensors` crate itself (not this crate's writer).
pub fn write_plain(path: &Path, metadata: Option<HashMap<String, String>>) {
    let bytes: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let view = TensorView::new(Dtype::F32, vec![2, 2], &bytes).unwrap();
    let file = safetensors::serialize([("weight", view)], metadata).unwrap();
    fs::write(path, file).unwrap();
}

/// Names of the files in `dir`, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
