//! The model's hyperparameters from the GGUF metadata, and the Hugging Face `config.json`
//! and `generation_config.json` they become; and back, from `config.json` to the GGUF metadata.

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::error::GgufError;
use crate::metadata::{Metadata, MetadataValue};
use crate::names::PermutedHeads;

/// The `rope_scaling` types that llama.cpp's `llama` and `qwen2` architectures take from
/// `<arch>.rope.scaling.type`.
const ROPE_SCALING_TYPES: [&str; 2] = ["linear", "yarn"];

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

    /// The architecture of a Hugging Face `model_type`.
    fn from_model_type(model_type: &str) -> Option<Architecture> {
        match model_type {
            "llama" => Some(Architecture::Llama),
            "qwen2" => Some(Architecture::Qwen2),
            _ => None,
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

    /// Reads the hyperparameters from a Hugging Face `config.json` (`config`, read from
    /// `path`), the reverse of [`to_hf_config`](Self::to_hf_config): `model_type` must be
    /// `llama` or `qwen2`, and `rope_scaling` absent or of a type llama.cpp reads from the
    /// metadata (linear, yarn). The special ids are left unset: they come from the tokenizer.
    pub fn from_hf_config(config: &Value, path: &Path) -> Result<ModelConfig, GgufError> {
        let invalid = |reason: String| GgufError::InvalidModelFile {
            path: path.to_path_buf(),
            reason,
        };
        let model_type = config["model_type"].as_str();
        let architecture = model_type
            .and_then(Architecture::from_model_type)
            .ok_or_else(|| {
                invalid(format!(
                    "model_type {} is not supported; only llama and qwen2 models can be written as GGUF",
                    model_type.map_or("absent".to_string(), |m| format!("'{m}'"))
                ))
            })?;
        let uint = |key: &str| {
            config[key]
                .as_u64()
                .filter(|&v| v > 0)
                .ok_or_else(|| invalid(format!("'{key}' is missing or not a positive integer")))
        };
        let optional_uint = |key: &str| match &config[key] {
            Value::Null => Ok(None),
            _ => uint(key).map(Some),
        };
        let number = |key: &str| {
            config[key]
                .as_f64()
                .ok_or_else(|| invalid(format!("'{key}' is missing or not a number")))
        };
        let hidden_size = uint("hidden_size")?;
        let num_attention_heads = uint("num_attention_heads")?;
        Ok(ModelConfig {
            architecture,
            vocab_size: uint("vocab_size")?,
            hidden_size,
            intermediate_size: uint("intermediate_size")?,
            num_hidden_layers: uint("num_hidden_layers")?,
            num_attention_heads,
            num_key_value_heads: optional_uint("num_key_value_heads")?
                .unwrap_or(num_attention_heads),
            head_dim: optional_uint("head_dim")?.unwrap_or(hidden_size / num_attention_heads),
            rms_norm_eps: number("rms_norm_eps")?,
            rope_theta: match &config["rope_theta"] {
                Value::Null => 10_000.0,
                _ => number("rope_theta")?,
            },
            rope_scaling: hf_rope_scaling(&config["rope_scaling"]).map_err(invalid)?,
            max_position_embeddings: uint("max_position_embeddings")?,
            tie_word_embeddings: config["tie_word_embeddings"].as_bool().unwrap_or(false),
            special: SpecialIds::default(),
        })
    }

    /// The GGUF metadata of the hyperparameters under `<arch>.`, the reverse of
    /// [`from_metadata`](Self::from_metadata); `attention.key_length` and `value_length` only
    /// when `head_dim` is not `hidden_size / num_attention_heads`, as llama.cpp derives it.
    pub fn to_gguf_metadata(&self) -> Vec<(String, MetadataValue)> {
        let key = |suffix: &str| format!("{}.{suffix}", self.architecture.name());
        let mut entries = vec![
            (key("context_length"), uint(self.max_position_embeddings)),
            (key("embedding_length"), uint(self.hidden_size)),
            (key("block_count"), uint(self.num_hidden_layers)),
            (key("feed_forward_length"), uint(self.intermediate_size)),
            (key("attention.head_count"), uint(self.num_attention_heads)),
            (
                key("attention.head_count_kv"),
                uint(self.num_key_value_heads),
            ),
            (
                key("attention.layer_norm_rms_epsilon"),
                MetadataValue::F32(self.rms_norm_eps as f32),
            ),
            (
                key("rope.freq_base"),
                MetadataValue::F32(self.rope_theta as f32),
            ),
            (key("rope.dimension_count"), uint(self.head_dim)),
            (key("vocab_size"), uint(self.vocab_size)),
        ];
        if self.head_dim != self.hidden_size / self.num_attention_heads.max(1) {
            entries.push((key("attention.key_length"), uint(self.head_dim)));
            entries.push((key("attention.value_length"), uint(self.head_dim)));
        }
        if let Some(scaling) = &self.rope_scaling {
            let kind = scaling["rope_type"].as_str().unwrap_or_default();
            entries.push((
                key("rope.scaling.type"),
                MetadataValue::String(kind.to_string()),
            ));
            let factor = scaling["factor"].as_f64().unwrap_or(1.0);
            entries.push((
                key("rope.scaling.factor"),
                MetadataValue::F32(factor as f32),
            ));
            if let Some(original) = scaling["original_max_position_embeddings"].as_u64() {
                entries.push((key("rope.scaling.original_context_length"), uint(original)));
            }
        }
        entries
    }
}

/// A GGUF unsigned integer: u32 as llama.cpp writes them, u64 beyond.
fn uint(value: u64) -> MetadataValue {
    u32::try_from(value).map_or(MetadataValue::U64(value), MetadataValue::U32)
}

/// `rope_scaling` of a Hugging Face config in the importer's form (`rope_type`, `factor`,
/// `original_max_position_embeddings` when present); `None` when absent, or why llama.cpp
/// cannot take it from the metadata.
fn hf_rope_scaling(scaling: &Value) -> Result<Option<Value>, String> {
    if scaling.is_null() {
        return Ok(None);
    }
    let kind = scaling["rope_type"]
        .as_str()
        .or_else(|| scaling["type"].as_str())
        .unwrap_or("absent");
    if kind == "default" || kind == "none" {
        return Ok(None);
    }
    if !ROPE_SCALING_TYPES.contains(&kind) {
        return Err(format!(
            "rope_scaling type '{kind}' cannot be written as GGUF metadata (supported: {})",
            ROPE_SCALING_TYPES.join(", ")
        ));
    }
    let factor = scaling["factor"]
        .as_f64()
        .ok_or("rope_scaling has no numeric 'factor'")?;
    let mut out = json!({ "rope_type": kind, "factor": factor });
    if let Some(original) = scaling["original_max_position_embeddings"].as_u64() {
        out["original_max_position_embeddings"] = original.into();
    }
    Ok(Some(out))
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
