//! Prompt tasks end to end on small files and a tiny word-level tokenizer written into a temporary
//! directory: user TOML tasks, chat templates, answer-only loss masks, left truncation, variable
//! choice counts, and the errors bad input gives.

mod common;

use std::path::Path;

use taso_data::{
    load_any_task, load_prompt_task, AnyTask, CausalBatch, DataError, PromptAnswer, PromptEncoding,
    PromptExample, PromptPredictions, PromptSplit, PromptTaskSpec, PromptTokenizer, Split,
};

/// Words of the tiny vocabulary, after its special tokens (ids 0-5).
const WORDS: &[&str] = &[
    "Question",
    ":",
    "?",
    "Answer",
    "yes",
    "no",
    "is",
    "it",
    "blue",
    "sky",
    "the",
    "system",
    "user",
    "assistant",
    "A",
    "B",
    "C",
    "D",
    "E",
    "1",
    "2",
    "3",
    ".",
    "red",
    "green",
    "so",
    "####",
    "4",
    "two",
    "plus",
    "Hi",
];

/// A word-level tokenizer.json whose post-processor adds `<s>` (id 2) before a single text.
fn write_tokenizer(dir: &Path) {
    let specials = [
        "[UNK]",
        "<pad>",
        "<s>",
        "</s>",
        "<|im_start|>",
        "<|im_end|>",
    ];
    let vocab: serde_json::Map<String, serde_json::Value> = specials
        .iter()
        .chain(WORDS)
        .enumerate()
        .map(|(id, token)| (token.to_string(), id.into()))
        .collect();
    let added: Vec<serde_json::Value> = specials
        .iter()
        .enumerate()
        .map(|(id, token)| {
            serde_json::json!({"id": id, "content": token, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "decoder": null,
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [2], "tokens": ["<s>"]}}},
        "model": {"type": "WordLevel", "unk_token": "[UNK]", "vocab": vocab}
    });
    write(dir, "tokenizer.json", &json.to_string());
}

/// ChatML as SmolLM2-Instruct writes it (a system turn first when the conversation has none).
const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are helpful<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

fn write_chat_config(dir: &Path) {
    let config = format!(
        r#"{{"bos_token": "<s>", "eos_token": "<|im_end|>", "pad_token": "<pad>", "chat_template": {}}}"#,
        serde_json::to_string(CHATML).unwrap()
    );
    write(dir, "tokenizer_config.json", &config);
}

