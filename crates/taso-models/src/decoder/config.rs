//! `config.json` of LLaMA-family checkpoints (LLaMA, Mistral, Qwen2), validated.

use crate::error::{ModelError, Result};
use crate::weights::read_config_json;
use serde::Deserialize;
use std::path::Path;

/// The decoder families this crate implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderArch {
    /// LLaMA (1–3, SmolLM, ...): optional biases on all attention projections.
    Llama,
    /// Mistral: LLaMA with a sliding attention window.
    Mistral,
    /// Qwen2 / Qwen2.5: biases on the q/k/v projections only.
    Qwen2,
}

impl DecoderArch {
    /// The family named by a `model_type`, if this crate implements it.
    pub fn from_model_type(model_type: &str) -> Option<Self> {
        match model_type {
            "llama" => Some(Self::Llama),
            "mistral" => Some(Self::Mistral),
            "qwen2" => Some(Self::Qwen2),
            _ => None,
        }
    }
}

/// Llama-3 style RoPE frequency scaling (`rope_scaling` with `rope_type: llama3`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Llama3RopeScaling {
    /// Divisor of the low frequencies.
    pub factor: f64,
    /// Wavelengths above `original_max_position_embeddings / low_freq_factor` are divided by `factor`.
    pub low_freq_factor: f64,
    /// Wavelengths below `original_max_position_embeddings / high_freq_factor` are kept.
    pub high_freq_factor: f64,
    /// Context length the model was pre-trained with.
    pub original_max_position_embeddings: f64,
}

/// One or several token ids (`eos_token_id` may be either in `config.json`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum TokenIds {
    One(i64),
    Many(Vec<i64>),
}

/// `config.json` as written, before validation.
#[derive(Debug, Deserialize)]
struct RawConfig {
    model_type: String,
    vocab_size: i64,
    hidden_size: i64,
    intermediate_size: i64,
    num_hidden_layers: i64,
    num_attention_heads: i64,
    num_key_value_heads: Option<i64>,
    head_dim: Option<i64>,
    #[serde(default = "default_act")]
    hidden_act: String,
    #[serde(default = "default_eps")]
    rms_norm_eps: f64,
    #[serde(default = "default_theta")]
    rope_theta: f64,
    #[serde(default)]
    rope_scaling: Option<serde_json::Value>,
    #[serde(default)]
    rope_parameters: Option<serde_json::Value>,
    #[serde(default = "default_positions")]
    max_position_embeddings: i64,
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    mlp_bias: bool,
    #[serde(default)]
    sliding_window: Option<i64>,
    #[serde(default)]
    use_sliding_window: bool,
    #[serde(default)]
    bos_token_id: Option<i64>,
    #[serde(default)]
    eos_token_id: Option<TokenIds>,
    #[serde(default)]
    pad_token_id: Option<i64>,
}

fn default_act() -> String {
    "silu".to_string()
}
fn default_eps() -> f64 {
    1e-6
}
fn default_theta() -> f64 {
    10_000.0
}
fn default_positions() -> i64 {
    2048
}

/// The validated configuration of a LLaMA-family decoder.
#[derive(Debug, Clone, PartialEq)]
pub struct DecoderConfig {
    /// Architecture family (`model_type`).
    pub arch: DecoderArch,
    /// Vocabulary size.
    pub vocab_size: i64,
    /// Hidden size.
    pub hidden_size: i64,
    /// SwiGLU inner size.
    pub intermediate_size: i64,
    /// Number of decoder blocks.
    pub num_hidden_layers: i64,
    /// Query heads.
    pub num_attention_heads: i64,
    /// Key/value heads (grouped-query attention when fewer than query heads).
    pub num_key_value_heads: i64,
    /// Width of one head (`head_dim`, else `hidden_size / num_attention_heads`).
    pub head_dim: i64,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// Llama-3 frequency scaling, if any.
    pub rope_scaling: Option<Llama3RopeScaling>,
    /// Longest sequence the model was trained for.
    pub max_position_embeddings: i64,
    /// Whether `lm_head` shares the token embedding matrix.
    pub tie_word_embeddings: bool,
    /// Biases on q/k/v (LLaMA `attention_bias`; always for Qwen2).
    pub qkv_bias: bool,
    /// Bias on o_proj (LLaMA/Mistral `attention_bias`; never for Qwen2).
    pub o_bias: bool,
    /// Biases on gate/up/down (LLaMA `mlp_bias`).
    pub mlp_bias: bool,
    /// Sliding attention window (Mistral; Qwen2 with `use_sliding_window`). Sequences no longer
    /// than the window attend exactly as with full attention, so the model runs them with full
    /// attention and refuses longer ones.
    pub sliding_window: Option<i64>,
    /// Beginning-of-sequence id.
    pub bos_token_id: Option<i64>,
    /// End-of-sequence ids (generation stops at any of them).
    pub eos_token_ids: Vec<i64>,
    /// Padding id, if the config names one.
    pub pad_token_id: Option<i64>,
}

