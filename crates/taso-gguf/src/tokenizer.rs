//! The byte-level BPE tokenizer of a GGUF file (`tokenizer.ggml.model = gpt2`) as a
//! `tokenizers` tokenizer, and the `tokenizer_config.json` beside it.
//!
//! Vocabulary and merges come from `tokenizer.ggml.tokens` and `tokenizer.ggml.merges`;
//! tokens of `tokenizer.ggml.token_type` 3 (control) become special added tokens and 4
//! (user-defined) plain added tokens. Pre-tokenisation follows `tokenizer.ggml.pre` (see
//! [`PreTokenizerKind`]): Qwen2 and Llama-3 vocabularies split with their own regular
//! expressions; every other one (SmolLM's `smollm`, GPT-2 style) splits every digit on its own,
//! then applies the byte-level split without a prefix space. Decoding is byte-level. When
//! `tokenizer.ggml.add_bos_token` is true the BOS token is prepended to every sequence.
//!
//! For export, [`Vocabulary::to_metadata`] writes those keys back, and
//! [`PreTokenizerKind::from_hf_json`] recognises the pre-tokenizers of `tokenizer.json`.

use serde_json::{json, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, PostProcessorWrapper, SplitDelimiterBehavior, Tokenizer};

use crate::config::SpecialIds;
use crate::error::GgufError;
use crate::metadata::{Metadata, MetadataValue};

/// `tokenizer.ggml.token_type` of ordinary vocabulary entries.
pub(crate) const NORMAL: i64 = 1;
/// `tokenizer.ggml.token_type` of control tokens (`<|im_start|>`): special added tokens.
pub(crate) const CONTROL: i64 = 3;
/// `tokenizer.ggml.token_type` of user-defined tokens: plain added tokens.
pub(crate) const USER_DEFINED: i64 = 4;
/// `tokenizer.ggml.token_type` of the `[PAD<id>]` fillers of ids the tokenizer does not use.
pub(crate) const UNUSED: i64 = 5;

/// Qwen2's split: contractions, letters with one leading non-letter, single digits,
/// punctuation runs, newlines, other whitespace.
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3's split: as Qwen2's, but digits in runs of up to three.
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// How text is split before BPE, from `tokenizer.ggml.pre`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizerKind {
    /// Single digits, then the GPT-2 byte-level split (`smollm`, `gpt2`, absent, and any other).
    DigitsThenByteLevel,
    /// Qwen2's regular expression (`qwen2`, `deepseek-r1-qwen`).
    Qwen2,
    /// Llama 3's regular expression (`llama-bpe`, `llama3`, `llama-v3`).
    Llama3,
}

impl PreTokenizerKind {
    /// The kind for a `tokenizer.ggml.pre` value.
    pub fn from_pre(pre: Option<&str>) -> PreTokenizerKind {
        match pre {
            Some("qwen2" | "deepseek-r1-qwen") => PreTokenizerKind::Qwen2,
            Some("llama-bpe" | "llama3" | "llama-v3") => PreTokenizerKind::Llama3,
            _ => PreTokenizerKind::DigitsThenByteLevel,
        }
    }