fn write(dir: &Path, relative: &str, content: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

const YES_NO_TASK: &str = r#"
name = "toy-yes-no"
kind = "prompt"
template = "Question: is {q.subject} {q.colour} ?\nAnswer:"
answer = { kind = "candidates", field = "label", candidates = [{ value = "true", text = "yes" }, { value = "false", text = "no" }] }
metrics = ["accuracy"]

[splits]
train = "toy/train.jsonl"
test = { path = "toy/test.jsonl", unlabeled = true }
"#;

const YES_NO_DATA: &str =
    "{\"q\": {\"subject\": \"the sky\", \"colour\": \"blue\"}, \"label\": true}\n\
                           {\"q\": {\"subject\": \"it\", \"colour\": \"red\"}, \"label\": false}\n";

const FREE_TASK: &str = r#"
name = "toy-math"
kind = "prompt"
template = "Question: {question}\nAnswer:"
answer = { kind = "free", field = "answer" }
metrics = ["exact_match"]

[splits]
train = "math/train.jsonl"
"#;

const ARC_TASK: &str = r#"
name = "toy-arc"
kind = "prompt"
template = "Question: {question.stem}\n{choices}\nAnswer:"
metrics = ["accuracy"]

[answer]
kind = "choices"
field = "answerKey"
list = "question.choices"
key = "label"
line = "{label} . {text}"
candidate = "{label}"

[splits]
dev = "arc/dev.jsonl"
"#;

/// Writes `task` as `task.toml` under `dir` and loads it the way users do.
fn load(dir: &Path, task: &str) -> PromptTaskSpec {
    write(dir, "task.toml", task);
    load_prompt_task(dir.join("task.toml").to_str().unwrap()).unwrap()
}

/// The tokens of row `row` of `batch` where the loss mask is 1.
fn masked_ids(batch: &CausalBatch, row: usize) -> Vec<u32> {
    let cells = row * batch.seq_len..(row + 1) * batch.seq_len;
    cells
        .filter(|&i| batch.loss_mask[i] == 1)
        .map(|i| u32::try_from(batch.input_ids[i]).unwrap())
        .collect()
}

fn tokenizer(dir: &Path, max_len: usize) -> PromptTokenizer {
    PromptTokenizer::from_path(dir, max_len).unwrap()
}

#[test]
fn user_task_reads_nested_fields_and_masks_only_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    write_tokenizer(dir.path());
    write(dir.path(), "toy/train.jsonl", YES_NO_DATA);
    write(
        dir.path(),
        "toy/test.jsonl",
        "{\"q\": {\"subject\": \"it\", \"colour\": \"green\"}}\n",
    );
    let task = load(dir.path(), YES_NO_TASK);
    let examples = task.read_split(dir.path(), Split::Train).unwrap();
    assert_eq!(
        examples[0],
        PromptExample {
            prompt: "Question: is the sky blue ?\nAnswer:".into(),
            answer: PromptAnswer::Choice {
                candidates: vec!["yes".into(), "no".into()],
                gold: Some(0)
            },
        }
    );
    assert_eq!(
        examples[1].answer,
        PromptAnswer::Choice {
            candidates: vec!["yes".into(), "no".into()],
            gold: Some(1)
        }
    );

    let tokenizer = tokenizer(dir.path(), 64);
    assert!(!tokenizer.has_chat_template());
    let split = PromptSplit::new(&tokenizer, &task, &examples).unwrap();
    // <s> Question : is the sky blue ? Answer :  |  yes
    assert_eq!(
        split.encodings[0].prompt_ids,
        [2, 6, 7, 12, 16, 15, 14, 8, 9, 7]
    );
    assert_eq!(split.encodings[0].answer_ids, [vec![10], vec![11]]);
    let batch = split.training_batch(&[0, 1]);
    assert_eq!(masked_ids(&batch, 0), [10], "yes, and nothing else");
    assert_eq!(masked_ids(&batch, 1), [11], "no");
    assert_eq!(batch.loss_mask.iter().sum::<i64>(), 2);
    assert_eq!(tokenizer.decode(&masked_ids(&batch, 0)).unwrap(), "yes");

    let test = task.read_split(dir.path(), Split::Test).unwrap();
    assert_eq!(
        test[0].answer,
        PromptAnswer::Choice {
            candidates: vec!["yes".into(), "no".into()],
            gold: None
        }
    );
    let err = PromptSplit::new(&tokenizer, &task, &test)
        .unwrap()
        .training_lengths()
        .unwrap_err();
    assert!(matches!(err, DataError::MissingAnswer { .. }), "{err}");

    let picked = PromptPredictions::Choices(vec![0, 0]);
    assert_eq!(task.score(&picked, &examples).unwrap()["accuracy"], 0.5);
    let err = task
        .score(
            &PromptPredictions::Generations(vec![String::new(); 2]),
            &examples,
        )
        .unwrap_err();
    assert!(err.to_string().contains("picked candidates"), "{err}");
}

#[test]
fn tsv_task_names_columns_by_header_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let task = r#"
name = "toy-tsv"
kind = "prompt"
format = "tsv"
template = "Question: is {subject} {2} ?\nAnswer:"
answer = { kind = "candidates", field = "label", candidates = [{ value = "1", text = "yes" }, { value = "0", text = "no" }] }
metrics = ["accuracy"]

[splits]
train = "toy/train.tsv"
dev = { path = "toy/dev.tsv", skip_examples = 1, max_examples = 1 }
"#;
    let rows = "\u{feff}label\tsubject\tthe colour\r\n1\tthe sky\tblue\r\n\r\n0\tit\tred\r\n";
    write(dir.path(), "toy/train.tsv", rows);
    write(dir.path(), "toy/dev.tsv", rows);
    let task = load(dir.path(), task);
    let examples = task.read_split(dir.path(), Split::Train).unwrap();
    let yes_no = |gold| PromptAnswer::Choice {
        candidates: vec!["yes".into(), "no".into()],
        gold: Some(gold),
    };
    assert_eq!(
        examples,
        [
            PromptExample {
                prompt: "Question: is the sky blue ?\nAnswer:".into(),
                answer: yes_no(0)
            },
            PromptExample {
                prompt: "Question: is it red ?\nAnswer:".into(),
                answer: yes_no(1)
            }
        ]
    );
    assert_eq!(
        task.read_split(dir.path(), Split::Dev).unwrap(),
        examples[1..]
    );

    write(
        dir.path(),
        "toy/train.tsv",
        "label\tsubject\tcolour\n1\tthe sky\n",
    );
    let err = task.read_split(dir.path(), Split::Train).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::MalformedRow {
                line: 2,
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
    write(dir.path(), "toy/train.tsv", "label\tsubject\n1\tthe sky\n");
    let err = task
        .read_split(dir.path(), Split::Train)
        .unwrap_err()
        .to_string();
    assert!(err.contains("train.tsv") && err.contains("`2`"), "{err}");
    write(dir.path(), "toy/train.tsv", "label\tsubject\tcolour\n");
    let err = task.read_split(dir.path(), Split::Train).unwrap_err();
    assert!(matches!(err, DataError::EmptySplit { .. }), "{err}");
}

