//! taso-data: tasks, tokenization, batching, metrics. No tch.
//!
//! - [`resolve_data_dir`] finds the data (`TASO_DATA_DIR`, `data/shared`, `../shared/data`).
//! - [`load_task`] gives a built-in GLUE task ([`builtin_task_names`]) or a [`TaskSpec`] from a `.toml`
//!   file; [`TaskSpec::read_split`] reads a split into [`Example`]s.
//! - [`TextTokenizer`] encodes examples with a Hugging Face `tokenizer.json` (longest-first
//!   truncation, no padding).
//! - [`plan_batches`] groups examples (length-bucketed, random or sequential, seeded);
//!   [`pad_batch`] pads one batch to its longest member.
//! - [`compute_metrics`] scores predictions (accuracy, F1, Matthews, Pearson, Spearman).
//!
//! Every failure is a [`DataError`] whose message says what is wrong and how to fix it.
//!
//! # Task TOML
//!
//! ```toml
//! name = "my-nli"
//! description = "optional one-liner, shown in messages"
//! format = "tsv"            # or "jsonl" (one JSON object per line; fields are keys)
//! header = true             # tsv only, default true: the first line names the columns
//! text = "premise"          # column name, or a 0-based index such as text = 0
//! pair = "hypothesis"       # optional second text
//! label = "label"
//! labels = { kind = "classes", names = ["entailment", "not_entailment"] }  # class id = position
//! # labels = { kind = "regression" }   # for a numeric target
//! metrics = ["accuracy"]    # accuracy, f1 (binary, class 1 positive), matthews | pearson, spearman
//!
//! [splits]                  # paths relative to the data directory, or absolute; any may be left out
//! train = "my/train.tsv"
//! dev = { path = "my/dev.tsv", max_examples = 500 }   # first 500 examples only
//! test = { path = "my/test.tsv", unlabeled = true }   # file without labels: label = None
//! ```
//!
//! Label values are matched as strings after trimming spaces: "entailment", "0", and in JSONL also
//! `true`/`false` and numbers in their JSON spelling ("true", "1"). A split table may also override
//! `header`, `text`, `pair` and `label` for that one file (see the built-in `tasks/cola.toml`).
//! TSV files are split on tabs only (quotes are ordinary characters); a UTF-8 BOM and `\r\n` line
//! endings are accepted, empty lines skipped.

mod batch;
mod builtin;
mod error;
mod example;
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
pub use error::DataError;
pub use example::{Example, Label};
pub use metrics::{
    accuracy, binary_f1, compute_metrics, matthews, pearson, spearman, Metric, Predictions,
};
pub use paths::{resolve_data_dir, resolve_data_dir_from, DATA_DIR_ENV};
pub use prompt::{
    exact_match, extract_final_number, numbers_match, AnswerSpec, Candidate, CandidateRow,
    CausalBatch, PromptAnswer, PromptEncoding, PromptExample, PromptKind, PromptMetric,
    PromptPredictions, PromptSplit, PromptTaskSpec, PromptTokenizer, CHOICES_PLACEHOLDER,
    FINAL_ANSWER_MARKER, IGNORE_INDEX,
};
pub use spec::{Column, Format, LabelSpec, Split, SplitFile, Splits, TaskSpec};
pub use split::TokenizedSplit;
pub use tokenize::{Encoding, TextTokenizer};