    /// The `tokenizer.ggml.pre` llama.cpp's converter writes for this kind.
    pub fn gguf_pre(self) -> &'static str {
        match self {
            PreTokenizerKind::DigitsThenByteLevel => "smollm",
            PreTokenizerKind::Qwen2 => "qwen2",
            PreTokenizerKind::Llama3 => "llama-bpe",
        }
    }

    /// The kind of a `tokenizer.json` `pre_tokenizer`: single digits then a byte-level split
    /// with its regular expression (SmolLM2), or Qwen2's or Llama 3's split expression then a
    /// byte-level step without one; `None` for any other, or a prefix space.
    pub fn from_hf_json(pre_tokenizer: &Value) -> Option<PreTokenizerKind> {
        let steps = match pre_tokenizer["type"].as_str()? {
            "Sequence" => pre_tokenizer["pretokenizers"].as_array()?.as_slice(),
            _ => std::slice::from_ref(pre_tokenizer),
        };
        let [first, byte_level] = steps else {
            return None;
        };
        if byte_level["type"] != "ByteLevel" || byte_level["add_prefix_space"] == true {
            return None;
        }
        match (first["type"].as_str()?, byte_level["use_regex"] == true) {
            ("Digits", true) if first["individual_digits"] == true => {
                Some(PreTokenizerKind::DigitsThenByteLevel)
            }
            ("Split", false) => match first["pattern"]["Regex"].as_str()? {
                QWEN2_SPLIT => Some(PreTokenizerKind::Qwen2),
                LLAMA3_SPLIT => Some(PreTokenizerKind::Llama3),
                _ => None,
            },
            _ => None,
        }
    }

    fn to_pre_tokenizer(self) -> Result<Sequence, GgufError> {
        let split = match self {
            PreTokenizerKind::DigitsThenByteLevel => {
                return Ok(Sequence::new(vec![
                    Digits::new(true).into(),
                    ByteLevel::new(false, true, true).into(),
                ]))
            }
            PreTokenizerKind::Qwen2 => QWEN2_SPLIT,
            PreTokenizerKind::Llama3 => LLAMA3_SPLIT,
        };
        let split = Split::new(
            SplitPattern::Regex(split.to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(tokenizer_error)?;
        let steps: Vec<PreTokenizerWrapper> =
            vec![split.into(), ByteLevel::new(false, true, false).into()];
        Ok(Sequence::new(steps))
    }
}

/// The vocabulary part of the GGUF metadata.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    /// Token strings by id.
    pub tokens: Vec<String>,
    /// Merge rules, highest priority first.
    pub merges: Vec<(String, String)>,
    /// Token types by id (all normal when the file has none).
    pub token_types: Vec<i64>,
    /// Whether BOS is prepended when encoding.
    pub add_bos: bool,
    /// How text is split before BPE.
    pub pre_tokenizer: PreTokenizerKind,
}

