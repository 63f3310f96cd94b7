//! The whole method end to end on a tiny world the test builds (random encoder, word-level
//! tokenizer, generated task): `taso-compare` drives the five stage binaries for TASO and a
//! baseline, writes the results table, and reuses finished runs when run again.

use std::path::{Path, PathBuf};
use std::process::Command;
use taso::artifact::Artifact;
use taso::models::testing::{run_captured, TinySpec, TinyWorld};

const FIRST: &[&str] = &["--seeds", "1", "--methods", "taso,lora-r1,bitfit"];

fn compare(config: &Path, args: &[&str]) -> (bool, String) {
    run_captured(
        Command::new(env!("CARGO_BIN_EXE_taso-compare"))
            .args(["--config", config.to_str().unwrap()])
            .args(args),
    )
}

/// A tiny world in `dir` and a comparison config for it: returns the world, the config file
/// and the runs folder.
fn tiny_comparison(dir: &Path) -> (TinyWorld, PathBuf, PathBuf) {
    let world = TinySpec::default().write(dir).unwrap();
    let runs = dir.join("runs");
    let config = dir.join("run.toml");
    let text = format!(
        "[run]\ntask = {:?}\nmodel = {:?}\ndata_dir = {:?}\nruns_dir = {:?}\ndevice = \"cpu\"\nmax_len = 16\n\n\
         [score]\nbatches = 2\nbatch_size = 16\n\n[regions]\nrank = 2\nheatmaps = false\n\n\
         [train]\nepochs = 2\nbatch_size = 16\nlr = 3e-3\nlog_every = 100\n",
        world.task_file, world.model_dir, world.data_dir, runs
    );
    std::fs::write(&config, text).unwrap();
    (world, config, runs)
}

