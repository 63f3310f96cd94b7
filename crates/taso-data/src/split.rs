//! A split tokenized once, ready to be cut into padded batches.

use crate::batch::{pad_batch, PaddedBatch};
use crate::error::DataError;
use crate::example::{Example, Label};
use crate::tokenize::{Encoding, TextTokenizer};

/// The encodings and labels of one split, side by side, with the pad id to batch them.
#[derive(Debug, Clone)]
pub struct TokenizedSplit {
    /// Token ids per example.
    pub encodings: Vec<Encoding>,
    /// Gold label per example (`None` on unlabeled splits).
    pub labels: Vec<Option<Label>>,
    /// Padding token id.
    pub pad_id: u32,
}

impl TokenizedSplit {
    /// Tokenizes `examples` (in parallel) with `tokenizer`.
    pub fn new(tokenizer: &TextTokenizer, examples: &[Example]) -> Result<Self, DataError> {
        Ok(Self {
            encodings: tokenizer.encode(examples)?,
            labels: examples.iter().map(|e| e.label).collect(),
            pad_id: tokenizer.pad_id(),
        })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.encodings.len()
    }

    /// Whether the split has no example.
    pub fn is_empty(&self) -> bool {
        self.encodings.is_empty()
    }

    /// Token count of every example (what batch plans are made from).
    pub fn lengths(&self) -> Vec<usize> {
        self.encodings.iter().map(Encoding::len).collect()
    }

    /// The padded batch of examples `indices`.
    pub fn batch(&self, indices: &[usize]) -> PaddedBatch {
        pad_batch(&self.encodings, &self.labels, indices, self.pad_id)
    }

    /// Every gold label, if every example has one.
    pub fn gold(&self) -> Option<Vec<Label>> {
        self.labels.iter().copied().collect()
    }
}
