//! User-defined TOML tasks over small files written into a temporary directory, and the errors
//! that bad files give.

use std::path::Path;

mod common;

use common::write_parquet;
use taso_data::{load_task, DataError, Example, Label, Split, TaskSpec};

const TSV_TASK: &str = r#"
name = "toy-nli"
format = "tsv"
text = "premise"
pair = "hypothesis"
label = "label"
labels = { kind = "classes", names = ["yes", "no"] }
metrics = ["accuracy", "f1"]

[splits]
train = "toy/train.tsv"
dev = { path = "toy/train.tsv", max_examples = 1 }
test = { path = "toy/test.tsv", unlabeled = true }
"#;

const JSONL_TASK: &str = r#"
name = "toy-boolq"
format = "jsonl"
text = "question"
pair = "passage"
label = "answer"
labels = { kind = "classes", names = ["false", "true"] }
metrics = ["accuracy"]

[splits]
train = "boolq/train.jsonl"
test = { path = "boolq/test.jsonl", unlabeled = true }
"#;

fn write(dir: &Path, relative: &str, content: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Writes `task` as `task.toml` under `dir` and loads it the way users do.
fn load(dir: &Path, task: &str) -> TaskSpec {
    write(dir, "task.toml", task);
    load_task(dir.join("task.toml").to_str().unwrap()).unwrap()
}

fn error_of(task: &TaskSpec, dir: &Path, split: Split) -> String {
    task.read_split(dir, split).unwrap_err().to_string()
}

#[test]
fn tsv_task_with_bom_crlf_quotes_and_unlabeled_test() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "toy/train.tsv",
        "\u{feff}premise\thypothesis\tlabel\r\nHe said \"hi.\tHe spoke.\tyes\r\n\r\nA cat.\tA dog.\t no\r\n",
    );
    write(dir.path(), "toy/test.tsv", "premise\thypothesis\nX\tY\n");
    let task = load(dir.path(), TSV_TASK);

    let train = task.read_split(dir.path(), Split::Train).unwrap();
    assert_eq!(
        train,
        [
            Example {
                text: "He said \"hi.".into(),
                pair: Some("He spoke.".into()),
                label: Some(Label::Class(0))
            },
            Example {
                text: "A cat.".into(),
                pair: Some("A dog.".into()),
                label: Some(Label::Class(1))
            },
        ]
    );
    assert_eq!(
        task.read_split(dir.path(), Split::Dev).unwrap().len(),
        1,
        "max_examples"
    );
    let test = task.read_split(dir.path(), Split::Test).unwrap();
    assert_eq!(test[0].label, None);

    // Disjoint parts of one file: the dev split skips what the train split reads.
    let parts = TSV_TASK
        .replace(
            "train = \"toy/train.tsv\"",
            "train = { path = \"toy/train.tsv\", max_examples = 1 }",
        )
        .replace("max_examples = 1 }\ntest", "skip_examples = 1 }\ntest");
    let task = load(dir.path(), &parts);
    assert_eq!(
        task.read_split(dir.path(), Split::Train).unwrap(),
        train[..1]
    );
    assert_eq!(task.read_split(dir.path(), Split::Dev).unwrap(), train[1..]);
}

#[test]
fn jsonl_task_with_bool_labels_and_regression() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "boolq/train.jsonl",
        "{\"question\": \"is it?\", \"passage\": \"It is.\", \"answer\": true, \"idx\": 0}\n\
         {\"question\": \"was it?\", \"passage\": \"No.\", \"answer\": false}\n",
    );
    write(
        dir.path(),
        "boolq/test.jsonl",
        "{\"question\": \"q\", \"passage\": \"p\"}\n",
    );
    let task = load(dir.path(), JSONL_TASK);
    let train = task.read_split(dir.path(), Split::Train).unwrap();
    let labels: Vec<_> = train.iter().map(|e| e.label).collect();
    assert_eq!(labels, [Some(Label::Class(1)), Some(Label::Class(0))]);
    assert_eq!(train[0].pair.as_deref(), Some("It is."));
    assert_eq!(
        task.read_split(dir.path(), Split::Test).unwrap()[0].label,
        None
    );
    let skipped = JSONL_TASK.replace(
        "train = \"boolq/train.jsonl\"",
        "train = { path = \"boolq/train.jsonl\", skip_examples = 1 }",
    );
    let second = load(dir.path(), &skipped)
        .read_split(dir.path(), Split::Train)
        .unwrap();
    assert_eq!(second, train[1..]);

    let regression = JSONL_TASK
        .replace(
            "{ kind = \"classes\", names = [\"false\", \"true\"] }",
            "{ kind = \"regression\" }",
        )
        .replace("[\"accuracy\"]", "[\"pearson\"]");
    write(dir.path(), "boolq/train.jsonl", "{\"question\": \"a\", \"passage\": \"b\", \"answer\": 4}\n{\"question\": \"c\", \"passage\": \"d\", \"answer\": \"2.5\"}\n");
    let task = load(dir.path(), &regression);
    let scores: Vec<_> = task
        .read_split(dir.path(), Split::Train)
        .unwrap()
        .iter()
        .map(|e| e.label)
        .collect();
    assert_eq!(scores, [Some(Label::Score(4.0)), Some(Label::Score(2.5))]);
}