#[test]
fn every_stage_runs_and_the_comparison_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let (world, config, runs) = tiny_comparison(dir.path());
    // Two metrics, as MRPC has: accuracy picks the best epoch, F1 gets a column of its own.
    let task = std::fs::read_to_string(&world.task_file).unwrap();
    let task = task.replace(
        r#"metrics = ["accuracy"]"#,
        r#"metrics = ["accuracy", "f1"]"#,
    );
    std::fs::write(&world.task_file, task).unwrap();

    let (ok, log) = compare(&config, FIRST);
    assert!(ok, "{log}");
    assert!(
        log.contains("[3/3] running"),
        "progress over the 3 runs:\n{log}"
    );
    for method in ["taso", "lora-r1", "bitfit"] {
        let run = runs.join(format!("tiny/cmp-{method}-lr3e-3-s0"));
        for file in [
            "config.toml",
            "metrics.json",
            "adapter-best.safetensors",
            "predictions.tsv",
        ] {
            assert!(run.join(file).is_file(), "{method}: {file} missing");
        }
    }
    let taso = runs.join("tiny/cmp-taso-lr3e-3-s0");
    for file in [
        "importance.safetensors",
        "regions.safetensors",
        "adapter-init.safetensors",
    ] {
        assert!(taso.join(file).is_file(), "taso: {file} missing");
    }
    assert!(
        !runs
            .join("tiny/cmp-bitfit-lr3e-3-s0/importance.safetensors")
            .exists(),
        "bitfit scores nothing"
    );
    let table = std::fs::read_to_string(runs.join("tiny/compare/results.md")).unwrap();
    for method in ["| taso |", "| lora-r1 |", "| bitfit |"] {
        assert!(table.contains(method), "{method} row missing:\n{table}");
    }
    // Every other method against the first (taso), on the one seed both ran.
    let against = table.split("Against taso, seed by seed").nth(1);
    assert!(
        against.is_some_and(|part| part.contains("| lora-r1 | 1 | ")
            && part.contains("| bitfit | 1 | ")
            && part.contains("| — (one seed) |")),
        "no seed-by-seed part:\n{table}"
    );
    // The eval column is taso-eval's metric: here the best adapter on the whole dev split, the
    // trainer's best-epoch dev metric again; the other metric has its best-epoch column.
    let cells = |prefix: &str| -> Vec<String> {
        let line = table.lines().find(|l| l.starts_with(prefix)).unwrap();
        line.split('|').map(|c| c.trim().to_string()).collect()
    };
    let (header, taso_row) = (cells("| method |"), cells("| taso |"));
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(
        taso_row[column("best-epoch dev")],
        taso_row[column("eval")],
        "best-epoch dev vs eval:\n{table}"
    );
    for name in ["eval", "best-epoch f1"] {
        assert!(!taso_row[column(name)].contains("NaN"), "{name}:\n{table}");
    }

    let plot = [FIRST, &["--plot"]].concat();
    let (ok, log) = compare(&config, &plot);
    assert!(ok, "{log}");
    assert_eq!(log.matches("reusing").count(), 3, "{log}");
    assert!(!log.contains("running"), "{log}");
    let compare_dir = runs.join("tiny/compare");
    for chart in [
        "results.png",
        "results-curves-taso.png",
        "results-curves-bitfit.png",
        "results-loss.png",
    ] {
        let png = std::fs::read(compare_dir.join(chart)).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{chart} is not a PNG");
    }
    // The table's figures as data beside it, and `glance` drawing them as one chart.
    let summary_path = compare_dir.join("results.json");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path).unwrap()).unwrap();
    assert_eq!(summary["task"], "tiny");
    let names: Vec<&str> = summary["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["taso", "lora-r1", "bitfit"]);
    assert_eq!(summary["methods"][0]["values"].as_array().unwrap().len(), 1);
    let glance = dir.path().join("glance.png");
    let (ok, log) = run_captured(
        Command::new(env!("CARGO_BIN_EXE_taso-compare"))
            .arg("glance")
            .args([&summary_path, &summary_path])
            .arg("--out")
            .arg(&glance),
    );
    assert!(ok, "{log}");
    assert!(std::fs::read(&glance).unwrap().starts_with(b"\x89PNG"));

    // A run interrupted before `taso-eval` (metrics.json without its `eval` entry) runs again.
    let bitfit_metrics = runs.join("tiny/cmp-bitfit-lr3e-3-s0/metrics.json");
    let mut metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bitfit_metrics).unwrap()).unwrap();
    metrics.as_object_mut().unwrap().remove("eval");
    std::fs::write(&bitfit_metrics, metrics.to_string()).unwrap();
    let (ok, log) = compare(&config, FIRST);
    assert!(ok, "{log}");
    assert_eq!(log.matches("reusing").count(), 2, "{log}");
    assert!(
        log.contains("running") && log.contains("cmp-bitfit-lr3e-3-s0"),
        "{log}"
    );

    // --out names a table inside runs/<task>/compare/; a path is refused before any work.
    let (ok, log) = compare(&config, &["--out", "runs/tiny/compare/t.md"]);
    assert!(!ok && log.contains("is not a file name"), "{log}");
    assert!(
        !log.contains("running") && !log.contains("reusing"),
        "{log}"
    );

    // Other settings never replace a finished run: they are refused, naming what differs, and
    // run beside it under their own --tag (with their own table).
    let one_epoch = [
        "--set",
        "train.epochs=1",
        "--seeds",
        "1",
        "--methods",
        "bitfit",
    ];
    let (ok, log) = compare(&config, &one_epoch);
    assert!(
        !ok && log.contains("train.epochs: 2 → 1") && log.contains("--tag"),
        "{log}"
    );
    let kept = std::fs::read_to_string(&bitfit_metrics).unwrap();
    assert!(
        kept.contains("\"eval\""),
        "the finished run is kept: {kept}"
    );
    let (ok, log) = compare(&config, &[&one_epoch[..], &["--tag", "e1"]].concat());
    assert!(ok && log.contains("cmp-e1-bitfit-lr3e-3-s0"), "{log}");
    let tagged = std::fs::read_to_string(runs.join("tiny/compare/results-e1.md")).unwrap();
    assert!(
        tagged.contains("| bitfit |") && tagged.contains("--tag e1"),
        "{tagged}"
    );
    // With a hold-out, the epoch and lr are chosen on held-out training examples, and the
    // table says so and shows their metric beside dev's.
    let held_out = [
        &one_epoch[..],
        &["--tag", "held", "--set", "run.holdout=16"],
    ]
    .concat();
    let (ok, log) = compare(&config, &held_out);
    assert!(ok, "{log}");
    let metrics = std::fs::read_to_string(runs.join("tiny/cmp-held-bitfit-lr3e-3-s0/metrics.json"));
    let metrics: serde_json::Value = serde_json::from_str(&metrics.unwrap()).unwrap();
    assert_eq!(metrics["holdout_examples"], 16);
    assert_eq!(metrics["train_examples"], 96 - 16);
    assert!(
        metrics["best"]["holdout"]["accuracy"].is_number(),
        "{metrics}"
    );
    let held = std::fs::read_to_string(runs.join("tiny/compare/results-held.md")).unwrap();
    assert!(
        held.contains("16 held-out training examples") && held.contains("| best-epoch holdout |"),
        "{held}"
    );
    let (ok, log) = compare(&config, &["--tag", "E 1"]);
    assert!(!ok && log.contains("is not a tag"), "{log}");

    // Report-only runs nothing: it tabulates the finished seed and lists the missing one.
    let (ok, log) = compare(
        &config,
        &[
            "--seeds",
            "2",
            "--methods",
            "taso",
            "--report-only",
            "--out",
            "partial.md",
        ],
    );
    assert!(ok, "{log}");
    assert!(!log.contains("running"), "{log}");
    let partial = std::fs::read_to_string(runs.join("tiny/compare/partial.md")).unwrap();
    assert!(partial.contains("| taso | 3e-3 | 1 |"), "{partial}");
    assert!(
        partial.contains("Not finished yet (1") && partial.contains("cmp-taso-lr3e-3-s1"),
        "{partial}"
    );

    // A sweep on seed 0 over two lrs, then a second seed at each method's best lr only; a
    // user-defined variant runs like a built-in method.
    let (ok, log) = compare(
        &config,
        &[
            "--seeds",
            "2",
            "--sweep-seeds",
            "1",
            "--lrs",
            "3e-3,1e-2",
            "--methods",
            "lora-r1,taso-global",
            "--variant",
            "taso-global=run.method=taso;regions.allocation=global",
            "--out",
            "sweep.md",
        ],
    );
    assert!(ok, "{log}");
    assert_eq!(
        log.matches("reusing").count(),
        1,
        "lora-r1 at 3e-3, seed 0:\n{log}"
    );
    assert_eq!(log.matches("running").count(), 5, "{log}");
    let seed1 = log
        .lines()
        .filter(|l| l.contains("] running ") && l.ends_with("-s1"))
        .count();
    assert_eq!(seed1, 2, "one seed-1 run per method:\n{log}");
    let global =
        std::fs::read_to_string(runs.join("tiny/cmp-taso-global-lr1e-2-s0/config.toml")).unwrap();
    assert!(global.contains("allocation = \"global\""), "{global}");
    // Seed 0 scores once for both of its lrs: the second run takes the first one's importance.
    assert_eq!(log.matches("scored alike").count(), 1, "{log}");
    let importance = |lr: &str| {
        let run = runs.join(format!("tiny/cmp-taso-global-lr{lr}-s0"));
        std::fs::read(run.join("importance.safetensors")).unwrap()
    };
    assert_eq!(importance("3e-3"), importance("1e-2"));
    let table = std::fs::read_to_string(runs.join("tiny/compare/sweep.md")).unwrap();
    for row in ["| lora-r1 |", "| taso-global |", "--sweep-seeds 1"] {
        assert!(table.contains(row), "{row} missing:\n{table}");
    }
    assert_eq!(table.matches(" (1) |").count(), 4, "{table}");

    // --record keeps each finished run's config and metrics; with the run folders gone, the
    // same table comes back from the record alone.
    let record = dir.path().join("record");
    let recorded = [
        FIRST,
        &["--report-only", "--record", record.to_str().unwrap()],
    ]
    .concat();
    let (ok, log) = compare(&config, &recorded);
    assert!(ok, "{log}");
    let before = std::fs::read_to_string(runs.join("tiny/compare/results.md")).unwrap();
    for method in ["taso", "lora-r1", "bitfit"] {
        let run = format!("tiny/cmp-{method}-lr3e-3-s0");
        let kept: Vec<_> = std::fs::read_dir(record.join(&run))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(kept.len(), 2, "{method}: {kept:?}");
        std::fs::remove_dir_all(runs.join(run)).unwrap();
    }
    let (ok, log) = compare(&config, &recorded);
    assert!(ok, "{log}");
    assert_eq!(log.matches("from the record").count(), 3, "{log}");
    assert_eq!(log.matches("reusing").count(), 3, "{log}");
    let after = std::fs::read_to_string(runs.join("tiny/compare/results.md")).unwrap();
    assert_eq!(before, after);
}

