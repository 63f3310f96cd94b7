//! Prompt tasks for decoder LMs: TOML specs, JSONL reading, chat templates, answer-only
//! tokenization, causal-LM batches and metrics.
//!
//! - [`PromptTaskSpec::read_split`] renders each record's prompt and resolves its answer.
//! - [`PromptTokenizer`] renders the prompt as a chat turn when the tokenizer has a chat template,
//!   and tokenizes prompt and answer apart ([`PromptEncoding`]).
//! - [`PromptSplit`] cuts training batches (prompt + gold answer) and scoring batches (prompt +
//!   each candidate) into [`CausalBatch`]es whose loss mask marks exactly the answer tokens.
//! - [`PromptTaskSpec::score`] computes accuracy over candidates or exact match of final numbers.

mod batch;
mod chat;
mod metrics;
mod read;
mod spec;
mod template;
mod tokenize;

pub use batch::{CandidateRow, CausalBatch, FirstTokenChoices, PromptSplit, IGNORE_INDEX};
pub use metrics::{
    exact_match, extract_final_number, numbers_match, PromptPredictions, FINAL_ANSWER_MARKER,
};
pub use read::{PromptAnswer, PromptExample};
pub use spec::{
    AnswerSpec, Candidate, PromptKind, PromptMetric, PromptTaskSpec, CHOICES_PLACEHOLDER,
};
pub use tokenize::{PromptEncoding, PromptTokenizer};