#[test]
fn chat_template_wraps_the_prompt_and_a_free_answer_ends_with_eos() {
    let dir = tempfile::tempdir().unwrap();
    write_tokenizer(dir.path());
    write_chat_config(dir.path());
    write(
        dir.path(),
        "math/train.jsonl",
        "{\"question\": \"two plus two ?\", \"answer\": \"so 4\\n#### 4\"}\n",
    );
    let task = load(dir.path(), FREE_TASK);
    let examples = task.read_split(dir.path(), Split::Train).unwrap();
    let tokenizer = tokenizer(dir.path(), 64);
    assert!(tokenizer.uses_chat_template(&task));
    assert_eq!(
        tokenizer.render_prompt(&task, &examples[0].prompt).unwrap(),
        "<|im_start|>system\nYou are helpful<|im_end|>\n<|im_start|>user\nQuestion: two plus two ?\nAnswer:<|im_end|>\n<|im_start|>assistant\n"
    );
    let split = PromptSplit::new(&tokenizer, &task, &examples).unwrap();
    let encoding = &split.encodings[0];
    assert_eq!(
        encoding.prompt_ids[0], 4,
        "no <s> added: the template writes the markup"
    );
    assert_eq!(
        &encoding.prompt_ids[encoding.prompt_ids.len() - 2..],
        [4, 19],
        "<|im_start|> assistant"
    );
    // so 4 #### 4 <|im_end|>
    assert_eq!(encoding.answer_ids, [vec![31, 33, 32, 33, 5]]);
    let batch = split.training_batch(&[0]);
    assert_eq!(masked_ids(&batch, 0), [31, 33, 32, 33, 5]);
    let answer_start = encoding.prompt_ids.len();
    assert_eq!(
        batch.label_ids[..answer_start],
        vec![-100; answer_start][..]
    );
    assert_eq!(batch.label_ids[answer_start..], [31, 33, 32, 33, 5]);

    let off = load(
        dir.path(),
        &FREE_TASK.replace("metrics", "chat_template = false\nmetrics"),
    );
    assert!(!tokenizer.uses_chat_template(&off));
    let plain = PromptSplit::new(&tokenizer, &off, &examples).unwrap();
    assert_eq!(
        plain.encodings[0].prompt_ids[0], 2,
        "<s> from the tokenizer's own post-processor"
    );
    assert_eq!(
        plain.encodings[0].answer_ids,
        [vec![31, 33, 32, 33, 5]],
        "EOS from tokenizer_config"
    );

    let generations = PromptPredictions::Generations(vec!["so it is 4.".into()]);
    assert_eq!(
        task.score(&generations, &examples).unwrap()["exact_match"],
        1.0
    );
}

