//! The model's hyperparameters from the GGUF metadata, and the Hugging Face `config.json`
//! and `generation_config.json` they become.

use serde_json::{json, Map, Value};

use crate::error::GgufError;
use crate::metadata::Metadata;
use crate::names::PermutedHeads;

/// The architectures this crate imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// LLaMA (and Mistral-style files that call themselves llama); q/k rows are permuted.
    Llama,
    /// Qwen2: LLaMA with q/k/v biases and no q/k permutation.
    Qwen2,
}

impl Architecture {
    /// The architecture named by `general.architecture`.
    pub fn from_metadata(metadata: &Metadata) -> Result<Architecture, GgufError> {
        match metadata.str("general.architecture")? {
            "llama" => Ok(Architecture::Llama),
            "qwen2" => Ok(Architecture::Qwen2),
            other => Err(GgufError::UnsupportedArchitecture {
                architecture: other.to_string(),
            }),
        }
    }

    /// The GGUF key prefix and Hugging Face `model_type`.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
        }
    }

    fn hf_class(self) -> &'static str {
        match self {
            Architecture::Llama => "LlamaForCausalLM",
            Architecture::Qwen2 => "Qwen2ForCausalLM",
        }
    }
}

/// Special token ids from `tokenizer.ggml.*_token_id`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpecialIds {
    /// Beginning of sequence.
    pub bos: Option<u64>,
    /// End of sequence.
    pub eos: Option<u64>,
    /// Padding.
    pub pad: Option<u64>,
    /// Unknown token.
    pub unk: Option<u64>,
}

impl SpecialIds {
    /// Reads the ids present in `metadata`.
    pub fn from_metadata(metadata: &Metadata) -> Result<SpecialIds, GgufError> {
        let id = |name: &str| metadata.opt_u64(&format!("tokenizer.ggml.{name}_token_id"));
        Ok(SpecialIds {
            bos: id("bos")?,
            eos: id("eos")?,
            pad: id("padding")?,
            unk: id("unknown")?,
        })
    }
}

/// The hyperparameters of a llama-family model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Which architecture.
    pub architecture: Architecture,
    /// Vocabulary size.
    pub vocab_size: u64,
    /// Residual width.
    pub hidden_size: u64,
    /// SwiGLU width.
    pub intermediate_size: u64,
    /// Decoder layers.
    pub num_hidden_layers: u64,
    /// Query heads.
    pub num_attention_heads: u64,
    /// Key/value heads (grouped-query attention when fewer than the query heads).
    pub num_key_value_heads: u64,
    /// Width of one head.
    pub head_dim: u64,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// `rope_scaling` for config.json, when the file sets a scaling type.
    pub rope_scaling: Option<Value>,
    /// Training context length.
    pub max_position_embeddings: u64,
    /// Whether the output projection reuses the token embedding.
    pub tie_word_embeddings: bool,
    /// Special token ids.
    pub special: SpecialIds,
}

impl ModelConfig {
    /// Reads the hyperparameters; `vocab_len` is the length of the token list, used when the
    /// file has no `<arch>.vocab_size`; `has_output` says whether `output.weight` exists.
    pub fn from_metadata(
        metadata: &Metadata,
        vocab_len: u64,
        has_output: bool,
    ) -> Result<ModelConfig, GgufError> {
        let architecture = Architecture::from_metadata(metadata)?;
        let key = |suffix: &str| format!("{}.{suffix}", architecture.name());
        let hidden_size = metadata.u64(&key("embedding_length"))?;
        let num_attention_heads = metadata.u64(&key("attention.head_count"))?;
        let head_dim = match metadata.opt_u64(&key("attention.key_length"))? {
            Some(dim) => dim,
            None => hidden_size / num_attention_heads.max(1),
        };
        Ok(ModelConfig {
            architecture,
            vocab_size: metadata.opt_u64(&key("vocab_size"))?.unwrap_or(vocab_len),
            hidden_size,
            intermediate_size: metadata.u64(&key("feed_forward_length"))?,
            num_hidden_layers: metadata.u64(&key("block_count"))?,
            num_attention_heads,
            num_key_value_heads: metadata
                .opt_u64(&key("attention.head_count_kv"))?
                .unwrap_or(num_attention_heads),
            head_dim,
            rms_norm_eps: metadata.f64(&key("attention.layer_norm_rms_epsilon"))?,
            rope_theta: metadata
                .opt_f64(&key("rope.freq_base"))?
                .unwrap_or(10_000.0),
            rope_scaling: rope_scaling(metadata, &key)?,
            max_position_embeddings: metadata.u64(&key("context_length"))?,
            tie_word_embeddings: !has_output,
            special: SpecialIds::from_metadata(metadata)?,
        })
    }

    /// The head counts for undoing the q/k permutation (`None` for Qwen2, which is not permuted).
    pub fn permuted_heads(&self) -> Option<PermutedHeads> {
        (self.architecture == Architecture::Llama).then_some(PermutedHeads {
            q: self.num_attention_heads as usize,
            k: self.num_key_value_heads as usize,
        })
    }

    /// The Hugging Face `config.json`.
    pub fn to_hf_config(&self) -> Value {
        let mut config = json!({
            "architectures": [self.architecture.hf_class()],
            "model_type": self.architecture.name(),
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": self.rope_scaling,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "attention_bias": self.architecture == Architecture::Qwen2,
            "mlp_bias": false,
            "torch_dtype": "float32",
        });
        insert_special_ids(config.as_object_mut().expect("object"), self.special);
        config
    }

    /// The Hugging Face `generation_config.json`.
    pub fn to_generation_config(&self) -> Value {
        let mut config = Map::new();
        insert_special_ids(&mut config, self.special);
        Value::Object(config)
    }
}

fn insert_special_ids(config: &mut Map<String, Value>, ids: SpecialIds) {
    for (key, id) in [
        ("bos_token_id", ids.bos),
        ("eos_token_id", ids.eos),
        ("pad_token_id", ids.pad),
    ] {
        if let Some(id) = id {
            config.insert(key.to_string(), id.into());
        }
    }
}

/// `rope_scaling` from `<arch>.rope.scaling.{type,factor,original_context_length}`; `None`
/// when the type is absent or `none`.
fn rope_scaling(
    metadata: &Metadata,
    key: &impl Fn(&str) -> String,
) -> Result<Option<Value>, GgufError> {
    let Some(kind) = metadata.opt_str(&key("rope.scaling.type"))? else {
        return Ok(None);
    };
    if kind == "none" {
        return Ok(None);
    }
    let mut scaling = json!({
        "rope_type": kind,
        "factor": metadata.f64(&key("rope.scaling.factor"))?,
    });
    if let Some(original) = metadata.opt_u64(&key("rope.scaling.original_context_length"))? {
        scaling["original_max_position_embeddings"] = original.into();
    }
    Ok(Some(scaling))
}
