//! taso-data: tasks, tokenization, batching, metrics. No tch.
//!
//! - [`resolve_data_dir`] finds the data (`TASO_DATA_DIR`, `data/shared`, `../shared/data`).
//! - [`load_task`] gives a built-in GLUE task ([`builtin_task_names`]) or a [`TaskSpec`] from a `.toml`
//!   file; [`TaskSpec::read_split`] reads a split into [`Example`]s.
//! - [`load_prompt_task`] gives a built-in prompt task for decoder LMs ([`builtin_prompt_task_names`]:
//!   boolq, wic, arc-challenge (alias arc), gsm8k) or a [`PromptTaskSpec`] from a `.toml` file;
//!   [`load_any_task`] gives either kind as an [`AnyTask`]. See "Prompt task TOML" below.
//! - [`TextTokenizer`] encodes examples with a Hugging Face `tokenizer.json` (longest-first
//!   truncation, no padding).
//! - [`plan_batches`] groups examples (length-bucketed, random or sequential, seeded);
//!   [`pad_batch`] pads one batch to its longest member.
//! - [`hold_out`] sets an evenly spread, seed-independent part of the training examples aside.
//! - [`compute_metrics`] scores predictions (accuracy, F1, Matthews, Pearson, Spearman).
//! - [`PromptTokenizer`] and [`PromptSplit`] turn prompt examples into [`CausalBatch`]es whose loss
//!   mask marks exactly the answer tokens; [`PromptTaskSpec::score`] gives candidate accuracy or
//!   GSM8K exact match ([`extract_final_number`]).
//!
//! Every failure is a [`DataError`] whose message says what is wrong and how to fix it.
//!
//! # Task TOML
//!
//! ```toml
//! name = "my-nli"
//! description = "optional one-liner, shown in messages"
//! format = "tsv"            # "tsv", "csv" (RFC 4180 quoting), "jsonl" (one JSON object per
//!                           # line; fields are keys) or "parquet" (columns are fields, as in JSONL)
//! header = true             # tsv and csv only, default true: the first line names the columns
//! text = "premise"          # column name, or a 0-based index such as text = 0
//! pair = "hypothesis"       # optional second text
//! label = "label"
//! labels = { kind = "classes", names = ["entailment", "not_entailment"] }  # class id = position
//! # labels = { kind = "regression" }   # for a numeric target
//! metrics = ["accuracy"]    # accuracy, f1 (binary, class 1 positive), macro_f1, matthews | pearson, spearman
//!
//! [splits]                  # paths relative to the data directory, or absolute; any may be left out
//! train = "my/train.tsv"
//! dev = { path = "my/dev.tsv", max_examples = 500 }   # first 500 examples only
//! # skip_examples = N skips the first N (train and dev can be disjoint parts of one file)
//! test = { path = "my/test.tsv", unlabeled = true }   # file without labels: label = None
//! ```
//!
//! Label values are matched as strings after trimming spaces: "entailment", "0", and in JSONL and
//! Parquet also `true`/`false` and numbers in their JSON spelling ("true", "1"). A split table may also override
//! `header`, `text`, `pair` and `label` for that one file (see the built-in `tasks/cola.toml`).
//! TSV files are split on tabs only (quotes are ordinary characters); CSV fields may be quoted
//! (and then hold commas, doubled quotes and line breaks); a UTF-8 BOM and `\r\n` line endings
//! are accepted, empty lines skipped. Parquet files (any compression the hub uses: snappy, zstd,
//! gzip) are read row by row; errors name the 1-based row.
//!
//! # Prompt task TOML
//!
//! A prompt task (for decoder LMs) reads JSONL records or TSV, CSV or Parquet rows, renders a prompt from a
//! template, and has the model either pick one of several candidate answers or write a free-form
//! one:
//!
//! ```toml
//! name = "my-qa"
//! kind = "prompt"           # marks a prompt task
//! description = "optional one-liner"
//! template = "{passage}\nQuestion: {question.text}?\nAnswer:"   # {field}, {a.b} nested; {{ }} literal braces
//! separator = " "           # between prompt and answer when no chat template is used (default " ")
//! chat_template = true      # render the prompt with the tokenizer's chat template if it has one (default)
//! answer = { kind = "candidates", field = "label", candidates = [
//!     { value = "true", text = "yes" }, { value = "false", text = "no" } ] }
//! metrics = ["accuracy"]    # "accuracy" for candidate answers, "exact_match" for free-form ones
//! format = "jsonl"          # default; or "tsv": a header row names the columns, and {0}, {1}, …
//!                           # name them by position (GLUE's MRPC: template = "{3}\n{4}", field = "0")
//!
//! [splits]                  # as above, with max_examples and unlabeled
//! train = "my/train.jsonl"
//! dev = { path = "my/val.jsonl", max_examples = 500 }
//! ```
//!
//! The three answer kinds:
//!
//! - `candidates`: the same candidates for every example; the gold one is the candidate whose
//!   `value` equals the `field`'s value (matched as strings; JSON `true` is "true", `1` is "1").
//! - `choices`: per-example candidates from a list of choice objects (ARC has 3 to 5), e.g.
//!   `answer = { kind = "choices", field = "answerKey", list = "question.choices", key = "label",
//!   line = "{label}. {text}", candidate = "{label}" }`. The template's `{choices}` placeholder is
//!   the choices' `line`s joined by newlines; each choice's `candidate` is an answer, and the gold
//!   one is the choice whose `key` equals `field`.
//! - `free`: `answer = { kind = "free", field = "answer" }`; the field's whole text, followed by EOS,
//!   is the training target; [`extract_final_number`] of a generation is compared with the field's.
//!
//! With a chat template (`chat_template.jinja` or the `chat_template` of `tokenizer_config.json`
//! beside `tokenizer.json`), the prompt is the single user turn of a conversation rendered with
//! `add_generation_prompt = true`, and the answer (leading spaces dropped) follows it; otherwise
//! the answer follows the prompt after `separator`. Prompt and answer are tokenized apart; a prompt
//! too long for `max_len` is cut from the left, an answer never (an answer that alone does not fit
//! is an error).

