//! Tests on the real GLUE files and the default MiniLM tokenizer.
//!
//! Both are located as the project locates them (`resolve_data_dir` from the workspace root, and
//! `models/all-MiniLM-L6-v2/tokenizer.json`); a test skips with a printed note when one is absent.
//! CI has both.

use std::path::{Path, PathBuf};

use taso_data::{
    builtin_task, builtin_task_names, padding_stats, plan_batches, BatchStrategy, DataError,
    Example, Label, Split, TextTokenizer,
};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data_dir() -> Option<PathBuf> {
    match taso_data::resolve_data_dir_from(None, &workspace_root()) {
        Ok(dir) => Some(dir),
        Err(err) => {
            eprintln!("note: skipping, no task data: {err}");
            None
        }
    }
}

fn tokenizer(max_len: usize) -> Option<TextTokenizer> {
    let path = workspace_root().join("models/all-MiniLM-L6-v2/tokenizer.json");
    if !path.is_file() {
        eprintln!(
            "note: skipping, {} is absent (run scripts/bootstrap.sh)",
            path.display()
        );
        return None;
    }
    Some(TextTokenizer::from_file(&path, max_len).unwrap())
}

fn read(task: &str, split: Split, dir: &Path) -> Vec<Example> {
    builtin_task(task).unwrap().read_split(dir, split).unwrap()
}

#[test]
fn builtin_split_sizes_match_the_data_readme() {
    let Some(dir) = data_dir() else { return };
    let expected = [
        ("rte", 2490, 277),
        ("mrpc", 3668, 408),
        ("sst2", 67349, 872),
        ("cola", 8551, 1043),
        ("stsb", 5749, 1500),
        ("wnli", 635, 71),
    ];
    for (task, train, dev) in expected {
        let train_examples = read(task, Split::Train, &dir);
        let dev_examples = read(task, Split::Dev, &dir);
        assert_eq!(
            (train_examples.len(), dev_examples.len()),
            (train, dev),
            "{task}"
        );
        assert!(
            train_examples
                .iter()
                .chain(&dev_examples)
                .all(|e| e.label.is_some()),
            "{task}"
        );
    }
    assert_eq!(read("qnli", Split::Dev, &dir).len(), 5463);
    assert_eq!(builtin_task_names().len(), expected.len() + 1);
}

#[test]
fn test_splits_are_read_without_labels() {
    let Some(dir) = data_dir() else { return };
    for (task, count) in [
        ("rte", 3000),
        ("cola", 1063),
        ("mrpc", 1725),
        ("stsb", 1379),
        ("qnli", 5463),
    ] {
        let test = read(task, Split::Test, &dir);
        assert_eq!(test.len(), count, "{task}");
        assert!(test.iter().all(|e| e.label.is_none()), "{task}");
    }
    assert_eq!(
        read("cola", Split::Test, &dir)[0].text,
        "Bill whistled past the house."
    );
}

