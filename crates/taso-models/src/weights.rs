//! Reading the weights of a Hugging Face model folder.
//!
//! Accepts `model.safetensors`, or shards listed by `model.safetensors.index.json`. Only the
//! headers are read up front; each tensor is read from its file when it is taken, converted to
//! the kind the taker asks for (the compute dtype for base weights, f32 for a trained head) and
//! moved to the device, so the host never holds more than one tensor of the checkpoint and a
//! bf16 model never exists in f32. Names are normalised: an architecture prefix such as `bert.`
//! is stripped and old-style LayerNorm `gamma`/`beta` become `weight`/`bias`, so that modules
//! see the same paths as in a bare Hugging Face base model.

use crate::error::{ModelError, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use taso_artifact::SafetensorsFile;
use tch::{Device, Kind, Tensor};

/// The tensors of a checkpoint, keyed by normalised name, handed out once each.
pub struct WeightMap {
    dir: PathBuf,
    prefix: String,
    arch: String,
    device: Device,
    files: Vec<SafetensorsFile>,
    /// Normalised name → (index into `files`, the name stored in that file).
    index: HashMap<String, (usize, String)>,
}

/// The safetensors files that hold a folder's weights (see [`taso_artifact::model_weight_files`]).
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(taso_artifact::model_weight_files(dir)?)
}

impl WeightMap {
    /// Opens the folder's weight files and reads their headers; tensors are read as they are
    /// taken, onto `device`. `prefix` is the architecture prefix to strip (`bert`, `roberta`),
    /// `arch` names the architecture in error messages.
    pub fn load(dir: &Path, prefix: &str, arch: &str, device: Device) -> Result<Self> {
        let mut files = Vec::new();
        let mut index = HashMap::new();
        for path in weight_files(dir)? {
            let file = SafetensorsFile::open(&path).map_err(|e| bad_weights(&path, e))?;
            for name in file.tensor_names() {
                index.insert(
                    normalise_name(name, prefix),
                    (files.len(), name.to_string()),
                );
            }
            files.push(file);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            arch: arch.to_string(),
            device,
            files,
            index,
        })
    }

    /// Takes the tensor `name`, checking its shape; a float tensor comes as `kind`.
    pub fn take(&mut self, name: &str, shape: &[i64], kind: Kind) -> Result<Tensor> {
        let tensor = self.take_optional(name, shape, kind)?;
        tensor.ok_or_else(|| ModelError::MissingTensor {
            dir: self.dir.clone(),
            name: name.to_string(),
            prefix: self.prefix.clone(),
            arch: self.arch.clone(),
        })
    }

    /// Takes the tensor `name` if the checkpoint has it, checking its shape (before reading
    /// it); a float tensor comes as `kind`.
    pub fn take_optional(
        &mut self,
        name: &str,
        shape: &[i64],
        kind: Kind,
    ) -> Result<Option<Tensor>> {
        let Some((at, stored)) = self.index.remove(name) else {
            return Ok(None);
        };
        let file = &self.files[at];
        let found: Vec<i64> = file
            .tensor_info(&stored)
            .map(|info| info.shape.iter().map(|&d| d as i64).collect())
            .unwrap_or_default();
        if found != shape {
            return Err(ModelError::ShapeMismatch {
                name: name.to_string(),
                expected: shape.to_vec(),
                found,
            });
        }
        let read = |e| bad_weights(file.path(), e);
        let tensor = file
            .tensor(&stored)
            .and_then(|t| t.to_tch())
            .map_err(read)?;
        let tensor = if tensor.is_floating_point() {
            tensor.to_kind(kind)
        } else {
            tensor
        };
        Ok(Some(tensor.to_device(self.device)))
    }

    /// Whether the checkpoint has (and nobody took yet) a tensor `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Device the tensors are loaded onto.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Names of the tensors nobody took, sorted (buffers such as `position_ids`, unused heads).
    pub fn leftover(&self) -> Vec<String> {
        let mut names: Vec<String> = self.index.keys().cloned().collect();
        names.sort();
        names
    }
}

fn bad_weights(path: &Path, error: taso_artifact::ArtifactError) -> ModelError {
    ModelError::BadWeights {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

/// Strips the architecture prefix and renames old-style LayerNorm parameters.
fn normalise_name(name: &str, prefix: &str) -> String {
    let name = name.strip_prefix(&format!("{prefix}.")).unwrap_or(name);
    if let Some(stem) = name.strip_suffix(".gamma") {
        format!("{stem}.weight")
    } else if let Some(stem) = name.strip_suffix(".beta") {
        format!("{stem}.bias")
    } else {
        name.to_string()
    }
}

/// Reads `dir/config.json` as `T`; a missing or malformed file is an error naming it. Returns
/// the path too, for the caller's own validation errors.
pub(crate) fn read_config_json<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<(T, PathBuf)> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io {
        path: path.clone(),
        source,
    })?;
    match serde_json::from_str(&text) {
        Ok(value) => Ok((value, path)),
        Err(e) => Err(ModelError::BadConfig {
            path,
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised() {
        assert_eq!(
            normalise_name("bert.encoder.layer.0.x.weight", "bert"),
            "encoder.layer.0.x.weight"
        );
        assert_eq!(
            normalise_name("embeddings.LayerNorm.gamma", "bert"),
            "embeddings.LayerNorm.weight"
        );
        assert_eq!(normalise_name("classifier.bias", "bert"), "classifier.bias");
        assert_eq!(
            normalise_name("roberta.pooler.dense.beta", "roberta"),
            "pooler.dense.bias"
        );
    }
}
