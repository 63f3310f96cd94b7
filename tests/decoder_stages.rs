//! The five stage binaries on tiny random decoders (LLaMA and Qwen2) and tiny generated prompt
//! tasks: a yes/no task scored by candidate likelihood and a free-form one by generation; and
//! the refusals of mismatched runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use taso::artifact::{Artifact, ArtifactKind, Expect, Importance};
use taso::models::testing::{run_captured, TinyDecoderArch, TinyDecoderSpec, TinySpec};
use taso::run::testing::{run_ranks, workspace_binary};

const STAGES: [&str; 5] = ["score", "regions", "lora", "train", "eval"];

const YES_NO_TASK: &str = r#"
name = "toy-order"
kind = "prompt"
template = "{a} {b}"
answer = { kind = "candidates", field = "label", candidates = [{ value = "true", text = "yes" }, { value = "false", text = "no" }] }
metrics = ["accuracy"]

[splits]
train = "toy/train.jsonl"
dev = "toy/dev.jsonl"
"#;

const SUM_TASK: &str = r#"
name = "toy-sum"
kind = "prompt"
template = "{a} {b}"
answer = { kind = "free", field = "answer" }
metrics = ["exact_match"]

[splits]
train = "toy/train.jsonl"
dev = "toy/dev.jsonl"
"#;

/// Runs `taso-<stage> --config config` with `extra` arguments; success and the output.
fn stage(stage: &str, config: &Path, extra: &[&str]) -> (bool, String) {
    run_captured(
        Command::new(workspace_binary(&format!("taso-{stage}")))
            .args(["--config", config.to_str().unwrap()])
            .args(extra),
    )
}

/// Writes a prompt task over words `w0..w9` to `dir` (records `a`, `b`, a yes/no label and a
/// one-digit sum) and returns the task file.
fn write_task(dir: &Path, task: &str) -> PathBuf {
    let data = dir.join("data/toy");
    std::fs::create_dir_all(&data).unwrap();
    let records = |range: std::ops::Range<usize>| -> String {
        range
            .map(|i| {
                let (a, b) = (i % 7, (i * 3) % 5);
                format!(
                    "{{\"a\": \"w{a}\", \"b\": \"w{b}\", \"label\": {}, \"answer\": \"{}\"}}\n",
                    a < b,
                    (a + b) % 10
                )
            })
            .collect()
    };
    std::fs::write(data.join("train.jsonl"), records(0..48)).unwrap();
    std::fs::write(data.join("dev.jsonl"), records(48..60)).unwrap();
    let path = dir.join("task.toml");
    std::fs::write(&path, task).unwrap();
    path
}

