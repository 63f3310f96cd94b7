//! GGUF tensor names to Hugging Face LLaMA/Qwen2 names and back, and llama.cpp's q/k row
//! permutation both ways.

use crate::config::Architecture;
use crate::error::GgufError;

/// Tensors llama.cpp adds that Hugging Face models compute instead (Llama-3 rope factors).
const DERIVED_TENSORS: [&str; 1] = ["rope_freqs.weight"];

/// Hugging Face tensors (by name suffix) that llama.cpp computes instead, as its converter
/// leaves them out (the rotary inverse frequencies of older checkpoints).
const DERIVED_HF_SUFFIXES: [&str; 1] = [".rotary_emb.inv_freq"];

/// Tensors outside the layers: GGUF name and Hugging Face name.
const GLOBAL_NAMES: [(&str, &str); 3] = [
    ("token_embd.weight", "model.embed_tokens.weight"),
    ("output_norm.weight", "model.norm.weight"),
    ("output.weight", "lm_head.weight"),
];

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

/// Per-layer GGUF suffixes every model has.
const REQUIRED_LAYER_SUFFIXES: [&str; 9] = [
    "attn_norm.weight",
    "ffn_norm.weight",
    "attn_q.weight",
    "attn_k.weight",
    "attn_v.weight",
    "attn_output.weight",
    "ffn_gate.weight",
    "ffn_up.weight",
    "ffn_down.weight",
];

/// Per-layer GGUF suffixes Qwen2 models have besides.
const QWEN2_LAYER_SUFFIXES: [&str; 3] = ["attn_q.bias", "attn_k.bias", "attn_v.bias"];

/// The GGUF names of the tensors a model of `architecture` with `layers` layers cannot do
/// without (`output.weight` aside: tied models have none), made one at a time, so that a layer
/// count far beyond the tensors a file has costs nothing until a name is missing.
pub(crate) fn required_tensors(
    architecture: Architecture,
    layers: u64,
) -> impl Iterator<Item = String> {
    let qwen2: &[&str] = match architecture {
        Architecture::Qwen2 => &QWEN2_LAYER_SUFFIXES,
        Architecture::Llama => &[],
    };
    let layer_names = (0..layers).flat_map(move |layer| {
        REQUIRED_LAYER_SUFFIXES
            .iter()
            .chain(qwen2)
            .map(move |suffix| format!("blk.{layer}.{suffix}"))
    });
    ["token_embd.weight", "output_norm.weight"]
        .into_iter()
        .map(str::to_string)
        .chain(layer_names)
}

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
    if let Some((_, hf)) = GLOBAL_NAMES.iter().find(|(gguf, _)| *gguf == name) {
        return Ok(TensorRole::Copy(hf.to_string()));
    }
    if DERIVED_TENSORS.contains(&name) {
        return Ok(TensorRole::Skip);
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

/// What to do with one Hugging Face tensor when exporting it to GGUF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportRole {
    /// Write it under this GGUF name.
    Copy(String),
    /// Write it under this GGUF name after applying the rotary row permutation with this many
    /// heads.
    Permute(String, usize),
    /// Leave it out: llama.cpp computes it.
    Skip,
}

/// The export role of Hugging Face tensor `name` (the exact reverse of [`tensor_role`]), or
/// `None` when it has no GGUF name.
pub fn export_role(name: &str, permuted: Option<PermutedHeads>) -> Option<ExportRole> {
    if let Some((gguf, _)) = GLOBAL_NAMES.iter().find(|(_, hf)| *hf == name) {
        return Some(ExportRole::Copy(gguf.to_string()));
    }
    if DERIVED_HF_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return Some(ExportRole::Skip);
    }
    let (layer, hf_suffix) = name.strip_prefix("model.layers.")?.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (suffix, _) = LAYER_NAMES.iter().find(|(_, hf)| *hf == hf_suffix)?;
    let gguf = format!("blk.{layer}.{suffix}");
    Some(match (*suffix, permuted) {
        ("attn_q.weight", Some(heads)) => ExportRole::Permute(gguf, heads.q),
        ("attn_k.weight", Some(heads)) => ExportRole::Permute(gguf, heads.k),
        _ => ExportRole::Copy(gguf),
    })
}