#[test]
fn an_interrupted_run_continues_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (_world, config, runs) = tiny_comparison(dir.path());
    let args = [
        "--seeds",
        "1",
        "--methods",
        "lora-r1,taso",
        "--set",
        "train.checkpoint_every=2",
        "--set",
        "train.keep_checkpoints=0",
    ];
    let (ok, log) = compare(&config, &args);
    assert!(ok, "{log}");
    let run = runs.join("tiny/cmp-taso-lr3e-3-s0");
    let tensors = |file: &str| {
        let artifact = Artifact::open_any(&run.join(file)).unwrap();
        let names: Vec<String> = artifact
            .tensor_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        names
            .into_iter()
            .map(|name| (artifact.tensor(&name).unwrap(), name))
            .collect::<Vec<_>>()
    };
    let (adapter, best) = (
        tensors("adapter.safetensors"),
        tensors("adapter-best.safetensors"),
    );

    // Interrupted after the checkpoint of step 2: the later checkpoints, the adapters and the
    // metrics are gone, and LoRA's run folder is gone as if never started. The same command
    // continues TASO's run first (before the fresh run that comes before it in the comparison),
    // from step 2, and reaches the same weights.
    let checkpoints = taso::train::list_checkpoints(&run.join("checkpoints")).unwrap();
    assert!(checkpoints.len() > 1, "{checkpoints:?}");
    for (step, path) in checkpoints.into_iter().filter(|(step, _)| *step > 2) {
        std::fs::remove_file(&path).unwrap_or_else(|e| panic!("step {step}: {e}"));
    }
    for file in [
        "adapter.safetensors",
        "adapter-best.safetensors",
        "metrics.json",
    ] {
        std::fs::remove_file(run.join(file)).unwrap();
    }
    std::fs::remove_dir_all(runs.join("tiny/cmp-lora-r1-lr3e-3-s0")).unwrap();
    let (ok, log) = compare(&config, &args);
    assert!(ok, "{log}");
    assert!(
        log.contains("continuing its training") && log.contains("resuming from"),
        "{log}"
    );
    let started = |run: &str| {
        let line = format!("running {}", runs.join(run).display());
        log.find(&line)
            .unwrap_or_else(|| panic!("no {line:?} in {log}"))
    };
    assert!(
        started("tiny/cmp-taso-lr3e-3-s0") < started("tiny/cmp-lora-r1-lr3e-3-s0"),
        "{log}"
    );
    assert_eq!(tensors("adapter.safetensors"), adapter);
    assert_eq!(tensors("adapter-best.safetensors"), best);

    // Logging and checkpointing settings do not make another run: the finished one is reused.
    let (ok, log) = compare(&config, &args[..4]);
    assert!(
        ok && log.contains("reusing") && !log.contains("running"),
        "{log}"
    );
}

