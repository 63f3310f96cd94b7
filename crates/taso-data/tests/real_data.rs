//! Tests on the real GLUE, SuperGLUE, ARC and GSM8K files and the default MiniLM tokenizer.
//!
//! Both are located as the project locates them (`resolve_data_dir` from the workspace root, and
//! `models/all-MiniLM-L6-v2/tokenizer.json`); a test skips with a printed note when one is absent.
//! CI has both.

use std::path::{Path, PathBuf};

use taso_data::{
    builtin_prompt_task, builtin_task, builtin_task_names, extract_final_number, padding_stats,
    plan_batches, BatchStrategy, DataError, Example, Label, PromptAnswer, PromptExample,
    PromptSplit, PromptTokenizer, Split, TextTokenizer,
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

fn tokenizer_file() -> Option<PathBuf> {
    let path = workspace_root().join("models/all-MiniLM-L6-v2/tokenizer.json");
    if !path.is_file() {
        eprintln!(
            "note: skipping, {} is absent (run scripts/bootstrap.sh)",
            path.display()
        );
        return None;
    }
    Some(path)
}

fn tokenizer(max_len: usize) -> Option<TextTokenizer> {
    Some(TextTokenizer::from_file(&tokenizer_file()?, max_len).unwrap())
}

fn read(task: &str, split: Split, dir: &Path) -> Vec<Example> {
    builtin_task(task).unwrap().read_split(dir, split).unwrap()
}

#[test]
fn the_repository_ships_rte_whole() {
    let shipped = workspace_root().join("data");
    assert_eq!(read("rte", Split::Train, &shipped).len(), 2490);
    assert_eq!(read("rte", Split::Dev, &shipped).len(), 277);
    let err = builtin_task("mrpc")
        .unwrap()
        .read_split(&shipped, Split::Train)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--data-dir") && err.contains("TASO_DATA_DIR"),
        "{err}"
    );
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

fn read_prompts(task: &str, split: Split, dir: &Path) -> Vec<PromptExample> {
    builtin_prompt_task(task)
        .unwrap()
        .read_split(dir, split)
        .unwrap()
}

/// (candidate count, gold position) of each example of a candidate task.
fn choices(examples: &[PromptExample]) -> Vec<(usize, usize)> {
    examples
        .iter()
        .map(|e| match &e.answer {
            PromptAnswer::Choice { candidates, gold } => (candidates.len(), gold.unwrap()),
            PromptAnswer::Free { .. } => panic!("not a candidate answer"),
        })
        .collect()
}

#[test]
fn builtin_prompt_tasks_read_the_shared_files() {
    let Some(dir) = data_dir() else { return };
    // Sizes and class balance from the data README and the files.
    for (task, split, size, yes) in [
        ("boolq", Split::Train, 9427, 5874),
        ("boolq", Split::Dev, 3270, 2033),
        ("wic", Split::Train, 5428, 2714),
        ("wic", Split::Dev, 638, 319),
    ] {
        let golds = choices(&read_prompts(task, split, &dir));
        assert_eq!(golds.len(), size, "{task} {split}");
        assert_eq!(
            golds.iter().filter(|(_, gold)| *gold == 0).count(),
            yes,
            "{task} {split}: yes is candidate 0"
        );
    }
    // GLUE's TSV files as prompt tasks: the positive answer is candidate 0.
    for (task, split, size, positive) in [
        ("sst2-prompt", Split::Train, 67349, 37569),
        ("sst2-prompt", Split::Dev, 872, 444),
        ("rte-prompt", Split::Train, 2490, 1249),
        ("rte-prompt", Split::Dev, 277, 146),
        ("mrpc-prompt", Split::Train, 3668, 2474),
        ("mrpc-prompt", Split::Dev, 408, 279),
        ("qnli-prompt", Split::Train, 4463, 2223),
        ("qnli-prompt", Split::Dev, 1000, 479),
    ] {
        let golds = choices(&read_prompts(task, split, &dir));
        assert_eq!(golds.len(), size, "{task} {split}");
        assert_eq!(
            golds.iter().filter(|(_, gold)| *gold == 0).count(),
            positive,
            "{task} {split}: the positive answer is candidate 0"
        );
    }
    let mrpc = &read_prompts("mrpc-prompt", Split::Train, &dir)[0];
    assert!(
        mrpc.prompt
            .starts_with("Sentence 1: Amrozi accused his brother")
            && mrpc
                .prompt
                .contains("\nSentence 2: Referring to him as only"),
        "{}",
        mrpc.prompt
    );
    let boolq = &read_prompts("boolq", Split::Dev, &dir)[0];
    assert!(boolq.prompt.ends_with("Question: does ethanol take more energy make that produces?\nAnswer yes or no.\nAnswer:"), "{}", boolq.prompt);

    // ARC: 3 to 5 choices (8, 2577 and 5 examples over all splits), every gold among them.
    let mut by_count = [0usize; 6];
    for (split, size) in [(Split::Train, 1119), (Split::Dev, 299), (Split::Test, 1172)] {
        let golds = choices(&read_prompts("arc", split, &dir));
        assert_eq!(golds.len(), size, "arc {split}");
        golds.iter().for_each(|(count, _)| by_count[*count] += 1);
    }
    assert_eq!(by_count[3..], [8, 2577, 5]);
    let arc = &read_prompts("arc-challenge", Split::Train, &dir)[0];
    assert!(
        arc.prompt.contains("\nA. dry palms\nB. wet palms\n"),
        "{}",
        arc.prompt
    );

    // GSM8K: every worked answer ends in a final number; Janet's ducks make $18.
    for (split, size) in [(Split::Train, 7473), (Split::Test, 1319)] {
        let examples = read_prompts("gsm8k", split, &dir);
        assert_eq!(examples.len(), size);
        let numbers: Vec<Option<f64>> = examples
            .iter()
            .map(|e| match &e.answer {
                PromptAnswer::Free { target } => extract_final_number(target.as_ref().unwrap()),
                PromptAnswer::Choice { .. } => panic!("GSM8K is free-form"),
            })
            .collect();
        assert!(numbers.iter().all(Option::is_some), "gsm8k {split}");
        if split == Split::Test {
            assert_eq!(numbers[0], Some(18.0));
        }
    }
}

#[test]
fn real_prompt_splits_mask_exactly_the_gold_answers() {
    let (Some(dir), Some(file)) = (data_dir(), tokenizer_file()) else {
        return;
    };
    // The MiniLM tokenizer with a ChatML template and [SEP] as EOS, so both paths run on real text.
    let folder = tempfile::tempdir().unwrap();
    std::fs::copy(&file, folder.path().join("tokenizer.json")).unwrap();
    let chatml = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    std::fs::write(
        folder.path().join("tokenizer_config.json"),
        format!(r#"{{"eos_token": "[SEP]", "chat_template": "{chatml}"}}"#),
    )
    .unwrap();
    let tokenizer = PromptTokenizer::from_path(folder.path(), 512).unwrap();
    for (name, split, chat) in [
        ("arc", Split::Dev, true),
        ("gsm8k", Split::Test, true),
        ("boolq", Split::Dev, false),
    ] {
        let mut task = builtin_prompt_task(name).unwrap();
        task.chat_template = chat;
        let examples = task.read_split(&dir, split).unwrap();
        let encoded = PromptSplit::new(&tokenizer, &task, &examples).unwrap();
        let lengths = encoded.training_lengths().unwrap();
        assert!(lengths.iter().all(|&l| l <= 512), "{name}");
        for batch_indices in plan_batches(&lengths, 16, BatchStrategy::Bucketed, 0, 0) {
            let batch = encoded.training_batch(&batch_indices);
            for (row, &index) in batch_indices.iter().enumerate() {
                let cells = row * batch.seq_len..(row + 1) * batch.seq_len;
                let masked: Vec<u32> = cells
                    .filter(|&i| batch.loss_mask[i] == 1)
                    .map(|i| batch.input_ids[i] as u32)
                    .collect();
                assert_eq!(
                    masked,
                    encoded.encodings[index].gold_ids().unwrap(),
                    "{name} example {index}"
                );
            }
        }
        let cut = encoded.encodings.iter().filter(|e| e.truncated > 0).count();
        eprintln!(
            "{name} {split}: {} examples, {cut} prompts cut at 512",
            encoded.len()
        );
    }
}

/// (length, id sum, first 6, last 6) of a token list, as the reference script prints them.
fn fingerprint(ids: &[u32]) -> (usize, u64, Vec<u32>, Vec<u32>) {
    let sum = ids.iter().map(|&id| u64::from(id)).sum();
    let tail = ids[ids.len().saturating_sub(6)..].to_vec();
    (ids.len(), sum, ids[..ids.len().min(6)].to_vec(), tail)
}

#[test]
fn smollm2_prompts_match_hugging_face_apply_chat_template() {
    let folder = workspace_root().join("models/SmolLM2-135M-Instruct");
    let Some(dir) = data_dir() else { return };
    if !folder.join("tokenizer_config.json").is_file() {
        eprintln!(
            "note: skipping, {} is absent (run scripts/bootstrap.sh)",
            folder.display()
        );
        return;
    }
    let tokenizer = PromptTokenizer::from_path(&folder, 1024).unwrap();
    assert_eq!(tokenizer.eos_id(), Some(2), "<|im_end|>");
    // Expected from transformers 5.24 on the same folder: apply_chat_template(add_generation_prompt=True,
    // tokenize=True) for the prompt, tokenizer(answer, add_special_tokens=False) + [eos] for the
    // answer; without the template tokenizer(prompt) and tokenizer(" " + answer).
    let chat_prompt_tail = vec![2, 198, 1, 520, 9531, 198];
    let cases = [
        (
            "arc",
            Split::Dev,
            true,
            (
                117,
                479_896,
                vec![1, 9690, 198, 2683, 359, 253],
                chat_prompt_tail.clone(),
            ),
            vec![(1, 49)],
        ),
        (
            "arc",
            Split::Dev,
            false,
            (
                87,
                352_134,
                vec![17872, 42, 18742, 284, 5145, 10011],
                vec![2887, 4187, 30, 198, 21350, 42],
            ),
            vec![(1, 330)],
        ),
        (
            "gsm8k",
            Split::Test,
            true,
            (
                100,
                448_454,
                vec![1, 9690, 198, 2683, 359, 253],
                chat_prompt_tail,
            ),
            vec![(64, 180_171)],
        ),
        (
            "gsm8k",
            Split::Test,
            false,
            (
                70,
                320_692,
                vec![17872, 42, 38615, 417, 99, 26077],
                vec![23, 2342, 47, 198, 21350, 42],
            ),
            vec![(63, 204_234)],
        ),
    ];
    for (name, split, chat, prompt, first_answer) in cases {
        let mut task = builtin_prompt_task(name).unwrap();
        task.chat_template = chat;
        let examples = task.read_split(&dir, split).unwrap();
        let encoded = PromptSplit::new(&tokenizer, &task, &examples[..1]).unwrap();
        let encoding = &encoded.encodings[0];
        assert_eq!(
            fingerprint(&encoding.prompt_ids),
            prompt,
            "{name} chat={chat}"
        );
        let (len, sum, ..) = fingerprint(&encoding.answer_ids[0]);
        assert_eq!(vec![(len, sum)], first_answer, "{name} chat={chat}");
    }
}
