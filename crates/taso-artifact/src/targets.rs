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

/// A module path's matrix type: the path after its block number (`self_attn.q_proj`), or the
/// whole path outside numbered blocks (`lm_head`).
pub fn matrix_type(module: &str) -> String {
    block_and_rest(module).map_or_else(|| module.to_string(), |(_, rest)| rest)
}

/// `items` grouped by the [`matrix_type`] of their module paths, the types in the order they
/// first appear and each group's items in their own order.
pub fn group_by_matrix_type<N: AsRef<str>, T>(
    items: impl IntoIterator<Item = (N, T)>,
) -> Vec<(String, Vec<T>)> {
    let mut groups: Vec<(String, Vec<T>)> = Vec::new();
    for (name, item) in items {
        let kind = matrix_type(name.as_ref());
        match groups.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, members)) => members.push(item),
            None => groups.push((kind, vec![item])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_group_by_matrix_type_in_first_seen_order() {
        let items = [
            ("model.layers.0.mlp.up_proj", 1),
            ("model.layers.0.self_attn.q_proj", 2),
            ("model.layers.1.mlp.up_proj", 3),
            ("lm_head", 4),
        ];
        assert_eq!(
            group_by_matrix_type(items),
            [
                ("mlp.up_proj".to_string(), vec![1, 3]),
                ("self_attn.q_proj".to_string(), vec![2]),
                ("lm_head".to_string(), vec![4]),
            ]
        );
    }

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
