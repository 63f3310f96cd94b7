//! Tokenization with a Hugging Face `tokenizer.json`.
//!
//! The file's own padding is switched off (batches are padded dynamically, see [`crate::pad_batch`])
//! and truncation is set to longest-first at `max_len`, so ids equal what Hugging Face's tokenizer gives
//! with `truncation="longest_first", max_length=max_len` and special tokens added.

use std::path::{Path, PathBuf};

use tokenizers::{
    EncodeInput, PostProcessor, Tokenizer, TruncationDirection, TruncationParams,
    TruncationStrategy,
};

use crate::{DataError, Example};

/// Token ids of one example, special tokens included, unpadded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoding {
    /// Vocabulary ids.
    pub input_ids: Vec<u32>,
    /// Segment ids (0 for the first text, 1 for the pair), same length as `input_ids`.
    pub token_type_ids: Vec<u32>,
}

impl Encoding {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.input_ids.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.input_ids.is_empty()
    }
}

/// A `tokenizers::Tokenizer` set up for task examples: no padding, longest-first truncation.
pub struct TextTokenizer {
    inner: Tokenizer,
    max_len: usize,
    pad_id: u32,
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, disables its padding and truncates longest-first to `max_len` tokens.
    pub fn from_file(path: &Path, max_len: usize) -> Result<Self, DataError> {
        let fail = |message: String| DataError::Tokenizer {
            path: PathBuf::from(path),
            message,
        };
        let mut inner = Tokenizer::from_file(path).map_err(|e| {
            fail(format!(
                "{e}; pass a Hugging Face tokenizer.json (scripts/bootstrap.sh fetches the default model)"
            ))
        })?;
        let special = inner
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(true));
        if max_len <= special {
            return Err(fail(format!(
                "max_len {max_len} leaves no room for text next to the {special} special tokens of a pair: use e.g. 128"
            )));
        }
        let pad_id = pad_id_of(&inner);
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| fail(e.to_string()))?;
        Ok(TextTokenizer {
            inner,
            max_len,
            pad_id,
        })
    }

    /// Encodes every example (in parallel), pairs as `[CLS] text [SEP] pair [SEP]` per the tokenizer's template.
    pub fn encode(&self, examples: &[Example]) -> Result<Vec<Encoding>, DataError> {
        let inputs: Vec<EncodeInput<'_>> = examples
            .iter()
            .map(|example| match &example.pair {
                Some(pair) => (example.text.as_str(), pair.as_str()).into(),
                None => example.text.as_str().into(),
            })
            .collect();
        let encodings =
            self.inner
                .encode_batch_fast(inputs, true)
                .map_err(|e| DataError::Encode {
                    message: e.to_string(),
                })?;
        Ok(encodings
            .iter()
            .map(|e| Encoding {
                input_ids: e.get_ids().to_vec(),
                token_type_ids: e.get_type_ids().to_vec(),
            })
            .collect())
    }

    /// The id to pad with: the file's padding id, else the `[PAD]` or `<pad>` token, else 0.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The id of `token`, if it is in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The truncation length.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

pub(crate) fn pad_id_of(tokenizer: &Tokenizer) -> u32 {
    tokenizer
        .get_padding()
        .map(|padding| padding.pad_id)
        .or_else(|| tokenizer.token_to_id("[PAD]"))
        .or_else(|| tokenizer.token_to_id("<pad>"))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny word-level tokenizer.json with BERT-style template and a fixed padding of 8.
    fn tiny_tokenizer(dir: &Path, padding: &str) -> PathBuf {
        let json = r#"{
          "version": "1.0", "truncation": null, "padding": PADDING, "added_tokens": [], "normalizer": null,
          "pre_tokenizer": {"type": "Whitespace"}, "decoder": null,
          "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [1], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [2], "tokens": ["[SEP]"]}}},
          "model": {"type": "WordLevel", "unk_token": "[UNK]",
                    "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "<pad>": 3, "a": 4, "b": 5, "c": 6}}
        }"#;
        let path = dir.join("tokenizer.json");
        std::fs::write(&path, json.replace("PADDING", padding)).unwrap();
        path
    }

    const FIXED_8_PAD_5: &str = r#"{"strategy": {"Fixed": 8}, "direction": "Right", "pad_to_multiple_of": null,
        "pad_id": 5, "pad_type_id": 0, "pad_token": "b"}"#;

    fn example(text: &str, pair: Option<&str>) -> Example {
        Example {
            text: text.into(),
            pair: pair.map(Into::into),
            label: None,
        }
    }

    #[test]
    fn file_padding_is_disabled_and_truncation_is_longest_first() {
        let dir = tempfile::tempdir().unwrap();
        let tokenizer =
            TextTokenizer::from_file(&tiny_tokenizer(dir.path(), FIXED_8_PAD_5), 7).unwrap();
        assert_eq!(
            tokenizer.pad_id(),
            5,
            "taken from the file's padding before disabling it"
        );
        let encodings = tokenizer
            .encode(&[
                example("a", None),
                example("a b c a b c", None),
                example("a b c a", Some("c b")),
            ])
            .unwrap();
        assert_eq!(
            encodings[0].input_ids,
            [1, 4, 2],
            "not padded to the file's 8"
        );
        assert_eq!(encodings[1].input_ids, [1, 4, 5, 6, 4, 5, 2], "cut to 7");
        // Pair: 4 + 2 words, room for 7 − 3 = 4: longest-first trims the first text to 2.
        assert_eq!(encodings[2].input_ids, [1, 4, 5, 2, 6, 5, 2]);
        assert_eq!(encodings[2].token_type_ids, [0, 0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn pad_id_falls_back_to_the_pad_token_and_tiny_max_len_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = tiny_tokenizer(dir.path(), "null");
        assert_eq!(TextTokenizer::from_file(&path, 16).unwrap().pad_id(), 3);
        let err = TextTokenizer::from_file(&path, 3)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("max_len 3") && err.contains("tokenizer.json"),
            "{err}"
        );
    }
}
