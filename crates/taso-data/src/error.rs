//! The crate's one error type.
//!
//! Every message says what is wrong and how to fix it, and names the file (and line) involved.

use std::path::PathBuf;

use crate::Split;

/// Everything that can go wrong while locating, reading, tokenizing or scoring task data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// No data directory could be found.
    #[error(
        "no task data directory found (tried: {tried}); put the GLUE files under <data dir>/glue/<TASK>/ \
         (e.g. glue/RTE/train.tsv, glue/RTE/dev.tsv, glue/SST-2/train.tsv) and pass it with --data-dir <data dir> \
         (or TASO_DATA_DIR=<data dir>)"
    )]
    DataDirNotFound {
        /// The places that were looked at, in order.
        tried: String,
    },

    /// An explicitly given data directory (argument or `TASO_DATA_DIR`) is not a directory.
    #[error("data directory {path} (from {origin}) does not exist or is not a directory; fix the path or unset {origin}")]
    DataDirInvalid {
        /// The path that was given.
        path: PathBuf,
        /// Where it came from (`the explicit argument` or `TASO_DATA_DIR`).
        origin: &'static str,
    },

    /// A file could not be read.
    #[error("cannot read {path}: {source}; check that the file exists and is readable")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A text file (task TOML, split file, chat template) holds bytes that are not UTF-8.
    #[error("{path}:{line} is not valid UTF-8 (column {column}); save the file as UTF-8")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the first invalid byte.
        line: usize,
        /// Its 1-based byte column.
        column: usize,
    },

    /// A task TOML file does not parse.
    #[error("task file {path} is not a valid task description (see the TOML example in the taso-data crate docs): {message}")]
    TaskFile {
        /// The TOML file.
        path: PathBuf,
        /// The parser's message (it names line and column).
        message: String,
    },

    /// A task name is neither built in nor a path to a `.toml` file.
    #[error(
        "unknown task `{name}`: use a built-in task ({known}) or the path to a task .toml file"
    )]
    UnknownTask {
        /// The name that was asked for.
        name: String,
        /// The built-in names.
        known: String,
    },

    /// A task spec failed validation.
    #[error("task `{task}` is invalid: {problem}")]
    InvalidTask {
        /// The task's name.
        task: String,
        /// What is wrong and how to fix it.
        problem: String,
    },

    /// The task defines no file for the requested split.
    #[error(
        "task `{task}` has no {split} split{note}; use a split it has, or give a file for it under [splits] in a task .toml"
    )]
    SplitUnavailable {
        /// The task's name.
        task: String,
        /// The split that was asked for.
        split: Split,
        /// The task's description in parentheses, or empty.
        note: String,
    },

    /// A split's file does not exist.
    #[error(
        "{split} split of task `{task}`: file {path} not found; pass the data folder that holds {relative} \
         with --data-dir DIR (or TASO_DATA_DIR=DIR), or fix the path under [splits] (the repository ships \
         only RTE, in data/glue/RTE)"
    )]
    MissingFile {
        /// The task's name.
        task: String,
        /// The split.
        split: Split,
        /// The full path that was looked for.
        path: PathBuf,
        /// The path as the task gives it (relative to the data directory, or absolute).
        relative: PathBuf,
    },

    /// A column named by the task is not in the file.
    #[error("{path}:{line}: column {column} not found (the file has {available}); fix the column in the task spec, \
         or mark the split unlabeled = true if it is the label column of a file without labels")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The line whose layout was checked (the header, or the first row).
        line: usize,
        /// The column as the task names it.
        column: String,
        /// What the file offers.
        available: String,
    },

    /// A TSV or CSV row has the wrong number of fields.
    #[error(
        "{path}:{line}: malformed row: {found} fields where the file's first line has {expected}; {advice}"
    )]
    MalformedRow {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The field count of the first line.
        expected: usize,
        /// The field count of this line.
        found: usize,
        /// What usually causes it in this format, and what to do.
        advice: &'static str,
    },

    /// A Parquet file that cannot be read.
    #[error("{path}: not a readable Parquet file ({message}); write it with pyarrow or `datasets` (`Dataset.to_parquet`)")]
    BadParquet {
        /// The file.
        path: PathBuf,
        /// The reader's message.
        message: String,
    },

    /// A CSV file that the CSV reader cannot parse.
    #[error("{path}:{line}: not valid CSV ({message}); fields holding commas, quotes or line breaks must be quoted (\"a, b\"), with quotes doubled inside")]
    BadCsv {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The reader's message.
        message: String,
    },

    /// A JSONL line is not a JSON object.
    #[error("{path}:{line}: not a JSON object ({message}); each line of a .jsonl file must be one JSON object")]
    BadJson {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        message: String,
    },

    /// A field needed by the task is missing or has the wrong type.
    #[error(
        "{path}:{line}: field {field} {problem}; fix the data or the field name in the task spec"
    )]
    BadField {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The field (key or column).
        field: String,
        /// What is wrong with it.
        problem: String,
    },

    /// A label value is not one of the task's classes.
    #[error("{path}:{line}: unknown label `{value}`; allowed labels are {allowed}: fix the row or add the label to the task's label list")]
    UnknownLabel {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The value found.
        value: String,
        /// The task's class names.
        allowed: String,
    },

    /// A regression target is not a number.
    #[error("{path}:{line}: score `{value}` is not a number; regression labels must be decimal numbers such as 3.8")]
    BadScore {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The value found.
        value: String,
    },

    /// A split's file holds no examples.
    #[error("{path} holds no examples; fill it, or remove the split from the task spec")]
    EmptySplit {
        /// The file.
        path: PathBuf,
    },

    /// `run.holdout` asks for as many training examples as there are, or more.
    #[error(
        "run.holdout = {count} would hold out all {total} training examples; set it below {total} \
         (a tenth of the split is typical) or to 0 to select on the dev split"
    )]
    HoldoutTooLarge {
        /// Examples asked for.
        count: usize,
        /// Examples in the training split.
        total: usize,
    },

    /// The tokenizer file could not be loaded or configured.
    #[error("cannot use tokenizer {path}: {message}")]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// What went wrong and how to fix it.
        message: String,
    },

    /// Encoding text failed.
    #[error("tokenization failed: {message}; check that the tokenizer.json is a complete Hugging Face tokenizer")]
    Encode {
        /// The tokenizer's message.
        message: String,
    },

    /// Metric inputs do not fit together.
    #[error("cannot compute {metric}: {problem}")]
    Metric {
        /// The metric.
        metric: String,
        /// What does not fit and how to fix it.
        problem: String,
    },

    /// A field named by a prompt task (template placeholder or answer field) is not in a record.
    #[error(
        "{path}:{line}: {role} `{field}` names no field of the record ({available}){hint}; fix the name in \
         the task's TOML (fields are JSON keys, nested ones joined by dots as in question.stem)"
    )]
    UnknownField {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What names the field: "template placeholder", "answer field", ...
        role: &'static str,
        /// The field path as the task gives it.
        field: String,
        /// The keys that are there.
        available: String,
        /// Extra advice (may be empty).
        hint: &'static str,
    },

    /// A prompt task's answer does not fit into the token budget on its own.
    #[error(
        "task `{task}`, example {example} (0-based): the answer alone is {answer_tokens} tokens, which leaves \
         no room for the prompt within max_len {max_len}; raise max_len above {answer_tokens}, or leave such \
         examples out of the data (prompts are cut from the left, answers never)"
    )]
    AnswerTooLong {
        /// The task's name.
        task: String,
        /// Index of the example in its split.
        example: usize,
        /// Tokens of the (longest candidate) answer, EOS included for free-form answers.
        answer_tokens: usize,
        /// The token budget.
        max_len: usize,
    },

    /// A tokenizer's chat template cannot be loaded or rendered.
    #[error("chat template of {path}: {message}; fix the template, or turn it off (chat_template = false in the task, --no-chat-template)")]
    ChatTemplate {
        /// The file the template came from.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// A task of one kind was given where the other kind is needed.
    #[error("task `{task}` is a {kind} task, but {expected} task is needed here: {advice}")]
    WrongTaskKind {
        /// The task's name.
        task: String,
        /// Its kind ("prompt" or "classification").
        kind: &'static str,
        /// The kind this place takes, with its article ("a classification").
        expected: &'static str,
        /// What to do instead.
        advice: &'static str,
    },

    /// A split without answers was used where answers are needed (training, scoring).
    #[error("{what} needs the gold answer of every example, but example {example} (0-based) has none; use a labeled split (train or dev)")]
    MissingAnswer {
        /// What needed it.
        what: &'static str,
        /// The first example without an answer.
        example: usize,
    },
}