#[test]
fn long_prompts_are_cut_from_the_left_and_answers_never() {
    let dir = tempfile::tempdir().unwrap();
    write_tokenizer(dir.path());
    write(dir.path(), "toy/train.jsonl", YES_NO_DATA);
    let task = load(dir.path(), YES_NO_TASK);
    let examples = task.read_split(dir.path(), Split::Train).unwrap();
    let full = PromptSplit::new(&tokenizer(dir.path(), 64), &task, &examples).unwrap();
    let cut = PromptSplit::new(&tokenizer(dir.path(), 6), &task, &examples).unwrap();
    for (whole, short) in full.encodings.iter().zip(&cut.encodings) {
        assert_eq!(
            short.prompt_ids.len() + 1,
            6,
            "prompt + one-token answer = max_len"
        );
        assert_eq!(short.truncated, whole.prompt_ids.len() - 5);
        assert!(
            whole.prompt_ids.ends_with(&short.prompt_ids),
            "the prompt's end is kept"
        );
        assert_eq!(short.answer_ids, whole.answer_ids);
    }
    assert_eq!(masked_ids(&cut.training_batch(&[0]), 0), [10]);

    // With a chat template the answer is cut from nothing either; the free answer + EOS is 5 tokens.
    write_chat_config(dir.path());
    write(
        dir.path(),
        "math/train.jsonl",
        "{\"question\": \"two plus two ?\", \"answer\": \"so 4\\n#### 4\"}\n",
    );
    let free = load(dir.path(), FREE_TASK);
    let math = free.read_split(dir.path(), Split::Train).unwrap();
    let fits: &PromptEncoding = &PromptSplit::new(&tokenizer(dir.path(), 6), &free, &math)
        .unwrap()
        .encodings[0];
    assert_eq!(
        (fits.prompt_ids.as_slice(), fits.answer_ids[0].len()),
        ([19].as_slice(), 5)
    );
    let err = PromptSplit::new(&tokenizer(dir.path(), 5), &free, &math).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::AnswerTooLong {
                answer_tokens: 5,
                max_len: 5,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("toy-math") && message.contains("raise max_len"),
        "{message}"
    );
}

#[test]
fn choices_vary_per_example_and_render_a_block() {
    let dir = tempfile::tempdir().unwrap();
    write_tokenizer(dir.path());
    let choice =
        |label: &str, text: &str| format!("{{\"text\": \"{text}\", \"label\": \"{label}\"}}");
    let row = |choices: &[String], key: &str| {
        format!(
            "{{\"id\": \"x\", \"question\": {{\"stem\": \"is it blue ?\", \"choices\": [{}]}}, \"answerKey\": \"{key}\"}}\n",
            choices.join(", ")
        )
    };
    let data = [
        row(
            &[
                choice("A", "red"),
                choice("B", "blue"),
                choice("C", "green"),
            ],
            "B",
        ),
        row(&["A", "B", "C", "D", "E"].map(|l| choice(l, "sky")), "E"),
        row(&["1", "2", "3"].map(|l| choice(l, "blue")), "3"),
    ]
    .concat();
    write(dir.path(), "arc/dev.jsonl", &data);
    let task = load(dir.path(), ARC_TASK);
    let examples = task.read_split(dir.path(), Split::Dev).unwrap();
    assert_eq!(
        examples[0].prompt,
        "Question: is it blue ?\nA . red\nB . blue\nC . green\nAnswer:"
    );
    let golds: Vec<_> = examples
        .iter()
        .map(|e| match &e.answer {
            PromptAnswer::Choice { candidates, gold } => (candidates.len(), *gold),
            PromptAnswer::Free { .. } => unreachable!(),
        })
        .collect();
    assert_eq!(golds, [(3, Some(1)), (5, Some(4)), (3, Some(2))]);

    let split = PromptSplit::new(&tokenizer(dir.path(), 64), &task, &examples).unwrap();
    let rows = split.candidate_rows();
    assert_eq!(rows.len(), 11);
    let candidates: usize = split.encodings.iter().map(|e| e.answer_ids.len()).sum();
    assert_eq!(candidates, 11, "one row per candidate");
    assert!(
        split
            .encodings
            .iter()
            .all(|e| e.answer_ids.iter().all(|a| a.len() == 1)),
        "the letters are one token each"
    );
    // A model that always scores the last candidate highest gets examples 2 and 3 right.
    let scores: Vec<f64> = rows.iter().map(|r| r.candidate as f64).collect();
    let picked = split.pick_candidates(&rows, &scores);
    assert_eq!(picked, [2, 4, 2]);
    let accuracy = task
        .score(&PromptPredictions::Choices(picked), &examples)
        .unwrap()["accuracy"];
    assert!((accuracy - 2.0 / 3.0).abs() < 1e-12);

    write(
        dir.path(),
        "arc/dev.jsonl",
        &row(&[choice("A", "red"), choice("B", "blue")], "F"),
    );
    let err = task
        .read_split(dir.path(), Split::Dev)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dev.jsonl:1") && err.contains("`F`") && err.contains("`A`, `B`"),
        "{err}"
    );
}

