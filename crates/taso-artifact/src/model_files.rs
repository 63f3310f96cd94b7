//! Where a Hugging Face model folder keeps its weights.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::ArtifactError;

/// The safetensors files that hold a model's weights, as Hugging Face loads them:
/// `model.safetensors`, else every shard named by `model.safetensors.index.json` (sorted, once
/// each). Used by everything that reads a base model, with or without libtorch.
pub fn model_weight_files(model_dir: &Path) -> Result<Vec<PathBuf>, ArtifactError> {
    let single = model_dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let not_a_model = |reason: String| ArtifactError::NotAModel {
        path: model_dir.to_path_buf(),
        reason,
    };
    let index = model_dir.join("model.safetensors.index.json");
    if !index.is_file() {
        return Err(not_a_model(
            "it holds no model.safetensors nor model.safetensors.index.json; taso reads safetensors weights: convert a pytorch_model.bin with transformers (`save_pretrained(..., safe_serialization=True)`)".into(),
        ));
    }
    let text = std::fs::read(&index).map_err(|e| ArtifactError::io(&index, e))?;
    let json: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
        not_a_model(format!(
            "model.safetensors.index.json is not valid JSON ({e})"
        ))
    })?;
    let shards: BTreeSet<&str> = json["weight_map"]
        .as_object()
        .ok_or_else(|| {
            not_a_model("model.safetensors.index.json has no `weight_map` object".into())
        })?
        .values()
        .filter_map(serde_json::Value::as_str)
        .collect();
    if shards.is_empty() {
        return Err(not_a_model(
            "model.safetensors.index.json names no shard".into(),
        ));
    }
    Ok(shards.into_iter().map(|s| model_dir.join(s)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sharded_folder_lists_its_shards_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let index = r#"{"weight_map": {"a": "model-00002.safetensors", "b": "model-00001.safetensors", "c": "model-00001.safetensors"}}"#;
        std::fs::write(dir.path().join("model.safetensors.index.json"), index).unwrap();
        let files = model_weight_files(dir.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["model-00001.safetensors", "model-00002.safetensors"]
        );
    }

    #[test]
    fn a_folder_without_weights_says_how_to_fix_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = model_weight_files(dir.path()).unwrap_err().to_string();
        assert!(err.contains("safe_serialization=True"), "{err}");
    }
}
