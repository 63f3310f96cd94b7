//! Telling encoder and decoder folders apart by their `config.json`.

use crate::decoder::DecoderArch;
use crate::error::{ModelError, Result};
use crate::weights::read_config_json;
use std::path::Path;

/// The kind of model a Hugging Face folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFamily {
    /// BERT or RoBERTa ([`crate::Encoder`]).
    Encoder,
    /// LLaMA, Mistral or Qwen2 ([`crate::CausalLm`]).
    Decoder(DecoderArch),
}

impl ModelFamily {
    /// Reads `model_type` from `dir/config.json`.
    pub fn of_dir(dir: &Path) -> Result<Self> {
        let (config, path): (serde_json::Value, _) = read_config_json(dir)?;
        let bad = |reason: String| ModelError::BadConfig {
            path: path.clone(),
            reason,
        };
        let model_type = config
            .get("model_type")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| bad("no `model_type` string".to_string()))?;
        match model_type {
            "bert" | "roberta" => Ok(Self::Encoder),
            other => DecoderArch::from_model_type(other)
                .map(Self::Decoder)
                .ok_or_else(|| {
                    bad(format!(
                        "model_type `{other}` is not a model taso implements (bert, roberta, llama, mistral, qwen2)"
                    ))
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_the_families_apart_and_names_unknown_types() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        for (model_type, family) in [
            ("roberta", ModelFamily::Encoder),
            ("qwen2", ModelFamily::Decoder(DecoderArch::Qwen2)),
        ] {
            std::fs::write(&config, format!(r#"{{"model_type": "{model_type}"}}"#)).unwrap();
            assert_eq!(ModelFamily::of_dir(dir.path()).unwrap(), family);
        }
        std::fs::write(&config, r#"{"model_type": "gpt2"}"#).unwrap();
        let err = ModelFamily::of_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("gpt2") && err.contains("config.json"), "{err}");
    }
}
