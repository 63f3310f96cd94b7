//! `config.json` of BERT-family checkpoints.

use crate::error::{ModelError, Result};
use crate::weights::read_config_json;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The encoder families this crate implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderArch {
    /// BERT (and BERT-shaped checkpoints such as MiniLM): token types, pooler.
    Bert,
    /// RoBERTa: positions offset by `pad_token_id + 1`, no pooler in the classification head.
    Roberta,
}

impl EncoderArch {
    /// The prefix Hugging Face task models put before the base model's tensors.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Bert => "bert",
            Self::Roberta => "roberta",
        }
    }
}

/// The activation of the feed-forward block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Exact GELU (erf), Hugging Face's `gelu`.
    Gelu,
    /// Tanh-approximated GELU (`gelu_new`, `gelu_pytorch_tanh`).
    #[serde(alias = "gelu_pytorch_tanh")]
    GeluNew,
    /// ReLU.
    Relu,
    /// SiLU / swish.
    #[serde(alias = "swish")]
    Silu,
}

/// The fields of a BERT/RoBERTa `config.json` that the encoder uses.
#[derive(Debug, Clone, Deserialize)]
pub struct EncoderConfig {
    /// `bert`, `roberta` (others are refused).
    pub model_type: String,
    /// Vocabulary size.
    pub vocab_size: i64,
    /// Hidden size.
    pub hidden_size: i64,
    /// Number of transformer blocks.
    pub num_hidden_layers: i64,
    /// Attention heads per block.
    pub num_attention_heads: i64,
    /// Feed-forward inner size.
    pub intermediate_size: i64,
    /// Feed-forward activation.
    #[serde(default = "default_act")]
    pub hidden_act: Activation,
    /// Dropout on hidden states.
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities.
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Dropout before the classification head; `hidden_dropout_prob` when absent.
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
    /// Size of the position table.
    pub max_position_embeddings: i64,
    /// Size of the token-type table.
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: i64,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Padding token id (RoBERTa positions depend on it).
    #[serde(default)]
    pub pad_token_id: i64,
    /// Standard deviation for freshly initialised layers.
    #[serde(default = "default_init")]
    pub initializer_range: f64,
    /// Only `absolute` is supported (transformers 5 no longer writes the key).
    #[serde(default = "default_position_type")]
    pub position_embedding_type: String,
    /// Class names of a fine-tuned checkpoint's head, if any.
    #[serde(default)]
    pub id2label: Option<BTreeMap<String, String>>,
    /// `regression` for a one-output regression head.
    #[serde(default)]
    pub problem_type: Option<String>,
}

fn default_act() -> Activation {
    Activation::Gelu
}
fn default_dropout() -> f64 {
    0.1
}
fn default_type_vocab() -> i64 {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_init() -> f64 {
    0.02
}
fn default_position_type() -> String {
    "absolute".to_string()
}

impl EncoderConfig {
    /// Reads and validates `dir/config.json`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let (config, path): (Self, _) = read_config_json(dir)?;
        config
            .validate()
            .map_err(|reason| ModelError::BadConfig { path, reason })?;
        Ok(config)
    }

    /// The architecture family named by `model_type`.
    pub fn arch(&self) -> EncoderArch {
        if self.model_type == "roberta" {
            EncoderArch::Roberta
        } else {
            EncoderArch::Bert
        }
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> i64 {
        self.hidden_size / self.num_attention_heads
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if !matches!(self.model_type.as_str(), "bert" | "roberta") {
            return Err(format!(
                "model_type `{}` is not an encoder taso implements (bert, roberta)",
                self.model_type
            ));
        }
        if self.position_embedding_type != "absolute" {
            return Err(format!(
                "position_embedding_type `{}` is not supported (only `absolute`)",
                self.position_embedding_type
            ));
        }
        if self.num_attention_heads <= 0 || self.hidden_size % self.num_attention_heads != 0 {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_config(json: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), json).unwrap();
        dir
    }

    const BASE: &str = r#""vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 20"#;

    #[test]
    fn reads_a_bert_config_with_defaults() {
        let dir = write_config(&format!(r#"{{"model_type": "bert", {BASE}}}"#));
        let config = EncoderConfig::from_dir(dir.path()).unwrap();
        assert_eq!(config.arch(), EncoderArch::Bert);
        assert_eq!(config.hidden_act, Activation::Gelu);
        assert_eq!(config.head_dim(), 4);
    }

    #[test]
    fn refuses_other_architectures_and_options() {
        let dir = write_config(&format!(r#"{{"model_type": "llama", {BASE}}}"#));
        let err = EncoderConfig::from_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("llama") && err.contains("config.json"),
            "{err}"
        );
        let dir = write_config(&format!(
            r#"{{"model_type": "bert", "position_embedding_type": "relative_key", {BASE}}}"#
        ));
        assert!(EncoderConfig::from_dir(dir.path())
            .unwrap_err()
            .to_string()
            .contains("relative_key"));
    }

    #[test]
    fn missing_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = EncoderConfig::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
    }
}