#[test]
fn errors_say_what_is_wrong_and_where() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "toy/train.jsonl", YES_NO_DATA);

    // An unknown key in the TOML.
    write(
        dir.path(),
        "task.toml",
        &YES_NO_TASK.replace("metrics", "metricz = []\nmetrics"),
    );
    let err = load_any_task(dir.path().join("task.toml").to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("task.toml") && err.contains("metricz"),
        "{err}"
    );

    // A placeholder that names no field.
    let task = load(dir.path(), &YES_NO_TASK.replace("{q.colour}", "{q.color}"));
    let err = task.read_split(dir.path(), Split::Train).unwrap_err();
    assert!(matches!(err, DataError::UnknownField { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("train.jsonl:1")
            && message.contains("template placeholder `q.color`")
            && message.contains("`colour`"),
        "{message}"
    );

    // A labeled split without labels.
    write(
        dir.path(),
        "toy/train.jsonl",
        "{\"q\": {\"subject\": \"it\", \"colour\": \"red\"}}\n",
    );
    let task = load(dir.path(), YES_NO_TASK);
    let message = task
        .read_split(dir.path(), Split::Train)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("answer field `label`") && message.contains("unlabeled = true"),
        "{message}"
    );

    // A label that is no candidate's value.
    write(
        dir.path(),
        "toy/train.jsonl",
        "{\"q\": {\"subject\": \"it\", \"colour\": \"red\"}, \"label\": 2}\n",
    );
    let message = task
        .read_split(dir.path(), Split::Train)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("`2`") && message.contains("`true`, `false`"),
        "{message}"
    );

    // A field that is an object where text is needed.
    let object = load(dir.path(), &YES_NO_TASK.replace("{q.subject}", "{q}"));
    let message = object
        .read_split(dir.path(), Split::Train)
        .unwrap_err()
        .to_string();
    assert!(message.contains("`q` is an object, not text"), "{message}");

    // An empty split.
    write(dir.path(), "toy/train.jsonl", "\n\n");
    let err = task.read_split(dir.path(), Split::Train).unwrap_err();
    assert!(matches!(err, DataError::EmptySplit { .. }), "{err:?}");

    // A prompt task where a classification task is needed, and the other way round.
    let path = dir.path().join("task.toml");
    let err = taso_data::load_task_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("toy-yes-no") && err.contains("prompt"),
        "{err}"
    );
    assert!(matches!(
        load_any_task(path.to_str().unwrap()),
        Ok(AnyTask::Prompt(_))
    ));
}

#[test]
fn parquet_prompt_task_reads_columns_as_fields() {
    let dir = tempfile::tempdir().unwrap();
    let task = r#"
name = "toy-parquet"
kind = "prompt"
format = "parquet"
template = "Review: {sentence}\nPositive or negative?\nAnswer:"
answer = { kind = "candidates", field = "label", candidates = [{ value = "1", text = "positive" }, { value = "0", text = "negative" }] }
metrics = ["accuracy"]

[splits]
train = "sst2/train.parquet"
"#;
    common::write_parquet(
        &dir.path().join("sst2/train.parquet"),
        &["a fine film", "dull"],
        &[1, 0],
    );
    let task = load(dir.path(), task);
    let examples = task.read_split(dir.path(), Split::Train).unwrap();
    assert_eq!(
        examples[0].prompt,
        "Review: a fine film\nPositive or negative?\nAnswer:"
    );
    assert_eq!(
        examples[1].answer,
        PromptAnswer::Choice {
            candidates: vec!["positive".into(), "negative".into()],
            gold: Some(1)
        }
    );
}

#[test]
fn csv_prompt_task_reads_like_tsv() {
    let dir = tempfile::tempdir().unwrap();
    let task = r#"
name = "toy-csv"
kind = "prompt"
format = "csv"
template = "Question: is {subject} {2}?\nAnswer:"
answer = { kind = "candidates", field = "label", candidates = [{ value = "1", text = "yes" }, { value = "0", text = "no" }] }
metrics = ["accuracy"]

[splits]
train = "toy/train.csv"
"#;
    write(
        dir.path(),
        "toy/train.csv",
        "label,subject,the colour\n1,\"the sky, at noon,\",blue\n0,it,red\n",
    );
    let task = load(dir.path(), task);
    let examples = task.read_split(dir.path(), Split::Train).unwrap();
    assert_eq!(examples.len(), 2);
    assert_eq!(
        examples[0].prompt,
        "Question: is the sky, at noon, blue?\nAnswer:"
    );
    assert_eq!(
        examples[1].answer,
        PromptAnswer::Choice {
            candidates: vec!["yes".into(), "no".into()],
            gold: Some(1)
        }
    );
}
