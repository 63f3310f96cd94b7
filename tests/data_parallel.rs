//! Data-parallel scoring and training as torchrun launches them: two processes of the stage
//! binaries on 127.0.0.1 (Gloo), given `RANK`, `WORLD_SIZE`, `MASTER_ADDR` and `MASTER_PORT`,
//! against one process on the same batches; and under torchrun itself where a venv has it
//! (`TASO_TORCHRUN=1 scripts/bootstrap.sh`, as CI runs). Every child is bounded in time.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use taso::artifact::Artifact;
use taso::run::testing::{finish_within, run_ranks, workspace_binary, Fixture};
use taso::run::{Method, RunPaths};
use tch::Tensor;

/// Two epochs of 4 steps (a short last batch of 64 = 3 × 20 + 4), scoring on 4 batches.
const SETTINGS: &str = "[score]\nbatches = 4\nbatch_size = 8\n\n[regions]\nheatmaps = false\n\n\
                        [train]\nepochs = 2\nbatch_size = 20\ncheckpoint_every = 4\n";

/// How long a child may run before the test kills it and fails.
const LIMIT: Duration = Duration::from_secs(120);

/// A fixture whose tiny BERT has no dropout, so that one process and two ranks compute the same
/// function (with dropout, each rank draws its own masks).
fn fixture_without_dropout() -> Fixture {
    let fixture = Fixture::new();
    let path = fixture.path("model/config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
    config["hidden_dropout_prob"] = 0.0.into();
    config["attention_probs_dropout_prob"] = 0.0.into();
    std::fs::write(&path, config.to_string()).unwrap();
    fixture
}

fn config_of(fixture: &Fixture, name: &str) -> (PathBuf, RunPaths) {
    let run = fixture.run(Method::Taso, name);
    let path = fixture.path(&format!("{name}.toml"));
    std::fs::write(&path, fixture.config_toml(&run, SETTINGS)).unwrap();
    (path, run.paths())
}

fn stage(name: &str, config: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(workspace_binary(&format!("taso-{name}")));
    command.arg("--config").arg(config).args(extra);
    command
}

fn run_once(name: &str, config: &Path, extra: &[&str]) {
    let (ok, stderr) = run_alone(name, config, extra);
    assert!(ok, "taso-{name}: {stderr}");
}

/// Runs stage `name` in one process; its success and stderr.
fn run_alone(name: &str, config: &Path, extra: &[&str]) -> (bool, String) {
    let child = stage(name, config, extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish_within(child, LIMIT)
}

/// Runs stage `name` on two ranks, both of which must succeed; returns rank 0's log.
fn run_parallel(name: &str, config: &Path, extra: &[&str]) -> String {
    let ranks = run_ranks(2, LIMIT, |_| stage(name, config, extra));
    for (rank, (ok, stderr)) in ranks.iter().enumerate() {
        assert!(ok, "taso-{name} rank {rank}: {stderr}");
    }
    let log = ranks[0].1.clone();
    assert!(log.contains("data-parallel: rank 0 of 2"), "{log}");
    log
}

/// The tensors of an artifact, by name.
fn tensors(path: &Path) -> Vec<(String, Tensor)> {
    Tensor::read_safetensors(path).unwrap()
}

/// The largest absolute difference between two artifacts' tensors of the same names.
fn max_difference(a: &Path, b: &Path) -> f64 {
    let (a, b) = (tensors(a), tensors(b));
    assert_eq!(a.len(), b.len());
    a.iter()
        .map(|(name, x)| {
            let (_, y) = b.iter().find(|(other, _)| other == name).unwrap();
            (x.to_kind(tch::Kind::Double) - y.to_kind(tch::Kind::Double))
                .abs()
                .max()
                .double_value(&[])
        })
        .fold(0.0, f64::max)
}

/// Copies the stage 1–3 artifacts of `from` into the run folder `to`.
fn copy_inputs(from: &RunPaths, to: &RunPaths) {
    std::fs::create_dir_all(&to.dir).unwrap();
    for path in [from.importance(), from.regions(), from.adapter_init()] {
        std::fs::copy(&path, to.dir.join(path.file_name().unwrap())).unwrap();
    }
}

/// The importance of two runs is the same up to float summation order.
fn assert_same_importance(one: &RunPaths, two: &RunPaths) {
    let single = Artifact::open_any(&one.importance()).unwrap();
    let shared = Artifact::open_any(&two.importance()).unwrap();
    assert_eq!(single.meta.extra, shared.meta.extra);
    let difference = max_difference(&one.importance(), &two.importance());
    let largest = tensors(&one.importance())
        .iter()
        .map(|(_, t)| t.abs().max().double_value(&[]))
        .fold(0.0, f64::max);
    assert!(
        difference <= 1e-5 * largest,
        "importance differs by {difference} (largest {largest})"
    );
}

/// The trained adapters of two runs are the same within 1e-6.
fn assert_same_adapter(one: &RunPaths, two: &RunPaths) {
    let difference = max_difference(&one.adapter(), &two.adapter());
    assert!(difference <= 1e-6, "the adapters differ by {difference}");
}

/// The torchrun of the project's venvs whose Python imports torch: `.venv` in the cuda flavour,
/// `.venv-torchrun` where `TASO_TORCHRUN=1 scripts/bootstrap.sh` added it to the cpu flavour.
fn torchrun() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [".venv", ".venv-torchrun"]
        .iter()
        .map(|venv| root.join(venv).join("bin"))
        .find(|bin| {
            Command::new(bin.join("python"))
                .args(["-c", "import torch"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
        .map(|bin| bin.join("torchrun"))
}

/// Runs stage `name` as `torchrun --standalone --nproc-per-node 2 --no-python` starts it (the
/// rendezvous on a free port, torchrun's agent hosting the store); returns its log.
fn run_torchrun(torchrun: &Path, name: &str, config: &Path) -> String {
    let child = Command::new(torchrun)
        .args(["--standalone", "--nproc-per-node", "2", "--no-python"])
        .arg(workspace_binary(&format!("taso-{name}")))
        .arg("--config")
        .arg(config)
        .env("TASO_DIST_TIMEOUT_S", "60")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (ok, log) = finish_within(child, LIMIT);
    assert!(ok, "torchrun taso-{name}: {log}");
    assert!(log.contains("data-parallel: rank 0 of 2"), "{log}");
    log
}

#[test]
fn torchrun_launches_the_stages_as_one_process_runs_them() {
    let Some(torchrun) = torchrun() else {
        assert_ne!(
            std::env::var("TASO_TORCHRUN").as_deref(),
            Ok("1"),
            "TASO_TORCHRUN=1 asks for torchrun, but no venv's Python imports torch: run TASO_TORCHRUN=1 scripts/bootstrap.sh"
        );
        eprintln!("skipped: no torchrun (TASO_TORCHRUN=1 scripts/bootstrap.sh installs one)");
        return;
    };
    let fixture = fixture_without_dropout();
    let (one, one_paths) = config_of(&fixture, "one");
    for name in ["score", "regions", "lora", "train"] {
        run_once(name, &one, &[]);
    }
    let (two, two_paths) = config_of(&fixture, "two");
    run_torchrun(&torchrun, "score", &two);
    assert_same_importance(&one_paths, &two_paths);
    let (trained, trained_paths) = config_of(&fixture, "trained");
    copy_inputs(&one_paths, &trained_paths);
    run_torchrun(&torchrun, "train", &trained);
    assert_same_adapter(&one_paths, &trained_paths);
}

#[test]
fn two_ranks_score_and_train_as_one_process_does() {
    let fixture = fixture_without_dropout();
    let (one, one_paths) = config_of(&fixture, "one");
    for name in ["score", "regions", "lora", "train"] {
        run_once(name, &one, &[]);
    }

    // Scoring: the ranks share the 4 calibration batches; rank 0 writes the sum.
    let (two, two_paths) = config_of(&fixture, "two");
    let log = run_parallel("score", &two, &[]);
    assert!(
        log.contains("scoring batch 2/2"),
        "each rank scores 2 of the 4 batches: {log}"
    );
    assert_same_importance(&one_paths, &two_paths);

    // Training from the same adapter-init: each rank takes half of every batch of 20 (the last
    // batch of 4 too); the gradients are summed before every step, dev is evaluated in shares.
    let (trained, trained_paths) = config_of(&fixture, "trained");
    copy_inputs(&one_paths, &trained_paths);
    run_parallel("train", &trained, &[]);
    assert_same_adapter(&one_paths, &trained_paths);
    let metrics = |paths: &RunPaths| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(paths.metrics()).unwrap()).unwrap()
    };
    let (single, shared) = (metrics(&one_paths), metrics(&trained_paths));
    for epoch in 0..2 {
        assert_eq!(
            single["epochs"][epoch]["dev"],
            shared["epochs"][epoch]["dev"]
        );
        let loss = |m: &serde_json::Value| m["epochs"][epoch]["train_loss"].as_f64().unwrap();
        assert!((loss(&single) - loss(&shared)).abs() < 1e-5);
    }
    assert!(
        trained_paths.checkpoints().exists(),
        "rank 0 wrote the checkpoints"
    );
}

#[test]
fn a_two_rank_run_is_reproducible_and_resumes_only_with_two_ranks() {
    let fixture = Fixture::new(); // with dropout: the seed fixes each rank's masks
    let (first, first_paths) = config_of(&fixture, "first");
    for name in ["score", "regions", "lora"] {
        run_once(name, &first, &[]);
    }
    run_parallel("train", &first, &[]);
    let (again, again_paths) = config_of(&fixture, "again");
    copy_inputs(&first_paths, &again_paths);
    run_parallel("train", &again, &[]);
    assert_eq!(
        max_difference(&first_paths.adapter(), &again_paths.adapter()),
        0.0,
        "the same seed and world size give the same adapter"
    );

    // The checkpoints of two ranks resume with two ranks, and not with one.
    let (ok, stderr) = run_alone("train", &first, &["--resume"]);
    assert!(!ok, "one process resumed a two-rank run");
    assert!(stderr.contains("world_size"), "{stderr}");
    run_parallel("train", &first, &["--resume"]);
}
