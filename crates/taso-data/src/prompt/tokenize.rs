//! Tokenizing prompt examples for causal LMs: prompt ids and answer ids kept apart.
//!
//! The prompt is the task template's text, rendered as a user turn by the tokenizer's chat template
//! when there is one (and the task allows it), else followed by the task's separator. Prompt and
//! answer are tokenized separately, so the answer's tokens are exactly known: with a chat template
//! the prompt is tokenized as rendered (the template writes the special tokens), without one with
//! the tokenizer's own special tokens (e.g. a BOS); answers never get special tokens, but a
//! free-form answer ends with EOS. When prompt and answer do not fit into `max_len`, the prompt is
//! cut from the left; an answer that does not fit on its own is an error.

use std::path::{Path, PathBuf};

use tokenizers::{EncodeInput, Tokenizer};

use super::chat::{ChatTemplate, TokenizerConfig};
use super::read::{PromptAnswer, PromptExample};
use super::spec::PromptTaskSpec;
use crate::tokenize::pad_id_of;
use crate::DataError;

/// EOS spellings tried when `tokenizer_config.json` names none.
const EOS_FALLBACKS: [&str; 4] = ["</s>", "<|endoftext|>", "<eos>", "<|im_end|>"];

/// One example's token ids, ready for batching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptEncoding {
    /// The prompt (chat markup and special tokens included), cut from the left to fit.
    pub prompt_ids: Vec<u32>,
    /// The answers: every candidate's ids, or the one free-form target's ids with EOS at the end
    /// (none on an unlabeled free-form split).
    pub answer_ids: Vec<Vec<u32>>,
    /// Position of the gold answer in `answer_ids`; `None` on unlabeled splits.
    pub gold: Option<usize>,
    /// Prompt tokens cut from the left.
    pub truncated: usize,
}

impl PromptEncoding {
    /// The gold answer's ids, if the example has one.
    pub fn gold_ids(&self) -> Option<&[u32]> {
        self.gold.map(|gold| self.answer_ids[gold].as_slice())
    }
}

/// A Hugging Face tokenizer with its chat template and special tokens, for prompt tasks.
pub struct PromptTokenizer {
    inner: Tokenizer,
    path: PathBuf,
    chat: Option<ChatTemplate>,
    eos_id: Option<u32>,
    pad_id: u32,
    max_len: usize,
}