#[test]
fn tsv_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let task = load(dir.path(), TSV_TASK);
    let train = dir.path().join("toy/train.tsv");
    let name = train.display().to_string();

    let err = error_of(&task, dir.path(), Split::Train);
    assert!(
        err.contains(&name) && err.contains("not found") && err.contains("TASO_DATA_DIR"),
        "{err}"
    );

    write(
        dir.path(),
        "toy/train.tsv",
        "premise\thypothesis\tlabel\na\tb\tyes\nc\td\n",
    );
    let err = error_of(&task, dir.path(), Split::Train);
    assert!(
        err.contains(&format!("{name}:3"))
            && err.contains("malformed row")
            && err.contains("2 fields")
            && err.contains("split on tabs"),
        "{err}"
    );

    write(
        dir.path(),
        "toy/train.tsv",
        "premise\thypothesis\tlabel\na\tb\tyes\nc\td\tmaybe\n",
    );
    let err = error_of(&task, dir.path(), Split::Train);
    assert!(
        err.contains(&format!("{name}:3"))
            && err.contains("`maybe`")
            && err.contains("`yes`, `no`"),
        "{err}"
    );

    write(dir.path(), "toy/train.tsv", "premise\thypothesis\tlabel\n");
    let err = task.read_split(dir.path(), Split::Train).unwrap_err();
    assert!(
        matches!(err, DataError::EmptySplit { .. }) && err.to_string().contains(&name),
        "{err}"
    );

    write(
        dir.path(),
        "toy/train.tsv",
        "premise\thypo\tlabel\na\tb\tyes\n",
    );
    let err = error_of(&task, dir.path(), Split::Train);
    assert!(
        err.contains(&format!("{name}:1"))
            && err.contains("`hypothesis` not found")
            && err.contains("`hypo`"),
        "{err}"
    );

    write(dir.path(), "toy/test.tsv", "premise\thypothesis\nX\tY\n");
    let labeled_test = TSV_TASK.replace(", unlabeled = true", "");
    let err = error_of(&load(dir.path(), &labeled_test), dir.path(), Split::Test);
    assert!(
        err.contains("`label` not found") && err.contains("unlabeled = true"),
        "{err}"
    );
}

#[test]
fn regression_and_jsonl_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let regression = TSV_TASK
        .replace(
            "{ kind = \"classes\", names = [\"yes\", \"no\"] }",
            "{ kind = \"regression\" }",
        )
        .replace("[\"accuracy\", \"f1\"]", "[\"spearman\"]");
    let task = load(dir.path(), &regression);
    write(
        dir.path(),
        "toy/train.tsv",
        "premise\thypothesis\tlabel\na\tb\t1.5\nc\td\thigh\n",
    );
    let err = error_of(&task, dir.path(), Split::Train);
    assert!(
        err.contains("train.tsv:3") && err.contains("`high` is not a number"),
        "{err}"
    );

    let task = load(dir.path(), JSONL_TASK);
    write(
        dir.path(),
        "boolq/train.jsonl",
        "{\"question\": \"q\", \"passage\": \"p\", \"answer\": true}\n[1, 2]\n",
    );
    let err = error_of(&task, dir.path(), Split::Train);
    assert!(
        err.contains("train.jsonl:2") && err.contains("not a JSON object"),
        "{err}"
    );

    write(
        dir.path(),
        "boolq/train.jsonl",
        "{\"question\": \"q\", \"answer\": true}\n",
    );
    let err = error_of(&task, dir.path(), Split::Train);
    assert!(
        err.contains("train.jsonl:1") && err.contains("`passage` is missing"),
        "{err}"
    );

    write(
        dir.path(),
        "boolq/train.jsonl",
        "{\"question\": 7, \"passage\": \"p\", \"answer\": true}\n",
    );
    let err = error_of(&task, dir.path(), Split::Train);
    assert!(
        err.contains("`question` is a number, not a string"),
        "{err}"
    );
}