#[test]
fn qnli_train_is_reported_unavailable() {
    let Some(dir) = data_dir() else { return };
    let err = builtin_task("qnli")
        .unwrap()
        .read_split(&dir, Split::Train)
        .unwrap_err();
    assert!(matches!(err, DataError::SplitUnavailable { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("no train split") && message.contains("not available"),
        "{message}"
    );
}

#[test]
fn file_quirks_are_handled() {
    let Some(dir) = data_dir() else { return };
    // MRPC: BOM before the header's `Quality`; quotes are ordinary characters.
    let mrpc = read("mrpc", Split::Dev, &dir);
    assert_eq!(
        mrpc[0].pair.as_deref(),
        Some("\"The foodservice pie business does not fit our long-term growth strategy.")
    );
    assert_eq!(mrpc[0].label, Some(Label::Class(1)));
    // CoLA: headerless, label in column 1, sentence in column 3.
    let cola = read("cola", Split::Dev, &dir);
    assert_eq!(
        cola[0].text,
        "The sailors rode the breeze clear of the rocks."
    );
    assert_eq!(cola[0].label, Some(Label::Class(1)));
    // STS-B: regression in [0, 5].
    let stsb = read("stsb", Split::Dev, &dir);
    assert_eq!(stsb[0].label, Some(Label::Score(5.0)));
    assert!(stsb
        .iter()
        .all(|e| matches!(e.label, Some(Label::Score(s)) if (0.0..=5.0).contains(&s))));
    // RTE: class id = position in the label list.
    assert_eq!(
        read("rte", Split::Train, &dir)[0].label,
        Some(Label::Class(1)),
        "not_entailment"
    );
}

#[test]
fn tokenization_matches_hugging_face() {
    let Some(tokenizer) = tokenizer(128) else {
        return;
    };
    assert_eq!(tokenizer.pad_id(), 0);
    assert_eq!(tokenizer.token_to_id("[CLS]"), Some(101));
    let examples = [
        Example {
            text: "Hello, World! Isn't \"TASO\" naïve?".into(),
            pair: None,
            label: None,
        },
        Example {
            text: "A man is playing.".into(),
            pair: Some("Ein Mann spielt.".into()),
            label: None,
        },
    ];
    let encodings = tokenizer.encode(&examples).unwrap();
    // Expected ids from Python `tokenizers` 0.23.3 on the same tokenizer.json (no padding,
    // truncation longest_first at 128).
    assert_eq!(
        encodings[0].input_ids,
        [101, 7592, 1010, 2088, 999, 3475, 1005, 1056, 1000, 11937, 6499, 1000, 15743, 1029, 102]
    );
    assert!(encodings[0].token_type_ids.iter().all(|&t| t == 0));
    assert_eq!(
        encodings[1].input_ids,
        [101, 1037, 2158, 2003, 2652, 1012, 102, 16417, 10856, 11867, 9257, 2102, 1012, 102]
    );
    assert_eq!(
        encodings[1].token_type_ids,
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    );
}

#[test]
fn rte_tokenization_and_bucketed_padding() {
    let (Some(dir), Some(tokenizer)) = (data_dir(), tokenizer(128)) else {
        return;
    };
    let examples = read("rte", Split::Train, &dir);
    let encodings = tokenizer.encode(&examples).unwrap();
    let lengths: Vec<usize> = encodings.iter().map(|e| e.len()).collect();

    // Totals over all 2490 pairs, from Python `tokenizers` 0.23.3 with the same settings.
    let id_sum: u64 = encodings
        .iter()
        .flat_map(|e| &e.input_ids)
        .map(|&id| u64::from(id))
        .sum();
    let type1: u64 = encodings
        .iter()
        .flat_map(|e| &e.token_type_ids)
        .map(|&t| u64::from(t))
        .sum();
    assert_eq!(
        (lengths.iter().sum::<usize>(), id_sum, type1),
        (165_740, 716_115_205, 31_361)
    );
    // Row 1675 is 289 tokens untruncated (282 + 8 with both texts' specials): longest-first cuts the
    // first text only, to 119 tokens, so segment 0 is [CLS] + 119 + [SEP] = 121 tokens.
    let longest = &encodings[1675];
    assert_eq!(longest.len(), 128);
    assert_eq!(
        longest.token_type_ids.iter().filter(|&&t| t == 0).count(),
        121
    );
    assert_eq!(longest.input_ids[..4], [101, 4701, 2038, 3488]);
    assert_eq!(
        longest.input_ids[116..],
        [2000, 3362, 2402, 2111, 102, 12418, 2003, 1037, 4467, 2194, 1012, 102]
    );

    let stats = |strategy| padding_stats(&lengths, &plan_batches(&lengths, 32, strategy, 0, 0));
    let bucketed = stats(BatchStrategy::Bucketed);
    let random = stats(BatchStrategy::Random);
    eprintln!("RTE train: bucketed {bucketed:?}, random {random:?}");
    assert!(
        bucketed.mean_padded_len < 1.10 * bucketed.mean_true_len,
        "{bucketed:?}"
    );
    assert!(random.mean_padded_len > 120.0, "{random:?}");
}
