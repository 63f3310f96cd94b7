//! Reading the weights of a Hugging Face model folder.
//!
//! Accepts `model.safetensors`, or shards listed by `model.safetensors.index.json`; tensors of any
//! float dtype stay in it until taken, and are then converted to the kind the taker asks for (the
//! compute dtype for base weights, f32 for a trained head). Names are normalised: an
//! architecture prefix such as `bert.` is stripped and old-style LayerNorm `gamma`/`beta` become
//! `weight`/`bias`, so that modules see the same paths as in a bare Hugging Face base model.

use crate::error::{ModelError, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// The tensors of a checkpoint, keyed by normalised name, handed out once each.
pub struct WeightMap {
    dir: PathBuf,
    prefix: String,
    arch: String,
    device: Device,
    tensors: HashMap<String, Tensor>,
}

/// The safetensors files that hold a folder's weights (see [`taso_artifact::model_weight_files`]).
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(taso_artifact::model_weight_files(dir)?)
}

impl WeightMap {
    /// Loads every tensor of the folder's weight files onto `device`, each in its stored dtype.
    /// `prefix` is the architecture prefix to strip (`bert`, `roberta`), `arch` names the
    /// architecture in error messages.
    pub fn load(dir: &Path, prefix: &str, arch: &str, device: Device) -> Result<Self> {
        let mut tensors = HashMap::new();
        for file in weight_files(dir)? {
            let loaded = Tensor::read_safetensors(&file).map_err(|e| ModelError::BadWeights {
                path: file.clone(),
                reason: e.to_string(),
            })?;
            for (name, tensor) in loaded {
                tensors.insert(normalise_name(&name, prefix), tensor.to_device(device));
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            arch: arch.to_string(),
            device,
            tensors,
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

    /// Takes the tensor `name` if the checkpoint has it, checking its shape; a float tensor
    /// comes as `kind`.
    pub fn take_optional(
        &mut self,
        name: &str,
        shape: &[i64],
        kind: Kind,
    ) -> Result<Option<Tensor>> {
        let Some(tensor) = self.tensors.remove(name) else {
            return Ok(None);
        };
        if tensor.size() != shape {
            return Err(ModelError::ShapeMismatch {
                name: name.to_string(),
                expected: shape.to_vec(),
                found: tensor.size(),
            });
        }
        Ok(Some(if tensor.is_floating_point() {
            tensor.to_kind(kind)
        } else {
            tensor
        }))
    }

    /// Whether the checkpoint has (and nobody took yet) a tensor `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Device the tensors were loaded onto.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Names of the tensors nobody took, sorted (buffers such as `position_ids`, unused heads).
    pub fn leftover(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tensors.keys().cloned().collect();
        names.sort();
        names
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