mod batch;
mod builtin;
mod classes;
mod error;
mod example;
mod holdout;
mod metrics;
mod paths;
mod prompt;
mod readers;
mod spec;
mod split;
mod tokenize;

pub use batch::{
    pad_batch, padding_stats, plan_batches, plan_eval_batches, restore_order, BatchLabels,
    BatchStrategy, PaddedBatch, PaddingStats, BUCKET_WINDOW_BATCHES,
};
pub use builtin::{
    builtin_prompt_task, builtin_prompt_task_names, builtin_task, builtin_task_names,
    load_any_task, load_any_task_file, load_prompt_task, load_task, load_task_file, AnyTask,
};
pub use classes::{macro_f1, ClassReport};
pub use error::DataError;
pub use example::{Example, Label};
pub use holdout::hold_out;
pub use metrics::{
    accuracy, binary_f1, compute_metrics, majority_accuracy, matthews, pearson, spearman, Metric,
    Predictions,
};
pub use paths::{resolve_data_dir, resolve_data_dir_from, DATA_DIR_ENV};
pub use prompt::{
    exact_match, extract_final_number, numbers_match, AnswerSpec, Candidate, CandidateRow,
    CausalBatch, FirstTokenChoices, PromptAnswer, PromptEncoding, PromptExample, PromptKind,
    PromptMetric, PromptPredictions, PromptSplit, PromptTaskSpec, PromptTokenizer,
    CHOICES_PLACEHOLDER, FINAL_ANSWER_MARKER, IGNORE_INDEX,
};
pub use spec::{Column, Format, LabelSpec, Split, SplitFile, Splits, TaskSpec};
pub use split::TokenizedSplit;
pub use tokenize::{Encoding, TextTokenizer};