/// A run config of `task` on `model` with tiny settings.
fn write_config(dir: &Path, task: &Path, model: &Path) -> PathBuf {
    let text = format!(
        "[run]\ntask = {task:?}\nmodel = {model:?}\ndata_dir = {:?}\nruns_dir = {:?}\ndevice = \"cpu\"\n\
         max_len = 32\ntargets = [\"self_attn.q_proj\", \"self_attn.k_proj\", \"self_attn.v_proj\", \
         \"self_attn.o_proj\", \"mlp.gate_proj\", \"mlp.up_proj\", \"mlp.down_proj\"]\n\n\
         [score]\nbatches = 2\nbatch_size = 8\n\n[regions]\nrank = 2\nheatmaps = false\n\n\
         [train]\nepochs = 1\nbatch_size = 8\nlr = 3e-3\nlog_every = 100\n\n\
         [eval]\nbatch_size = 8\n\n[generate]\nmax_new_tokens = 3\n",
        dir.join("data"),
        dir.join("runs"),
    );
    let path = dir.join("run.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn decoder(dir: &Path, arch: TinyDecoderArch) -> PathBuf {
    let model = dir.join("model");
    TinyDecoderSpec {
        arch,
        ..TinyDecoderSpec::default()
    }
    .write(&model)
    .unwrap();
    model
}

/// Runs the five stages and returns the run folder.
fn pipeline(dir: &Path, arch: TinyDecoderArch, task: &str, name: &str) -> PathBuf {
    let config = write_config(dir, &write_task(dir, task), &decoder(dir, arch));
    for name_stage in STAGES {
        let (ok, log) = stage(name_stage, &config, &[]);
        assert!(ok, "{arch:?} {name_stage}: {log}");
    }
    // The run folder carries the task's `name`, not its file's.
    let task_name = task
        .lines()
        .find_map(|line| line.strip_prefix("name = \"")?.strip_suffix('"'))
        .unwrap();
    let run = dir.join("runs").join(task_name).join("default");
    for file in [
        "importance.safetensors",
        "regions.safetensors",
        "adapter-init.safetensors",
        "adapter-best.safetensors",
        "metrics.json",
        "predictions.tsv",
        "config.toml",
    ] {
        assert!(run.join(file).is_file(), "{name}: {file} missing");
    }
    run
}

/// The `eval` entry's main metric in `metrics.json`.
fn eval_metric(run: &Path, metric: &str) -> f64 {
    let text = std::fs::read_to_string(run.join("metrics.json")).unwrap();
    let metrics: serde_json::Value = serde_json::from_str(&text).unwrap();
    metrics["eval"]["metrics"][metric].as_f64().unwrap()
}

#[test]
fn candidate_task_runs_through_every_stage_on_llama_and_qwen2() {
    for arch in [TinyDecoderArch::Llama, TinyDecoderArch::Qwen2] {
        let dir = tempfile::tempdir().unwrap();
        let run = pipeline(dir.path(), arch, YES_NO_TASK, "yes/no");
        let accuracy = eval_metric(&run, "accuracy");
        assert!((0.0..=1.0).contains(&accuracy), "{accuracy}");
        let tsv = std::fs::read_to_string(run.join("predictions.tsv")).unwrap();
        let lines: Vec<&str> = tsv.lines().collect();
        assert_eq!(lines.len(), 13, "header + 12 dev examples:\n{tsv}");
        assert!(
            lines[1..]
                .iter()
                .all(|l| l.ends_with("\tyes") || l.ends_with("\tno")),
            "{tsv}"
        );
    }
}

#[test]
fn the_base_decoder_is_evaluated_without_an_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let run = pipeline(dir.path(), TinyDecoderArch::Llama, YES_NO_TASK, "yes/no");
    let config = dir.path().join("run.toml");
    let (ok, log) = stage("eval", &config, &["--set", "eval.adapter=none"]);
    assert!(ok, "{log}");
    assert!(log.contains("the base model (no adapter)"), "{log}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["eval"]["adapter"].is_null(), "{metrics}");
    assert!((0.0..=1.0).contains(&eval_metric(&run, "accuracy")));
    let (ok, log) = stage(
        "eval",
        &config,
        &["--set", "eval.adapter=none", "--set", "eval.merged=true"],
    );
    assert!(!ok && log.contains("needs an adapter to merge"), "{log}");
    let peft = dir.path().join("peft");
    let (ok, log) = stage(
        "eval",
        &config,
        &[
            "--set",
            "eval.adapter=none",
            "--export-peft",
            peft.to_str().unwrap(),
        ],
    );
    assert!(!ok && log.contains("no adapter to export"), "{log}");
    assert!(!peft.exists());
}

#[test]
fn a_knockout_takes_each_matrix_type_out_and_keeps_it_alone_and_leaves_the_evaluation_alone() {
    let dir = tempfile::tempdir().unwrap();
    let run = pipeline(dir.path(), TinyDecoderArch::Llama, YES_NO_TASK, "yes/no");
    let config = dir.path().join("run.toml");
    let read_metrics = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap()
    };
    let (eval_before, predictions_before) = (
        read_metrics()["eval"].clone(),
        std::fs::read_to_string(run.join("predictions.tsv")).unwrap(),
    );
    let (ok, log) = stage("eval", &config, &["--knockout"]);
    assert!(ok, "{log}");
    assert!(
        log.contains("mlp.down_proj") && log.contains("alone"),
        "{log}"
    );

    let metrics = read_metrics();
    assert_eq!(
        metrics["eval"], eval_before,
        "the evaluation's entry is left as it was"
    );
    let predictions = std::fs::read_to_string(run.join("predictions.tsv")).unwrap();
    assert_eq!(predictions, predictions_before);
    let knockout = &metrics["knockout"];
    assert_eq!(
        knockout["whole"]["accuracy"], eval_before["metrics"]["accuracy"],
        "the whole adapter scores as the evaluation did: {knockout}"
    );
    let rows = knockout["by_type"].as_array().unwrap();
    let types: Vec<&str> = rows
        .iter()
        .map(|r| r["matrix_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "self_attn.q_proj",
            "self_attn.k_proj",
            "self_attn.v_proj",
            "self_attn.o_proj",
            "mlp.gate_proj",
            "mlp.up_proj",
            "mlp.down_proj"
        ]
    );
    let sum = |key: &str| -> u64 { rows.iter().map(|r| r[key].as_u64().unwrap()).sum() };
    assert_eq!(sum("matrices"), knockout["matrices"].as_u64().unwrap());
    assert_eq!(
        sum("adapter_params"),
        knockout["adapter_params"].as_u64().unwrap()
    );
    // With no adapter matrix attached the model is the base model: it scores what
    // `eval.adapter = "none"` scores.
    let none = knockout["none"]["accuracy"].as_f64().unwrap();
    let (ok, log) = stage(
        "eval",
        &config,
        &["--set", "eval.adapter=none", "--set", "run.name=base"],
    );
    assert!(ok, "{log}");
    let base: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.with_file_name("base").join("metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(base["eval"]["metrics"]["accuracy"].as_f64().unwrap(), none);
    for row in rows {
        assert!(row["without"]["accuracy"].is_f64() && row["alone"]["accuracy"].is_f64());
    }
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("## Knock-out by matrix type"), "{report}");
    assert!(report.contains("| self_attn.q_proj |"), "{report}");
    assert!(report.contains("(knockout.png)"), "{report}");
    assert!(run.join("knockout.png").is_file());

    // Another run's adapter, knocked out into a folder of its own.
    let adapter = run.join("adapter-best.safetensors");
    let (ok, log) = stage(
        "eval",
        &config,
        &[
            "--knockout",
            "--adapter",
            adapter.to_str().unwrap(),
            "--set",
            "run.name=elsewhere",
        ],
    );
    assert!(ok, "{log}");
    let elsewhere: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.with_file_name("elsewhere").join("metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(elsewhere["knockout"]["by_type"], knockout["by_type"]);

    let (ok, log) = stage(
        "eval",
        &config,
        &["--knockout", "--set", "eval.adapter=none"],
    );
    assert!(!ok && log.contains("nothing to knock out"), "{log}");

    // An adapter of one matrix type (trained at a high lr, so that it changes the score): without
    // it the model has no adapter matrix, and alone it is the whole adapter.
    let one_type = [
        "--set",
        "run.targets=[\"mlp.down_proj\"]",
        "--set",
        "run.name=one-type",
        "--set",
        "train.lr=5e-2",
        "--set",
        "train.epochs=4",
    ];
    for name_stage in STAGES {
        let (ok, log) = stage(name_stage, &config, &one_type);
        assert!(ok, "{name_stage}: {log}");
    }
    let (ok, log) = stage("eval", &config, &[&one_type[..], &["--knockout"]].concat());
    assert!(ok, "{log}");
    let one: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.with_file_name("one-type").join("metrics.json")).unwrap(),
    )
    .unwrap();
    let knockout = &one["knockout"];
    let rows = knockout["by_type"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{knockout}");
    assert_ne!(
        knockout["whole"], knockout["none"],
        "the adapter was trained far enough to change the score, so the two ends differ"
    );
    assert_eq!(rows[0]["without"], knockout["none"], "{knockout}");
    assert_eq!(rows[0]["alone"], knockout["whole"], "{knockout}");
}