#[test]
fn toml_mistakes_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("task.toml");
    std::fs::write(
        &path,
        TSV_TASK.replace("metrics = [\"accuracy\", \"f1\"]", "metrics = [\"bleu\"]"),
    )
    .unwrap();
    let err = load_task(path.to_str().unwrap()).unwrap_err().to_string();
    assert!(
        err.contains("task.toml") && err.contains("bleu") && err.contains("line"),
        "{err}"
    );

    std::fs::write(&path, TSV_TASK.replace("[\"yes\", \"no\"]", "[]")).unwrap();
    let err = load_task(path.to_str().unwrap()).unwrap_err().to_string();
    assert!(
        err.contains("toy-nli") && err.contains("at least 2"),
        "{err}"
    );
}

#[test]
fn csv_task_reads_quoted_fields_and_names_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let task = load(
        dir.path(),
        &TSV_TASK
            .replace("format = \"tsv\"", "format = \"csv\"")
            .replace(".tsv", ".csv"),
    );
    // A quoted comma, a doubled quote, a line break inside quotes, CRLF and a blank line.
    write(
        dir.path(),
        "toy/train.csv",
        "premise,hypothesis,label\r\n\"He said \"\"hi, there\"\".\",He spoke.,yes\r\n\r\n\"A cat\non a mat.\",A dog., no\r\n",
    );
    let examples = task.read_split(dir.path(), Split::Train).unwrap();
    assert_eq!(
        examples,
        [
            Example {
                text: "He said \"hi, there\".".into(),
                pair: Some("He spoke.".into()),
                label: Some(Label::Class(0)),
            },
            Example {
                text: "A cat\non a mat.".into(),
                pair: Some("A dog.".into()),
                label: Some(Label::Class(1)),
            },
        ]
    );
    // An unquoted comma adds a field: the error names the row's first line and says to quote.
    write(
        dir.path(),
        "toy/train.csv",
        "premise,hypothesis,label\n\"two\nlines\",b,yes\nc, d,e,no\n",
    );
    let err = error_of(&task, dir.path(), Split::Train);
    let name = dir.path().join("toy/train.csv").display().to_string();
    assert!(
        err.contains(&format!("{name}:4")) && err.contains("4 fields") && err.contains("quoted"),
        "{err}"
    );
}

#[test]
fn parquet_task_reads_columns_as_fields() {
    let dir = tempfile::tempdir().unwrap();
    let task = load(
        dir.path(),
        r#"
name = "toy-sst2"
format = "parquet"
text = "sentence"
label = "label"
labels = { kind = "classes", names = ["0", "1"] }
metrics = ["accuracy"]

[splits]
train = "sst2/train.parquet"
dev = { path = "sst2/train.parquet", skip_examples = 1, max_examples = 1 }
"#,
    );
    let train = dir.path().join("sst2/train.parquet");
    write_parquet(
        &train,
        &["a fine film, really", "dull", "bright"],
        &[1, 0, 1],
    );
    let examples = task.read_split(dir.path(), Split::Train).unwrap();
    let labels: Vec<_> = examples.iter().map(|e| e.label).collect();
    assert_eq!(examples[0].text, "a fine film, really");
    assert_eq!(
        labels,
        [
            Some(Label::Class(1)),
            Some(Label::Class(0)),
            Some(Label::Class(1))
        ]
    );
    let dev = task.read_split(dir.path(), Split::Dev).unwrap();
    assert_eq!(dev.len(), 1);
    assert_eq!(dev[0].text, "dull");
    // A label outside the classes names the row; a file that is not Parquet is refused by name.
    write_parquet(&train, &["a", "b"], &[1, 7]);
    let err = error_of(&task, dir.path(), Split::Train);
    assert!(
        err.contains("train.parquet:2") && err.contains('7'),
        "{err}"
    );
    std::fs::write(&train, "sentence\tlabel\n").unwrap();
    let err = error_of(&task, dir.path(), Split::Train);
    assert!(
        err.contains("train.parquet") && err.contains("not a readable Parquet file"),
        "{err}"
    );
    // Parquet columns are named: a position is refused when the task is loaded.
    write(
        dir.path(),
        "task.toml",
        "name = \"x\"\nformat = \"parquet\"\ntext = 0\nlabel = \"label\"\nlabels = { kind = \"regression\" }\nmetrics = [\"pearson\"]\n[splits]\ntrain = \"t.parquet\"\n",
    );
    let err = load_task(dir.path().join("task.toml").to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("format = \"parquet\"") && err.contains("named"),
        "{err}"
    );
}
