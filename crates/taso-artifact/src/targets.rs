//! The one rule of which linear layers a run adapts, shared by the scorer (which tracks them in
//! a live model), the region selector (which reads them from safetensors headers) and the
//! adapters.

/// Where the module path `module` sits among the targets `suffixes`: `(block, index)` when the
/// path passes a numbered block (`encoder.layer.3.…`, `model.layers.3.…`) and the rest of the
/// path after the block number equals `suffixes[index]` — a whole match, so `output.dense`
/// does not also select `attention.output.dense`. `None` for every other layer (embeddings,
/// pooler, heads).
///
/// ```
/// use taso_artifact::target_position;
/// let targets = ["attention.self.query".to_string(), "output.dense".to_string()];
/// assert_eq!(target_position("encoder.layer.3.output.dense", &targets), Some((3, 1)));
/// assert_eq!(target_position("encoder.layer.3.attention.output.dense", &targets), None);
/// assert_eq!(target_position("pooler.dense", &targets), None);
/// ```
pub fn target_position(module: &str, suffixes: &[String]) -> Option<(usize, usize)> {
    let (block, rest) = block_and_rest(module)?;
    let index = suffixes.iter().position(|s| *s == rest)?;
    Some((block, index))
}

/// The numbered block a module path passes and the path after it:
/// `model.layers.3.mlp.up_proj` → `(3, "mlp.up_proj")`; `None` outside numbered blocks.
pub fn block_and_rest(module: &str) -> Option<(usize, String)> {
    let mut parts = module.split('.');
    let block = parts
        .by_ref()
        .find(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))?;
    let rest = parts.collect::<Vec<_>>().join(".");
    Some((block.parse().ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_blocks_and_prefixed_paths_match_too() {
        let targets = ["self_attn.q_proj".to_string(), "mlp.down_proj".to_string()];
        assert_eq!(
            target_position("model.layers.11.mlp.down_proj", &targets),
            Some((11, 1))
        );
        assert_eq!(
            target_position("model.layers.0.self_attn.q_proj", &targets),
            Some((0, 0))
        );
        assert_eq!(target_position("lm_head", &targets), None);
        assert_eq!(target_position("model.layers.0.self_attn", &targets), None);
    }
}