#[test]
fn a_comparison_gives_the_zero_shot_figure_beside_the_majority_answer() {
    let dir = tempfile::tempdir().unwrap();
    let task = write_task(dir.path(), YES_NO_TASK);
    let config = write_config(
        dir.path(),
        &task,
        &decoder(dir.path(), TinyDecoderArch::Llama),
    );
    let record = dir.path().join("record");
    let compare = |extra: &[&str]| {
        run_captured(
            Command::new(env!("CARGO_BIN_EXE_taso-compare"))
                .args(["--config", config.to_str().unwrap(), "--seeds", "1"])
                .args(["--methods", "lora-r1", "--zero-shot", "--record"])
                .arg(&record)
                .args(extra),
        )
    };
    let (ok, log) = compare(&[]);
    assert!(ok, "{log}");
    assert!(log.contains("(taso-eval, no adapter)"), "{log}");
    let run = dir.path().join("runs/toy-order/cmp-zero-shot");
    let zero_shot = eval_metric(&run, "accuracy");
    let table =
        std::fs::read_to_string(dir.path().join("runs/toy-order/compare/results.md")).unwrap();
    let line = format!(
        "The base model without an adapter (zero-shot, `--zero-shot`) scores {:.2} accuracy",
        100.0 * zero_shot
    );
    assert!(table.contains(&line), "{line}\n{table}");
    assert!(
        table.contains("Always giving the most frequent answer"),
        "{table}"
    );
    assert!(record
        .join("toy-order/cmp-zero-shot/metrics.json")
        .is_file());

    // From the record alone, the same table, nothing evaluated again.
    std::fs::remove_dir_all(dir.path().join("runs")).unwrap();
    let (ok, log) = compare(&["--report-only"]);
    assert!(ok, "{log}");
    assert!(!log.contains("running"), "{log}");
    let again =
        std::fs::read_to_string(dir.path().join("runs/toy-order/compare/results.md")).unwrap();
    assert!(again.contains(&line), "{again}");
}