impl DecoderConfig {
    /// Reads and validates `dir/config.json`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let (raw, path): (RawConfig, _) = read_config_json(dir)?;
        Self::from_raw(raw).map_err(|reason| ModelError::BadConfig { path, reason })
    }

    /// Query heads per key/value head.
    pub fn query_groups(&self) -> i64 {
        self.num_attention_heads / self.num_key_value_heads
    }

    fn from_raw(raw: RawConfig) -> std::result::Result<Self, String> {
        let arch = DecoderArch::from_model_type(&raw.model_type).ok_or_else(|| {
            format!(
                "model_type `{}` is not a decoder taso implements (llama, mistral, qwen2)",
                raw.model_type
            )
        })?;
        if raw.hidden_act != "silu" {
            return Err(format!(
                "hidden_act `{}` is not supported: LLaMA-family MLPs use `silu` (SwiGLU)",
                raw.hidden_act
            ));
        }
        let (heads, kv_heads, head_dim) = attention_shape(&raw)?;
        let scaling = raw.rope_scaling.as_ref().filter(|v| !v.is_null());
        let rope_scaling = rope_scaling(scaling.or(raw.rope_parameters.as_ref()))?;
        let rope_theta = rope_theta(raw.rope_theta, raw.rope_parameters.as_ref());
        let sliding_window = match arch {
            DecoderArch::Mistral => raw.sliding_window,
            DecoderArch::Qwen2 if raw.use_sliding_window => raw.sliding_window,
            _ => None,
        };
        let qwen = arch == DecoderArch::Qwen2;
        Ok(Self {
            arch,
            vocab_size: positive("vocab_size", raw.vocab_size)?,
            hidden_size: positive("hidden_size", raw.hidden_size)?,
            intermediate_size: positive("intermediate_size", raw.intermediate_size)?,
            num_hidden_layers: positive("num_hidden_layers", raw.num_hidden_layers)?,
            num_attention_heads: heads,
            num_key_value_heads: kv_heads,
            head_dim,
            rms_norm_eps: raw.rms_norm_eps,
            rope_theta,
            rope_scaling,
            max_position_embeddings: raw.max_position_embeddings,
            tie_word_embeddings: raw.tie_word_embeddings,
            qkv_bias: qwen || raw.attention_bias,
            o_bias: !qwen && raw.attention_bias,
            mlp_bias: raw.mlp_bias,
            sliding_window,
            bos_token_id: raw.bos_token_id,
            eos_token_ids: match raw.eos_token_id {
                Some(TokenIds::One(id)) => vec![id],
                Some(TokenIds::Many(ids)) => ids,
                None => Vec::new(),
            },
            pad_token_id: raw.pad_token_id,
        })
    }
}

/// `(num_attention_heads, num_key_value_heads, head_dim)`, checked: key/value heads divide the
/// query heads (grouped-query attention), and the head dimension is given or follows from
/// `hidden_size` and is even (RoPE rotates pairs).
fn attention_shape(raw: &RawConfig) -> std::result::Result<(i64, i64, i64), String> {
    let heads = positive("num_attention_heads", raw.num_attention_heads)?;
    let kv_heads = positive(
        "num_key_value_heads",
        raw.num_key_value_heads.unwrap_or(heads),
    )?;
    if heads % kv_heads != 0 {
        return Err(format!(
            "num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}"
        ));
    }
    let head_dim = match raw.head_dim {
        Some(d) => d,
        None if raw.hidden_size % heads == 0 => raw.hidden_size / heads,
        None => {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {heads} and no \
                 head_dim is given",
                raw.hidden_size
            ))
        }
    };
    if positive("head_dim", head_dim)? % 2 != 0 {
        return Err(format!(
            "head_dim {head_dim} is odd; RoPE needs an even head_dim"
        ));
    }
    Ok((heads, kv_heads, head_dim))
}