#[test]
fn jobs_make_runs_at_once_each_with_its_own_log() {
    let dir = tempfile::tempdir().unwrap();
    let (_world, config, runs) = tiny_comparison(dir.path());
    // A sweep of two lrs on seed 0, then seed 1 at the better one: 3 runs, 2 at a time.
    let args = [
        "--seeds",
        "2",
        "--sweep-seeds",
        "1",
        "--lrs",
        "3e-3,1e-2",
        "--methods",
        "bitfit",
    ];
    let (ok, log) = compare(&config, &[&args[..], &["--jobs", "2"]].concat());
    assert!(ok, "{log}");
    assert_eq!(log.matches("] running ").count(), 3, "{log}");
    assert_eq!(log.matches("] finished ").count(), 3, "{log}");
    assert!(log.contains("stages.log"), "{log}");
    assert!(
        !log.contains("training bitfit on"),
        "the stages' output goes to the logs:\n{log}"
    );
    for lr in ["3e-3", "1e-2"] {
        let run = runs.join(format!("tiny/cmp-bitfit-lr{lr}-s0"));
        let stages = std::fs::read_to_string(run.join("stages.log")).unwrap();
        assert!(stages.contains("training bitfit on"), "{stages}");
        assert!(
            !stages.contains('\u{1b}'),
            "plain text, no colours: {stages:?}"
        );
        let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
        assert!(config.contains("threads = "), "{config}");
    }
    let table = std::fs::read_to_string(runs.join("tiny/compare/results.md")).unwrap();
    assert!(
        table.contains("| bitfit |") && table.contains(" (1) |"),
        "{table}"
    );

    // The CPU threads of a job do not make another run: one job reuses all three.
    let (ok, log) = compare(&config, &args);
    assert!(ok, "{log}");
    assert_eq!(log.matches("reusing").count(), 3, "{log}");

    // A failing run starts no further run; the one under way finishes and is kept (in the
    // --record too), and the error names the failing run's log. A `run.threads` of the
    // command's wins over the jobs' share.
    let record = dir.path().join("record");
    let failing = [
        "--record",
        record.to_str().unwrap(),
        "--set",
        "run.threads=3",
        "--seeds",
        "1",
        "--methods",
        "bitfit,broken",
        "--variant",
        "broken=run.method=taso;run.model=\"no-such-model\"",
        "--tag",
        "fail",
        "--jobs",
        "2",
    ];
    let (ok, log) = compare(&config, &failing);
    assert!(!ok, "{log}");
    assert!(
        log.contains("taso-score failed") && log.contains("cmp-fail-broken-lr3e-3-s0/stages.log"),
        "{log}"
    );
    let stages = runs.join("tiny/cmp-fail-broken-lr3e-3-s0/stages.log");
    let stages = std::fs::read_to_string(stages).unwrap();
    assert!(stages.contains("no-such-model"), "{stages}");
    let kept = runs.join("tiny/cmp-fail-bitfit-lr3e-3-s0");
    assert!(kept.join("metrics.json").is_file(), "{log}");
    let config = std::fs::read_to_string(kept.join("config.toml")).unwrap();
    assert!(config.contains("threads = 3"), "{config}");
    let recorded = record.join("tiny/cmp-fail-bitfit-lr3e-3-s0");
    assert_eq!(
        std::fs::read_to_string(recorded.join("config.toml")).unwrap(),
        config
    );
    assert!(recorded.join("metrics.json").is_file(), "{log}");
    assert!(!record.join("tiny/cmp-fail-broken-lr3e-3-s0").exists());
}