#[test]
fn free_form_task_generates_and_exports_a_causal_lm_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let run = pipeline(dir.path(), TinyDecoderArch::Llama, SUM_TASK, "sum");
    let exact = eval_metric(&run, "exact_match");
    assert!((0.0..=1.0).contains(&exact), "{exact}");
    let peft = dir.path().join("peft");
    let (ok, log) = stage(
        "eval",
        &dir.path().join("run.toml"),
        &["--export-peft", peft.to_str().unwrap()],
    );
    assert!(ok, "{log}");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(peft.join("adapter_config.json")).unwrap())
            .unwrap();
    assert_eq!(config["task_type"], "CAUSAL_LM", "{config}");
    assert!(
        config["modules_to_save"].is_null()
            || config["modules_to_save"]
                .as_array()
                .is_some_and(Vec::is_empty),
        "{config}"
    );
    let targets = config["target_modules"].to_string();
    assert!(
        targets.contains("model.layers.0.self_attn.q_proj"),
        "{targets}"
    );
}

/// The run `name`'s importance under `runs/<task>/` of `dir`, and the loss it records as scored.
fn scored(dir: &Path, task: &str, name: &str) -> (Importance, String) {
    let path = dir
        .join("runs")
        .join(task)
        .join(name)
        .join("importance.safetensors");
    let artifact = Artifact::open(&path, &Expect::kind(ArtifactKind::Importance)).unwrap();
    let loss = artifact.meta.extra["loss"].clone();
    (Importance::from_artifact(&artifact).unwrap(), loss)
}

#[test]
fn the_default_loss_is_the_choice_where_the_task_has_candidates_and_the_answer_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let llama = decoder(dir.path(), TinyDecoderArch::Llama);
    let config = write_config(dir.path(), &write_task(dir.path(), YES_NO_TASK), &llama);
    // `auto` is the default: that run leaves `score.loss` unset.
    let (ok, log) = stage("score", &config, &["--set", "run.name=auto"]);
    assert!(ok, "{log}");
    for loss in ["answer", "choice"] {
        let (ok, log) = stage(
            "score",
            &config,
            &[
                "--set",
                &format!("run.name={loss}"),
                "--set",
                &format!("score.loss={loss}"),
            ],
        );
        assert!(ok, "{log}");
    }
    let [auto, answer, choice] =
        ["auto", "answer", "choice"].map(|n| scored(dir.path(), "toy-order", n));
    assert_eq!(
        auto,
        (choice.0.clone(), "choice".to_string()),
        "auto is the choice loss here"
    );
    assert_eq!(answer.1, "answer");
    assert_ne!(answer.0, choice.0, "another loss, other scores");

    let config = write_config(dir.path(), &write_task(dir.path(), SUM_TASK), &llama);
    let (ok, log) = stage("score", &config, &["--set", "run.name=auto"]);
    assert!(ok, "{log}");
    let (ok, log) = stage(
        "score",
        &config,
        &["--set", "run.name=answer", "--set", "score.loss=answer"],
    );
    assert!(ok, "{log}");
    let (auto, answer) = (
        scored(dir.path(), "toy-sum", "auto"),
        scored(dir.path(), "toy-sum", "answer"),
    );
    assert_eq!(auto, answer, "no candidates: auto is the training loss");
    assert_eq!(auto.1, "answer");
    let (ok, log) = stage(
        "score",
        &config,
        &["--set", "run.name=choice", "--set", "score.loss=choice"],
    );
    assert!(
        !ok && log.contains("toy-sum") && log.contains("score.loss = \"answer\""),
        "{log}"
    );
    assert!(
        !dir.path().join("runs/toy-sum/choice").exists(),
        "nothing written"
    );
}

#[test]
fn mismatched_runs_are_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let prompt_task = write_task(dir.path(), YES_NO_TASK);
    let llama = decoder(dir.path(), TinyDecoderArch::Llama);
    let world = TinySpec::default().write(&dir.path().join("enc")).unwrap();

    let config = write_config(dir.path(), &prompt_task, &world.model_dir);
    let (ok, log) = stage("score", &config, &[]);
    assert!(
        !ok && log.contains("prompt task") && log.contains("encoder"),
        "{log}"
    );

    let config = write_config(dir.path(), &world.task_file, &llama);
    let (ok, log) = stage("train", &config, &[]);
    assert!(
        !ok && log.contains("classification task") && log.contains("decoder"),
        "{log}"
    );

    let config = write_config(dir.path(), &prompt_task, &llama);
    let (ok, log) = stage("score", &config, &["--set", "score.head_warmup_steps=2"]);
    assert!(!ok && log.contains("head_warmup_steps"), "{log}");
    let (ok, log) = stage("score", &config, &["--set", "run.targets=[\"query\"]"]);
    assert!(!ok && log.contains("self_attn.q_proj"), "{log}");
    let (ok, log) = stage("train", &config, &["--set", "run.method=bitfit"]);
    assert!(!ok && log.contains("trains nothing"), "{log}");
}