impl Vocabulary {
    /// Reads the vocabulary; refuses tokenizer models other than `gpt2`.
    pub fn from_metadata(metadata: &Metadata) -> Result<Vocabulary, GgufError> {
        let model = metadata.str("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(GgufError::UnsupportedTokenizer {
                model: model.to_string(),
            });
        }
        let tokens: Vec<String> = metadata
            .strings("tokenizer.ggml.tokens")?
            .into_iter()
            .map(str::to_string)
            .collect();
        let merges = metadata
            .strings("tokenizer.ggml.merges")?
            .into_iter()
            .map(split_merge)
            .collect::<Result<_, _>>()?;
        let token_types = match metadata.get("tokenizer.ggml.token_type") {
            Some(_) => metadata.integers("tokenizer.ggml.token_type")?,
            None => vec![NORMAL; tokens.len()],
        };
        if token_types.len() != tokens.len() {
            return Err(GgufError::Tokenizer {
                reason: format!(
                    "{} token types for {} tokens",
                    token_types.len(),
                    tokens.len()
                ),
            });
        }
        Ok(Vocabulary {
            tokens,
            merges,
            token_types,
            add_bos: metadata
                .opt_bool("tokenizer.ggml.add_bos_token")?
                .unwrap_or(false),
            pre_tokenizer: PreTokenizerKind::from_pre(metadata.opt_str("tokenizer.ggml.pre")?),
        })
    }

    /// The `tokenizer.ggml.*` metadata of this vocabulary (model `gpt2`, pre, tokens, token
    /// types, merges as `"a b"`, add_bos_token), the reverse of
    /// [`from_metadata`](Self::from_metadata).
    pub fn to_metadata(&self) -> Vec<(String, MetadataValue)> {
        let strings = |items: Vec<String>| {
            MetadataValue::Array(items.into_iter().map(MetadataValue::String).collect())
        };
        let entries = [
            ("model", MetadataValue::String("gpt2".to_string())),
            (
                "pre",
                MetadataValue::String(self.pre_tokenizer.gguf_pre().to_string()),
            ),
            ("tokens", strings(self.tokens.clone())),
            (
                "token_type",
                MetadataValue::Array(
                    self.token_types
                        .iter()
                        .map(|&ty| MetadataValue::I32(ty as i32))
                        .collect(),
                ),
            ),
            (
                "merges",
                strings(
                    self.merges
                        .iter()
                        .map(|(a, b)| format!("{a} {b}"))
                        .collect(),
                ),
            ),
            ("add_bos_token", MetadataValue::Bool(self.add_bos)),
        ];
        entries
            .into_iter()
            .map(|(key, value)| (format!("tokenizer.ggml.{key}"), value))
            .collect()
    }

    /// The token string of `id`, if `id` is in the vocabulary.
    pub fn token(&self, id: Option<u64>) -> Option<&str> {
        id.and_then(|id| self.tokens.get(id as usize))
            .map(String::as_str)
    }

    /// Builds the tokenizer.
    pub fn to_tokenizer(&self, special: SpecialIds) -> Result<Tokenizer, GgufError> {
        let vocab = self.vocab()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, self.merges.clone())
            .build()
            .map_err(tokenizer_error)?;
        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(self.pre_tokenizer.to_pre_tokenizer()?));
        tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
        tokenizer.with_post_processor(Some(self.post_processor(special)?));
        tokenizer
            .add_special_tokens(self.added_tokens(CONTROL, true))
            .map_err(tokenizer_error)?;
        tokenizer
            .add_tokens(self.added_tokens(USER_DEFINED, false))
            .map_err(tokenizer_error)?;
        Ok(tokenizer)
    }

    /// The Hugging Face `tokenizer_config.json`: special token strings, the chat template
    /// from `tokenizer.chat_template` when present, and the context length.
    pub fn tokenizer_config(
        &self,
        special: SpecialIds,
        chat_template: Option<&str>,
        max_length: u64,
    ) -> Value {
        let mut config = json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "add_bos_token": self.add_bos,
            "add_eos_token": false,
            "clean_up_tokenization_spaces": false,
            "model_max_length": max_length,
        });
        for (key, id) in [
            ("bos_token", special.bos),
            ("eos_token", special.eos),
            ("pad_token", special.pad),
            ("unk_token", special.unk),
        ] {
            if let Some(token) = self.token(id) {
                config[key] = token.into();
            }
        }
        if let Some(template) = chat_template {
            config["chat_template"] = template.into();
        }
        config
    }

    fn vocab(&self) -> Result<Vocab, GgufError> {
        let mut vocab = Vocab::default();
        for (id, token) in self.tokens.iter().enumerate() {
            if vocab.insert(token.clone(), id as u32).is_some() {
                return Err(GgufError::Tokenizer {
                    reason: format!("token {token:?} appears twice (again at id {id})"),
                });
            }
        }
        Ok(vocab)
    }

    fn added_tokens(&self, token_type: i64, special: bool) -> Vec<AddedToken> {
        self.tokens
            .iter()
            .zip(&self.token_types)
            .filter(|(_, &ty)| ty == token_type)
            .map(|(token, _)| AddedToken::from(token.clone(), special).normalized(false))
            .collect()
    }

    /// Prepends BOS when the file asks for it; otherwise only fixes byte-level offsets.
    fn post_processor(&self, special: SpecialIds) -> Result<PostProcessorWrapper, GgufError> {
        let bos = match (self.add_bos, self.token(special.bos)) {
            (false, _) => return Ok(ByteLevel::new(false, false, true).into()),
            (true, Some(bos)) => bos,
            (true, None) => {
                return Err(GgufError::MissingKey {
                    key: "tokenizer.ggml.bos_token_id (add_bos_token is set)".to_string(),
                })
            }
        };
        let template = TemplateProcessing::builder()
            .try_single(format!("{bos} $A"))
            .and_then(|b| b.try_pair(format!("{bos} $A {bos}:1 $B:1")))
            .map_err(tokenizer_error)?
            .special_tokens(vec![(bos.to_string(), special.bos.unwrap_or(0) as u32)])
            .build()
            .map_err(tokenizer_error)?;
        Ok(template.into())
    }
}

/// `"a b"` to `("a", "b")`: byte-level tokens never contain a plain space.
fn split_merge(merge: &str) -> Result<(String, String), GgufError> {
    merge
        .split_once(' ')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .ok_or_else(|| GgufError::Tokenizer {
            reason: format!("merge {merge:?} is not two tokens separated by a space"),
        })
}

fn tokenizer_error(error: impl std::fmt::Display) -> GgufError {
    GgufError::Tokenizer {
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_recognised_in_tokenizer_json_and_named_back() {
        for kind in [
            PreTokenizerKind::DigitsThenByteLevel,
            PreTokenizerKind::Qwen2,
            PreTokenizerKind::Llama3,
        ] {
            let json = serde_json::to_value(kind.to_pre_tokenizer().unwrap()).unwrap();
            assert_eq!(PreTokenizerKind::from_hf_json(&json), Some(kind), "{json}");
            assert_eq!(PreTokenizerKind::from_pre(Some(kind.gguf_pre())), kind);
        }
        let gpt2 = json!({"type": "ByteLevel", "add_prefix_space": true, "use_regex": true});
        assert_eq!(PreTokenizerKind::from_hf_json(&gpt2), None);
    }
}
