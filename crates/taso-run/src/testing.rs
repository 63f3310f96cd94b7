//! Test helpers (feature `testing`, for tests only): a tiny run folder — the workspace's tiny
//! BERT fixture with a hand-written WordPiece tokenizer, a generated task ("does the text
//! contain `good`?") and an adapter-init — for the stages' tests.

use std::path::{Path, PathBuf};

use serde_json::json;
use taso_adapter::{AdapterSet, LoraConfig};
use taso_artifact::{model_fingerprint, ArtifactKind, ArtifactMeta};
use taso_artifact::{MatrixRegion, Regions, Target};
use taso_models::LinearHost;
use tch::Device;

use crate::{Method, RunContext, RunSettings};
use tempfile::TempDir;

/// Special tokens, then words; ids are positions (all below the tiny model's 99).
const VOCAB: [&str; 45] = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "the", "a", "cat", "dog", "sat", "on",
    "mat", "red", "blue", "green", "big", "small", "runs", "jumps", "over", "under", "near", "far",
    "tree", "house", "car", "bird", "fish", "eats", "sees", "likes", "fast", "slow", "old", "new",
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// The word that makes an example positive.
const KEYWORD: &str = "good";

/// The LoRA rank of the test adapters.
pub const RANK: usize = 4;

/// Serialises the tests of a binary that draw random numbers: dropout, head and adapter
/// initialisation all use libtorch's one global generator, which the trainer reseeds every
/// step, so two trainings running at once would draw each other's numbers.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The tiny BERT fixture of the workspace.
pub fn tiny_bert() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-bert")
}

/// A temporary folder with `model/`, the tasks `tiny.toml` and `tiny-score.toml`, and their
/// data in `data/tiny/`.
pub struct Fixture {
    /// The folder (removed on drop).
    pub dir: TempDir,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    /// Writes model copy, tokenizer, task and data.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model");
        std::fs::create_dir_all(&model).unwrap();
        for file in ["config.json", "model.safetensors"] {
            std::fs::copy(tiny_bert().join(file), model.join(file)).unwrap();
        }
        std::fs::write(model.join("tokenizer.json"), tokenizer_json()).unwrap();
        let data = dir.path().join("data/tiny");
        std::fs::create_dir_all(&data).unwrap();
        for (task, labels, metrics) in [
            ("tiny", CLASSES, "[\"accuracy\", \"f1\"]"),
            ("tiny-score", REGRESSION, "[\"pearson\", \"spearman\"]"),
        ] {
            std::fs::write(
                data.join(format!("{task}-train.tsv")),
                task_rows(64, 1, labels),
            )
            .unwrap();
            std::fs::write(
                data.join(format!("{task}-dev.tsv")),
                task_rows(32, 2, labels),
            )
            .unwrap();
            let kind = if labels == CLASSES {
                "{ kind = \"classes\", names = [\"no\", \"yes\"] }"
            } else {
                "{ kind = \"regression\" }"
            };
            let toml = format!(
                "name = \"{task}\"\nformat = \"tsv\"\ntext = \"sentence\"\nlabel = \"label\"\n\
                 labels = {kind}\nmetrics = {metrics}\n\n[splits]\n\
                 train = \"tiny/{task}-train.tsv\"\ndev = \"tiny/{task}-dev.tsv\"\n"
            );
            std::fs::write(dir.path().join(format!("{task}.toml")), toml).unwrap();
        }
        Self { dir }
    }

    /// The path of a file or folder inside the fixture.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Run settings for `method` on the classification task "does the text contain `good`?"
    /// in the run folder `runs/tiny/<name>` (CPU, one thread).
    pub fn run(&self, method: Method, name: &str) -> RunSettings {
        self.run_task("tiny", method, name)
    }

    /// [`Fixture::run`] on the regression task `tiny-score` (target 1.0 with `good`, else 0.0).
    pub fn run_regression(&self, method: Method, name: &str) -> RunSettings {
        self.run_task("tiny-score", method, name)
    }

    fn run_task(&self, task: &str, method: Method, name: &str) -> RunSettings {
        RunSettings {
            task: self.path(&format!("{task}.toml")).display().to_string(),
            model: self.path("model"),
            name: name.to_string(),
            runs_dir: self.path("runs"),
            data_dir: Some(self.path("data")),
            method,
            seed: 3,
            device: "cpu".to_string(),
            threads: Some(1),
            max_len: 16,
            ..RunSettings::default()
        }
    }

    /// The config text of `run` plus `extra` sections, for the binaries.
    pub fn config_toml(&self, run: &RunSettings, extra: &str) -> String {
        let run = toml_table("run", &serde_json::to_value(run).unwrap());
        format!("{run}\n{extra}")
    }

    /// The run context of `run`, with `adapter-init.safetensors` written first for methods
    /// with an adapter (sparse regions for taso and random-regions, dense for lora).
    pub fn context(&self, run: RunSettings) -> RunContext {
        if run.method.uses_adapter() {
            write_adapter_init(&run, run.method != Method::Lora);
        }
        RunContext::new(run).unwrap()
    }
}

/// A `[name]` TOML section of the top-level keys of a JSON object (nulls left out).
fn toml_table(name: &str, value: &serde_json::Value) -> String {
    let mut text = format!("[{name}]\n");
    for (key, value) in value.as_object().unwrap() {
        if !value.is_null() {
            text.push_str(&format!("{key} = {value}\n"));
        }
    }
    text
}