/// Logits of a decoder on two fixed rows of the tiny vocabulary.
fn decoder_logits(model: &taso::models::CausalLm) -> tch::Tensor {
    let ids = tch::Tensor::from_slice(&[1i64, 5, 30, 31, 12, 1, 6, 40, 0, 0]).view([2, 5]);
    let mask = ids.ne(0).to_kind(tch::Kind::Int64);
    let input = taso::models::DecoderInput {
        input_ids: &ids,
        attention_mask: &mask,
    };
    tch::no_grad(|| model.forward(&input)).unwrap()
}

#[test]
fn a_trained_decoder_exports_merged_and_through_peft_and_back() {
    for arch in [TinyDecoderArch::Llama, TinyDecoderArch::Qwen2] {
        let dir = tempfile::tempdir().unwrap();
        let run = pipeline(dir.path(), arch, YES_NO_TASK, "yes/no");
        let config = dir.path().join("run.toml");
        let (merged, peft) = (dir.path().join("merged"), dir.path().join("peft"));
        let (ok, log) = stage(
            "export",
            &config,
            &[
                "--merged",
                merged.to_str().unwrap(),
                "--peft",
                peft.to_str().unwrap(),
            ],
        );
        assert!(ok, "{arch:?}: {log}");

        // The merged folder computes what the base model with the adapter attached does.
        let resolved = taso::run::ResolvedConfig::load(&config, &[]).unwrap();
        let ctx = taso::run::RunContext::new(resolved.sections().unwrap().run).unwrap();
        let best = run.join("adapter-best.safetensors");
        let trained = taso::run::TrainedModel::load(&ctx, &best, false).unwrap();
        let taso::models::TaskModel::CausalLm(attached) = &trained.model else {
            panic!("a decoder run loads a causal LM");
        };
        let loaded = taso::models::CausalLm::load(&merged, tch::Device::Cpu).unwrap();
        let error = (decoder_logits(&loaded) - decoder_logits(attached))
            .abs()
            .max()
            .double_value(&[]);
        assert!(
            error < 1e-5,
            "{arch:?}: merged vs attached logits differ by {error}"
        );

        // PEFT out and back in: the same adapter, so the same evaluation.
        let imported = dir.path().join("imported.safetensors");
        let (ok, log) = stage(
            "import-peft",
            &config,
            &[peft.to_str().unwrap(), "--out", imported.to_str().unwrap()],
        );
        assert!(ok && log.contains("sparse"), "{arch:?}: {log}");
        let accuracy = eval_metric(&run, "accuracy");
        let (ok, log) = stage("eval", &config, &["--adapter", imported.to_str().unwrap()]);
        assert!(ok, "{arch:?}: {log}");
        assert_eq!(eval_metric(&run, "accuracy"), accuracy, "{arch:?}");
    }
}

#[test]
fn two_ranks_evaluate_a_decoder_as_one_process_does() {
    for task in [YES_NO_TASK, SUM_TASK] {
        let dir = tempfile::tempdir().unwrap();
        let run = pipeline(dir.path(), TinyDecoderArch::Llama, task, "shared eval");
        let single = std::fs::read_to_string(run.join("predictions.tsv")).unwrap();
        std::fs::remove_file(run.join("predictions.tsv")).unwrap();
        let config = dir.path().join("run.toml");
        let ranks = run_ranks(2, Duration::from_secs(120), |_| {
            let mut command = Command::new(workspace_binary("taso-eval"));
            command.args(["--config", config.to_str().unwrap()]);
            command
        });
        for (rank, (ok, log)) in ranks.iter().enumerate() {
            assert!(ok, "rank {rank}: {log}");
        }
        assert!(
            ranks[0].1.contains("data-parallel: rank 0 of 2"),
            "{}",
            ranks[0].1
        );
        let shared = std::fs::read_to_string(run.join("predictions.tsv")).unwrap();
        assert_eq!(
            single, shared,
            "choices and generations gathered in example order"
        );
    }
}
