//! GGUF tensor names to Hugging Face LLaMA/Qwen2 names, and undoing llama.cpp's q/k row
//! permutation.

use crate::error::GgufError;

/// Tensors llama.cpp adds that Hugging Face models compute instead (Llama-3 rope factors).
const DERIVED_TENSORS: [&str; 1] = ["rope_freqs.weight"];

/// Per-layer GGUF suffixes and their Hugging Face names under `model.layers.N.`.
const LAYER_NAMES: [(&str, &str); 12] = [
    ("attn_norm.weight", "input_layernorm.weight"),
    ("ffn_norm.weight", "post_attention_layernorm.weight"),
    ("attn_q.weight", "self_attn.q_proj.weight"),
    ("attn_k.weight", "self_attn.k_proj.weight"),
    ("attn_v.weight", "self_attn.v_proj.weight"),
    ("attn_output.weight", "self_attn.o_proj.weight"),
    ("ffn_gate.weight", "mlp.gate_proj.weight"),
    ("ffn_up.weight", "mlp.up_proj.weight"),
    ("ffn_down.weight", "mlp.down_proj.weight"),
    ("attn_q.bias", "self_attn.q_proj.bias"),
    ("attn_k.bias", "self_attn.k_proj.bias"),
    ("attn_v.bias", "self_attn.v_proj.bias"),
];

/// What to do with one GGUF tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TensorRole {
    /// Write it under this Hugging Face name.
    Copy(String),
    /// Write it under this name after undoing the rotary row permutation with this many heads.
    Unpermute(String, usize),
    /// Leave it out: Hugging Face computes it from the config.
    Skip,
}

/// The head counts that decide the q/k permutation; `None` where the converter does not
/// permute (Qwen2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermutedHeads {
    /// Query heads.
    pub q: usize,
    /// Key/value heads.
    pub k: usize,
}

/// The role of GGUF tensor `name`, or the error naming it when it has no counterpart.
pub fn tensor_role(
    name: &str,
    architecture: &str,
    permuted: Option<PermutedHeads>,
) -> Result<TensorRole, GgufError> {
    let unmapped = || GgufError::UnmappedTensor {
        name: name.to_string(),
        architecture: architecture.to_string(),
    };
    let copy = |hf: &str| Ok(TensorRole::Copy(hf.to_string()));
    match name {
        "token_embd.weight" => return copy("model.embed_tokens.weight"),
        "output_norm.weight" => return copy("model.norm.weight"),
        "output.weight" => return copy("lm_head.weight"),
        _ if DERIVED_TENSORS.contains(&name) => return Ok(TensorRole::Skip),
        _ => {}
    }
    let rest = name.strip_prefix("blk.").ok_or_else(unmapped)?;
    let (layer, suffix) = rest.split_once('.').ok_or_else(unmapped)?;
    let layer: usize = layer.parse().map_err(|_| unmapped())?;
    let (_, hf_suffix) = LAYER_NAMES
        .iter()
        .find(|(gguf, _)| *gguf == suffix)
        .ok_or_else(unmapped)?;
    let hf = format!("model.layers.{layer}.{hf_suffix}");
    Ok(match (suffix, permuted) {
        ("attn_q.weight", Some(heads)) => TensorRole::Unpermute(hf, heads.q),
        ("attn_k.weight", Some(heads)) => TensorRole::Unpermute(hf, heads.k),
        _ => TensorRole::Copy(hf),
    })
}

/// Undoes llama.cpp's rotary permutation of the rows of a q or k projection (`rows × cols`,
/// row-major) with `heads` heads: the rows of each head, viewed as `[rows/heads/2, 2]`, are
/// transposed to `[2, rows/heads/2]`, interleaved pairs becoming the two rotary halves.
pub fn unpermute_rows(
    values: &[f32],
    rows: usize,
    heads: usize,
    tensor: &str,
) -> Result<Vec<f32>, GgufError> {
    if heads == 0
        || rows == 0
        || !rows.is_multiple_of(2 * heads)
        || !values.len().is_multiple_of(rows)
    {
        return Err(GgufError::BadShape {
            tensor: tensor.to_string(),
            reason: format!("{rows} rows cannot be split into {heads} heads of rotary pairs"),
        });
    }
    let cols = values.len() / rows;
    let half = rows / heads / 2;
    let mut out = Vec::with_capacity(values.len());
    for head in 0..heads {
        for part in 0..2 {
            for pair in 0..half {
                let source = head * 2 * half + 2 * pair + part;
                out.extend_from_slice(&values[source * cols..(source + 1) * cols]);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpermute_swaps_pair_and_half_axes_per_head() {
        // Two heads of four one-column rows: GGUF rows (h, pair, part) -> HF rows (h, part, pair).
        let gguf = [0., 1., 2., 3., 10., 11., 12., 13.];
        let hf = unpermute_rows(&gguf, 8, 2, "q").unwrap();
        assert_eq!(hf, [0., 2., 1., 3., 10., 12., 11., 13.]);
        // Six rows of two columns, one head: rows 0..6 become 0, 2, 4, 1, 3, 5.
        let gguf: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let hf = unpermute_rows(&gguf, 6, 1, "k").unwrap();
        assert_eq!(hf, [0., 1., 4., 5., 8., 9., 2., 3., 6., 7., 10., 11.]);
    }

    #[test]
    fn unpermute_refuses_rows_that_do_not_split_into_heads() {
        let err = unpermute_rows(&[0.0; 6], 6, 2, "blk.0.attn_k.weight").unwrap_err();
        assert!(err.to_string().contains("blk.0.attn_k.weight"), "{err}");
        // Found by fuzzing: a q projection declared with zero rows divided by zero.
        let err = unpermute_rows(&[], 0, 2, "blk.0.attn_q.weight").unwrap_err();
        assert!(err.to_string().contains("0 rows"), "{err}");
    }

    #[test]
    fn names_map_to_hugging_face_llama_names() {
        let heads = Some(PermutedHeads { q: 9, k: 3 });
        let role = |name| tensor_role(name, "llama", heads).unwrap();
        assert_eq!(
            role("token_embd.weight"),
            TensorRole::Copy("model.embed_tokens.weight".into())
        );
        assert_eq!(
            role("blk.12.ffn_norm.weight"),
            TensorRole::Copy("model.layers.12.post_attention_layernorm.weight".into())
        );
        assert_eq!(
            role("blk.0.attn_k.weight"),
            TensorRole::Unpermute("model.layers.0.self_attn.k_proj.weight".into(), 3)
        );
        assert_eq!(
            tensor_role("blk.0.attn_q.weight", "qwen2", None).unwrap(),
            TensorRole::Copy("model.layers.0.self_attn.q_proj.weight".into())
        );
        assert_eq!(role("rope_freqs.weight"), TensorRole::Skip);
        let err = tensor_role("blk.0.ssm_a", "llama", heads).unwrap_err();
        assert!(err.to_string().contains("'blk.0.ssm_a'"), "{err}");
    }
}