impl PromptTokenizer {
    /// Loads a tokenizer folder (or its `tokenizer.json`), with `tokenizer_config.json` and
    /// `chat_template.jinja` beside it where present; sequences are kept within `max_len` tokens.
    pub fn from_path(path: &Path, max_len: usize) -> Result<Self, DataError> {
        let (file, folder) = if path.is_dir() {
            (path.join("tokenizer.json"), path.to_path_buf())
        } else {
            let folder = path.parent().unwrap_or(Path::new(".")).to_path_buf();
            (path.to_path_buf(), folder)
        };
        let fail = |message: String| DataError::Tokenizer {
            path: file.clone(),
            message,
        };
        if max_len < 2 {
            return Err(fail(format!(
                "max_len {max_len} leaves no room for a prompt and an answer: use e.g. 512"
            )));
        }
        let mut inner = Tokenizer::from_file(&file).map_err(|e| {
            fail(format!(
                "{e}; pass a tokenizer folder or a Hugging Face tokenizer.json"
            ))
        })?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| fail(e.to_string()))?;
        let config = TokenizerConfig::read(&folder)?;
        let chat = config
            .chat_template
            .clone()
            .map(|(source, from)| {
                ChatTemplate::new(
                    source,
                    from,
                    config.bos_token.as_deref(),
                    config.eos_token.as_deref(),
                )
            })
            .transpose()?;
        let eos_id = config
            .eos_token
            .iter()
            .map(String::as_str)
            .chain(EOS_FALLBACKS)
            .find_map(|token| inner.token_to_id(token));
        let pad_id = config
            .pad_token
            .as_deref()
            .and_then(|token| inner.token_to_id(token))
            .unwrap_or_else(|| pad_id_of(&inner));
        Ok(PromptTokenizer {
            inner,
            path: file,
            chat,
            eos_id,
            pad_id,
            max_len,
        })
    }

    /// Whether the tokenizer has a chat template.
    pub fn has_chat_template(&self) -> bool {
        self.chat.is_some()
    }

    /// Whether prompts of `task` are rendered with the chat template.
    pub fn uses_chat_template(&self, task: &PromptTaskSpec) -> bool {
        task.chat_template && self.chat.is_some()
    }

    /// The id padding is written with (never attended to).
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The end-of-sequence id, if the tokenizer has one.
    pub fn eos_id(&self) -> Option<u32> {
        self.eos_id
    }

    /// The token budget of prompt plus answer.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The text of `ids` (special tokens shown), for showing examples.
    pub fn decode(&self, ids: &[u32]) -> Result<String, DataError> {
        self.inner
            .decode(ids, false)
            .map_err(|e| DataError::Encode {
                message: e.to_string(),
            })
    }

    /// The prompt as the model sees it: chat-rendered, or as written.
    pub fn render_prompt(&self, task: &PromptTaskSpec, prompt: &str) -> Result<String, DataError> {
        match (&self.chat, task.chat_template) {
            (Some(chat), true) => chat.render_user_turn(prompt),
            _ => Ok(prompt.to_owned()),
        }
    }

    /// An answer text as it follows the prompt: after the separator, or (chat) starting the
    /// assistant turn without leading spaces.
    pub fn render_answer(&self, task: &PromptTaskSpec, answer: &str) -> String {
        if self.uses_chat_template(task) {
            answer.trim_start().to_owned()
        } else {
            format!("{}{answer}", task.separator)
        }
    }

    /// Tokenizes `examples` of `task` (in parallel), cutting prompts from the left to fit.
    pub fn encode(
        &self,
        task: &PromptTaskSpec,
        examples: &[PromptExample],
    ) -> Result<Vec<PromptEncoding>, DataError> {
        let prompts = examples
            .iter()
            .map(|e| self.render_prompt(task, &e.prompt))
            .collect::<Result<Vec<_>, _>>()?;
        let prompt_ids = self.ids(&prompts, !self.uses_chat_template(task))?;
        let (answers, owners) = self.answer_texts(task, examples);
        let mut answer_ids = self.ids(&answers, false)?.into_iter();
        let free_eos = (!task.answer.has_candidates())
            .then(|| self.require_eos())
            .transpose()?;
        let mut grouped: Vec<Vec<Vec<u32>>> = vec![Vec::new(); examples.len()];
        for owner in owners {
            let mut ids = answer_ids.next().expect("one encoding per answer text");
            ids.extend(free_eos);
            grouped[owner].push(ids);
        }
        examples
            .iter()
            .zip(prompt_ids)
            .zip(grouped)
            .enumerate()
            .map(|(index, ((example, prompt), answers))| {
                self.fit(task, index, prompt, answers, gold_of(&example.answer))
            })
            .collect()
    }

    /// Every answer text in example order, with the example it belongs to.
    fn answer_texts(
        &self,
        task: &PromptTaskSpec,
        examples: &[PromptExample],
    ) -> (Vec<String>, Vec<usize>) {
        let mut texts = Vec::new();
        let mut owners = Vec::new();
        for (index, example) in examples.iter().enumerate() {
            let answers: Vec<&String> = match &example.answer {
                PromptAnswer::Choice { candidates, .. } => candidates.iter().collect(),
                PromptAnswer::Free { target } => target.iter().collect(),
            };
            for answer in answers {
                texts.push(self.render_answer(task, answer));
                owners.push(index);
            }
        }
        (texts, owners)
    }

    /// Cuts the prompt from the left so that it and its longest answer fit into `max_len`.
    fn fit(
        &self,
        task: &PromptTaskSpec,
        index: usize,
        mut prompt_ids: Vec<u32>,
        answer_ids: Vec<Vec<u32>>,
        gold: Option<usize>,
    ) -> Result<PromptEncoding, DataError> {
        let longest = answer_ids.iter().map(Vec::len).max().unwrap_or(0);
        if longest >= self.max_len {
            return Err(DataError::AnswerTooLong {
                task: task.name.clone(),
                example: index,
                answer_tokens: longest,
                max_len: self.max_len,
            });
        }
        let room = self.max_len - longest;
        let truncated = prompt_ids.len().saturating_sub(room);
        prompt_ids.drain(..truncated);
        Ok(PromptEncoding {
            prompt_ids,
            answer_ids,
            gold,
            truncated,
        })
    }

    fn ids(&self, texts: &[String], special_tokens: bool) -> Result<Vec<Vec<u32>>, DataError> {
        let inputs: Vec<EncodeInput<'_>> = texts.iter().map(|t| t.as_str().into()).collect();
        let encodings = self
            .inner
            .encode_batch_fast(inputs, special_tokens)
            .map_err(|e| DataError::Encode {
                message: e.to_string(),
            })?;
        Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    fn require_eos(&self) -> Result<u32, DataError> {
        self.eos_id.ok_or_else(|| DataError::Tokenizer {
            path: self.path.clone(),
            message: format!(
                "a free-form answer ends with EOS, but the tokenizer has none (no eos_token in tokenizer_config.json, \
                 none of {} in the vocabulary): add eos_token to tokenizer_config.json",
                EOS_FALLBACKS.join(", ")
            ),
        })
    }
}

fn gold_of(answer: &PromptAnswer) -> Option<usize> {
    match answer {
        PromptAnswer::Choice { gold, .. } => *gold,
        PromptAnswer::Free { target } => target.as_ref().map(|_| 0),
    }
}
