//! The key/value cache of incremental decoding.

use tch::Tensor;

/// Keys and values of every block for the tokens seen so far, `[batch, kv_heads, len, head_dim]`
/// each, so that a decoding step only runs the new tokens.
#[derive(Debug, Default)]
pub struct KvCache {
    layers: Vec<(Tensor, Tensor)>,
}

impl KvCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tokens cached per sequence.
    pub fn len(&self) -> i64 {
        self.layers.first().map_or(0, |(k, _)| k.size()[2])
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A cache holding, for each entry of `rows` (`[n]` i64 on the cache's device), a copy of
    /// that sequence's keys and values: several continuations of one prompt start from it.
    pub fn select_rows(&self, rows: &Tensor) -> KvCache {
        let layers = self
            .layers
            .iter()
            .map(|(k, v)| (k.index_select(0, rows), v.index_select(0, rows)))
            .collect();
        KvCache { layers }
    }

    /// Appends block `layer`'s new keys and values and returns all of them.
    pub(crate) fn extend(
        &mut self,
        layer: usize,
        keys: Tensor,
        values: Tensor,
    ) -> (Tensor, Tensor) {
        let (keys, values) = match self.layers.get(layer) {
            Some((k, v)) => (Tensor::cat(&[k, &keys], 2), Tensor::cat(&[v, &values], 2)),
            None => (keys, values),
        };
        let entry = (keys.shallow_clone(), values.shallow_clone());
        if layer < self.layers.len() {
            self.layers[layer] = entry;
        } else {
            self.layers.push(entry);
        }
        (keys, values)
    }
}
