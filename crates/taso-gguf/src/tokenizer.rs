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
use crate::metadata::Metadata;

/// `tokenizer.ggml.token_type` of control tokens (`<|im_start|>`): special added tokens.
const CONTROL: i64 = 3;
/// `tokenizer.ggml.token_type` of user-defined tokens: plain added tokens.
const USER_DEFINED: i64 = 4;

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
            None => vec![1; tokens.len()],
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