/// The regions of `run`'s target matrices: all rows and columns (`sparse = false`), or every
/// 4th row and every 3rd column.
pub fn regions(run: &RunSettings, sparse: bool) -> Regions {
    let model = taso_models::Encoder::load(&run.model, Device::Cpu).unwrap();
    let targets: Vec<Target> = model
        .linears()
        .into_iter()
        .filter(|l| run.is_target(l.name()))
        .map(|l| Target {
            name: l.name().to_string(),
            d_out: l.d_out() as usize,
            d_in: l.d_in() as usize,
        })
        .collect();
    let step = |n: usize, every: usize| (0..n as i64).step_by(every).collect::<Vec<i64>>();
    let (row_step, col_step) = if sparse { (4, 3) } else { (1, 1) };
    let matrices = targets
        .iter()
        .map(|t| MatrixRegion {
            target: t.clone(),
            rows: step(t.d_out, row_step),
            cols: step(t.d_in, col_step),
        })
        .collect();
    Regions {
        targets,
        matrices,
        rank: RANK,
        budget: 0,
        coverage: Vec::new(),
    }
}

/// Writes `adapter-init.safetensors` into `run`'s folder, as `taso-lora` would.
pub fn write_adapter_init(run: &RunSettings, sparse: bool) {
    let adapters = AdapterSet::init(
        &regions(run, sparse),
        &LoraConfig::default(),
        0,
        Device::Cpu,
    )
    .unwrap();
    let paths = run.paths();
    paths.create().unwrap();
    let meta = ArtifactMeta::new(
        ArtifactKind::AdapterInit,
        "taso-lora",
        "0.1.0",
        model_fingerprint(&run.model).unwrap(),
        run.task_name(),
        &json!({"test": true}),
    )
    .unwrap();
    adapters.write(&paths.adapter_init(), meta).unwrap();
}

/// Labels of examples without and with the keyword: classes.
const CLASSES: [&str; 2] = ["no", "yes"];
/// Labels of examples without and with the keyword: regression targets.
const REGRESSION: [&str; 2] = ["0.0", "1.0"];

/// `n` examples, half of them containing the keyword, as TSV with a header; `labels` holds
/// the label of a negative and of a positive example.
fn task_rows(n: usize, seed: u64, labels: [&str; 2]) -> String {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move |bound: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % bound as u64) as usize
    };
    let words = &VOCAB[6..];
    let mut text = String::from("sentence\tlabel\n");
    for i in 0..n {
        let positive = i % 2 == 0;
        let len = 4 + next(5);
        let mut sentence: Vec<&str> = (0..len).map(|_| words[next(words.len())]).collect();
        if positive {
            let at = next(len + 1);
            sentence.insert(at, KEYWORD);
        }
        let label = labels[usize::from(positive)];
        text.push_str(&format!("{}\t{label}\n", sentence.join(" ")));
    }
    text
}

/// A BERT WordPiece `tokenizer.json` over [`VOCAB`] (lower-casing, `[CLS] a [SEP] b [SEP]`).
fn tokenizer_json() -> String {
    let vocab: serde_json::Map<String, serde_json::Value> = VOCAB
        .iter()
        .enumerate()
        .map(|(id, word)| (word.to_string(), json!(id)))
        .collect();
    let special = |id: usize| {
        json!({"id": id, "content": VOCAB[id], "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let piece =
        |kind: &str, id: &str, type_id: u32| json!({ kind: {"id": id, "type_id": type_id} });
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": (0..5).map(special).collect::<Vec<_>>(),
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [piece("SpecialToken", "[CLS]", 0), piece("Sequence", "A", 0),
                       piece("SpecialToken", "[SEP]", 0)],
            "pair": [piece("SpecialToken", "[CLS]", 0), piece("Sequence", "A", 0),
                     piece("SpecialToken", "[SEP]", 0), piece("Sequence", "B", 1),
                     piece("SpecialToken", "[SEP]", 1)],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}
            }
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    })
    .to_string()
}

/// The workspace binary `name` (e.g. `taso-eval`) of the build that runs the calling test: in
/// the profile folder above the test's own `deps/` folder, where `cargo test --workspace`
/// builds every binary. Panics with the command to run when it is missing.
pub fn workspace_binary(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("the test binary's path");
    let profile = test
        .parent()
        .and_then(Path::parent)
        .expect("a test binary lives in <target>/<profile>/deps");
    let path = profile.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the binaries first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// Runs `command(rank)` as ranks `0..ranks` of a data-parallel group on 127.0.0.1, as torchrun
/// would start them (`RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `MASTER_ADDR`, a free `MASTER_PORT`,
/// and a 60 s collective timeout); kills a rank still running after `limit`. Returns each
/// rank's success and stderr.
pub fn run_ranks(
    ranks: usize,
    limit: std::time::Duration,
    command: impl Fn(usize) -> std::process::Command,
) -> Vec<(bool, String)> {
    use std::process::Stdio;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
        .to_string();
    let children: Vec<_> = (0..ranks)
        .map(|rank| {
            command(rank)
                .env("RANK", rank.to_string())
                .env("LOCAL_RANK", rank.to_string())
                .env("WORLD_SIZE", ranks.to_string())
                .env("MASTER_ADDR", "127.0.0.1")
                .env("MASTER_PORT", &port)
                .env("TASO_DIST_TIMEOUT_S", "60")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("a rank starts")
        })
        .collect();
    children
        .into_iter()
        .map(|child| finish_within(child, limit))
        .collect()
}

/// Waits for `child`, killing it (and failing) after `limit`; its success and stderr.
pub fn finish_within(mut child: std::process::Child, limit: std::time::Duration) -> (bool, String) {
    let start = std::time::Instant::now();
    while child.try_wait().expect("the child's status").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("a child process ran longer than {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("the child's output");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