fn positive(field: &str, value: i64) -> std::result::Result<i64, String> {
    if value > 0 {
        Ok(value)
    } else {
        Err(format!("{field} is {value}; it must be positive"))
    }
}

/// `rope_theta`, which transformers 5 may write inside `rope_parameters` instead.
fn rope_theta(top_level: f64, parameters: Option<&serde_json::Value>) -> f64 {
    parameters
        .and_then(|p| p.get("rope_theta"))
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(top_level)
}

/// The RoPE scaling block: none/`default`, or `llama3`; every other type is refused.
fn rope_scaling(
    value: Option<&serde_json::Value>,
) -> std::result::Result<Option<Llama3RopeScaling>, String> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let kind = value
        .get("rope_type")
        .or_else(|| value.get("type"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("default");
    match kind {
        "default" => Ok(None),
        "llama3" => {
            let scaling: Llama3RopeScaling = serde_json::from_value(value.clone())
                .map_err(|e| format!("rope_scaling of type llama3: {e}"))?;
            if scaling.high_freq_factor <= scaling.low_freq_factor || scaling.factor <= 0.0 {
                return Err(format!(
                    "rope_scaling llama3 needs factor > 0 and high_freq_factor > low_freq_factor, got {scaling:?}"
                ));
            }
            Ok(Some(scaling))
        }
        other => Err(format!(
            "rope_scaling type `{other}` is not supported (only `llama3`, or none)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<DecoderConfig> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), json).unwrap();
        DecoderConfig::from_dir(dir.path())
    }

    const SIZES: &str = r#""vocab_size": 50, "hidden_size": 16, "intermediate_size": 24,
        "num_hidden_layers": 1, "num_attention_heads": 4"#;

    #[test]
    fn reads_llama_with_gqa_and_llama3_scaling() {
        let config = read(&format!(
            r#"{{"model_type": "llama", {SIZES}, "num_key_value_heads": 2, "eos_token_id": [2, 7],
            "rope_scaling": {{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 64}}}}"#
        ))
        .unwrap();
        assert_eq!((config.head_dim, config.query_groups()), (4, 2));
        assert_eq!(config.eos_token_ids, [2, 7]);
        assert_eq!(config.rope_scaling.unwrap().factor, 8.0);
        assert!(!config.qkv_bias && !config.tie_word_embeddings);
    }

    #[test]
    fn qwen2_has_qkv_bias_and_mistral_keeps_its_window() {
        let qwen = read(&format!(
            r#"{{"model_type": "qwen2", {SIZES}, "eos_token_id": 3}}"#
        ))
        .unwrap();
        assert!(qwen.qkv_bias && !qwen.o_bias);
        assert_eq!(qwen.eos_token_ids, [3]);
        let mistral = read(&format!(
            r#"{{"model_type": "mistral", {SIZES}, "sliding_window": 4096}}"#
        ))
        .unwrap();
        assert_eq!(mistral.sliding_window, Some(4096));
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        let cases = [
            (r#""model_type": "gpt2""#, "gpt2"),
            (r#""model_type": "llama", "hidden_act": "gelu""#, "gelu"),
            (
                r#""model_type": "llama", "num_key_value_heads": 3"#,
                "num_key_value_heads 3",
            ),
            (
                r#""model_type": "llama", "num_key_value_heads": 0"#,
                "num_key_value_heads is 0; it must be positive",
            ),
            (
                r#""model_type": "llama", "head_dim": 5"#,
                "head_dim 5 is odd",
            ),
            (
                r#""model_type": "llama", "rope_scaling": {"rope_type": "yarn", "factor": 2.0}"#,
                "yarn",
            ),
        ];
        for (fields, needle) in cases {
            let err = read(&format!("{{{fields}, {SIZES}}}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle) && err.contains("config.json"), "{err}");
        }
    }
}
