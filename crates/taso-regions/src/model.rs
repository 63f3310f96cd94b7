//! The target matrices of a base model, read from its safetensors headers (no weights loaded,
//! no libtorch): what the dense `lora` baseline adapts.

use std::path::Path;

use taso_artifact::{model_weight_files, read_safetensors_header};

use crate::error::RegionsError;
use taso_artifact::Target;

/// Architecture prefixes that Hugging Face checkpoints may put before module paths.
const PREFIXES: [&str; 2] = ["bert.", "roberta."];
/// Where the numbered blocks are: encoders' `encoder.layer.<n>`, decoders' `model.layers.<n>`.
const BLOCKS: [&str; 2] = ["encoder.layer.", "model.layers."];

/// Every linear weight `encoder.layer.<n>.<path>.weight` (decoders: `model.layers.<n>.…`) of the model in `model_dir` whose
/// path inside the block equals one of `suffixes` (so `output.dense` does not also select
/// `attention.output.dense`; the rule of `RunSettings::is_target`), named without the
/// `bert.`/`roberta.` prefix.
///
/// Ordered by layer, then by the first suffix in `suffixes` that matches (the default
/// `run.targets` lists them in model order), then by name. Reads `model.safetensors`, or the
/// shards named by `model.safetensors.index.json`.
pub fn model_targets(model_dir: &Path, suffixes: &[String]) -> Result<Vec<Target>, RegionsError> {
    let mut found = Vec::new();
    let files = model_weight_files(model_dir).map_err(|source| RegionsError::Artifact {
        what: format!(
            "finding the weights of the base model in {}",
            model_dir.display()
        ),
        source,
    })?;
    for file in files {
        let header = read_safetensors_header(&file).map_err(|source| RegionsError::Artifact {
            what: format!(
                "reading the tensor shapes of the base model in {}",
                model_dir.display()
            ),
            source,
        })?;
        for (name, info) in &header.tensors {
            if let [d_out, d_in] = info.shape[..] {
                found.extend(
                    target_of(name, suffixes)
                        .map(|(key, name)| (key, Target { name, d_out, d_in })),
                );
            }
        }
    }
    if found.is_empty() {
        return Err(RegionsError::NoTargets {
            model: model_dir.to_path_buf(),
            targets: suffixes.to_vec(),
        });
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found.into_iter().map(|(_, target)| target).collect())
}

/// For a target weight: its sort key (layer, suffix position, module path) and module path.
fn target_of(tensor: &str, suffixes: &[String]) -> Option<((usize, usize, String), String)> {
    let name = PREFIXES
        .iter()
        .find_map(|p| tensor.strip_prefix(p))
        .unwrap_or(tensor);
    let module = name.strip_suffix(".weight")?;
    let blocks = BLOCKS.iter().find_map(|b| module.strip_prefix(b))?;
    let (layer, rest) = blocks.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let position = suffixes.iter().position(|s| s == rest)?;
    Some(((layer, position, module.to_string()), module.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suffixes() -> Vec<String> {
        [
            "attention.self.query",
            "attention.output.dense",
            "output.dense",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn targets_are_linear_weights_inside_layers() {
        let key = |t: &str| target_of(t, &suffixes()).map(|(k, name)| (k.0, k.1, name));
        assert_eq!(
            key("bert.encoder.layer.3.attention.self.query.weight"),
            Some((3, 0, "encoder.layer.3.attention.self.query".into()))
        );
        assert_eq!(
            key("roberta.encoder.layer.0.attention.output.dense.weight"),
            Some((0, 1, "encoder.layer.0.attention.output.dense".into()))
        );
        assert_eq!(
            key("encoder.layer.0.output.dense.weight").map(|k| k.1),
            Some(2)
        );
        assert_eq!(key("encoder.layer.0.attention.self.query.bias"), None);
        assert_eq!(key("encoder.layer.0.attention.self.key.weight"), None);
        assert_eq!(key("pooler.dense.weight"), None);
        let decoder = ["self_attn.q_proj".to_string(), "mlp.down_proj".to_string()];
        let key = |t: &str| target_of(t, &decoder).map(|(k, name)| (k.0, k.1, name));
        assert_eq!(
            key("model.layers.2.mlp.down_proj.weight"),
            Some((2, 1, "model.layers.2.mlp.down_proj".into()))
        );
        assert_eq!(key("lm_head.weight"), None);
        assert_eq!(key("encoder.layer.0.xoutput.dense.weight"), None);
    }
}