/// Applies llama.cpp's rotary permutation to the rows of a q or k projection (`rows × cols`,
/// row-major) with `heads` heads, as its converter does: the rows of each head, viewed as
/// `[2, rows/heads/2]`, are transposed to `[rows/heads/2, 2]`. The inverse of
/// [`unpermute_rows`].
pub fn permute_rows(
    values: &[f32],
    rows: usize,
    heads: usize,
    tensor: &str,
) -> Result<Vec<f32>, GgufError> {
    let (cols, half) = rotary_geometry(values, rows, heads, tensor)?;
    let mut out = Vec::with_capacity(values.len());
    for head in 0..heads {
        for pair in 0..half {
            for part in 0..2 {
                let source = head * 2 * half + part * half + pair;
                out.extend_from_slice(&values[source * cols..(source + 1) * cols]);
            }
        }
    }
    Ok(out)
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
    let (cols, half) = rotary_geometry(values, rows, heads, tensor)?;
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

/// The columns and the rotary pairs per head of a `rows`-row projection with `heads` heads,
/// or the error naming `tensor` when its rows do not split into them.
fn rotary_geometry(
    values: &[f32],
    rows: usize,
    heads: usize,
    tensor: &str,
) -> Result<(usize, usize), GgufError> {
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
    Ok((values.len() / rows, rows / heads / 2))
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

    #[test]
    fn permute_is_the_inverse_of_unpermute() {
        let values: Vec<f32> = (0..48).map(|v| v as f32).collect();
        for (rows, heads) in [(8, 2), (12, 3), (24, 1), (48, 4)] {
            let permuted = permute_rows(&values, rows, heads, "q").unwrap();
            assert_ne!(permuted, values, "{rows} rows, {heads} heads");
            assert_eq!(unpermute_rows(&permuted, rows, heads, "q").unwrap(), values);
        }
        let err = permute_rows(&[0.0; 6], 6, 2, "blk.0.attn_k.weight").unwrap_err();
        assert!(err.to_string().contains("blk.0.attn_k.weight"), "{err}");
    }

    #[test]
    fn export_names_are_the_exact_reverse_of_import_names() {
        let heads = Some(PermutedHeads { q: 9, k: 3 });
        let mut gguf_names = vec![
            "token_embd.weight".to_string(),
            "output_norm.weight".to_string(),
            "output.weight".to_string(),
        ];
        gguf_names.extend(LAYER_NAMES.iter().map(|(s, _)| format!("blk.17.{s}")));
        for arch_heads in [heads, None] {
            for gguf in &gguf_names {
                let back = match tensor_role(gguf, "llama", arch_heads).unwrap() {
                    TensorRole::Copy(hf) => export_role(&hf, arch_heads),
                    TensorRole::Unpermute(hf, n) => {
                        assert_eq!(
                            export_role(&hf, arch_heads),
                            Some(ExportRole::Permute(gguf.clone(), n))
                        );
                        continue;
                    }
                    TensorRole::Skip => unreachable!("{gguf}"),
                };
                assert_eq!(back, Some(ExportRole::Copy(gguf.clone())));
            }
        }
        assert_eq!(
            export_role("model.layers.3.self_attn.rotary_emb.inv_freq", heads),
            Some(ExportRole::Skip)
        );
        for unknown in [
            "model.layers.0.self_attn.o_proj.bias",
            "model.layers.x.mlp.up_proj.weight",
            "score.weight",
        ] {
            assert_eq!(export_role(unknown, heads), None, "{unknown}");
        }
    }
}
