//! `taso-score` end to end on a tiny world the test builds: a random BERT, a word-level
//! tokenizer and a generated task.

use std::path::{Path, PathBuf};
use std::process::Command;
use taso_artifact::Importance;
use taso_artifact::{model_fingerprint, Artifact, ArtifactKind, Expect};
use taso_models::testing::{run_captured, TinySpec, TinyWorld};

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    world: TinyWorld,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let world = TinySpec::default().write(&root).unwrap();
    Setup {
        _dir: dir,
        root,
        world,
    }
}

impl Setup {
    /// Writes a config for run `name` with extra TOML lines and returns its path.
    fn config(&self, name: &str, extra: &str) -> PathBuf {
        let text = format!(
            "[run]\ntask = {:?}\nmodel = {:?}\ndata_dir = {:?}\nruns_dir = {:?}\nname = {name:?}\ndevice = \"cpu\"\nmax_len = 16\n\n[score]\nbatches = 3\nbatch_size = 16\n{extra}\n",
            self.world.task_file, self.world.model_dir, self.world.data_dir, self.root.join("runs")
        );
        let path = self.root.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn importance_path(&self, name: &str) -> PathBuf {
        self.root
            .join("runs/tiny")
            .join(name)
            .join("importance.safetensors")
    }
}

fn score(args: &[&str]) -> (bool, String) {
    run_captured(Command::new(env!("CARGO_BIN_EXE_taso-score")).args(args))
}

fn run_config(config: &Path, sets: &[&str]) -> (bool, String) {
    let mut args = vec!["--config", config.to_str().unwrap()];
    for set in sets {
        args.extend(["--set", set]);
    }
    score(&args)
}

fn open(setup: &Setup, path: &Path) -> Importance {
    let expect = Expect::kind(ArtifactKind::Importance)
        .model(model_fingerprint(&setup.world.model_dir).unwrap());
    Importance::from_artifact(&Artifact::open(path, &expect).unwrap()).unwrap()
}

#[test]
fn scores_every_target_reproducibly() {
    let s = setup();
    let config = s.config("a", "");
    let (ok, log) = run_config(&config, &[]);
    assert!(ok, "{log}");
    let importance = open(&s, &s.importance_path("a"));
    assert_eq!(importance.matrices.len(), 12, "2 blocks x 6 target layers");
    assert_eq!(importance.examples, 48);
    for m in &importance.matrices {
        let full = m.scores_f32().unwrap().unwrap();
        assert!(full.iter().all(|v| v.is_finite() && *v >= 0.0));
        let (rows, cols): (f32, f32) = (m.row.iter().sum(), m.col.iter().sum());
        assert!(
            (rows - cols).abs() <= 1e-3 * rows.max(1e-6),
            "{}: marginals disagree",
            m.target.name
        );
        assert!(rows > 0.0, "{} got no importance", m.target.name);
    }
    assert!(s.root.join("runs/tiny/a/config.toml").is_file());
    let first = std::fs::read(s.importance_path("a")).unwrap();
    let (ok, log) = run_config(&config, &[]);
    assert!(ok, "{log}");
    assert!(
        first == std::fs::read(s.importance_path("a")).unwrap(),
        "the same command must give the same bytes"
    );
}

#[test]
fn shards_merge_into_their_sum_and_marginals_only_is_small() {
    let s = setup();
    for (name, index) in [("s0", 0), ("s1", 1)] {
        let config = s.config(
            name,
            &format!("store = \"marginals\"\nshard = {{ index = {index}, count = 2 }}"),
        );
        let (ok, log) = run_config(&config, &[]);
        assert!(ok, "{log}");
    }
    let out = s.root.join("merged.safetensors");
    let (a, b) = (s.importance_path("s0"), s.importance_path("s1"));
    let (ok, log) = score(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{log}");
    let merged_meta = Artifact::open_any(&out).unwrap().meta;
    assert_eq!(
        merged_meta.extra["loss"], "answer",
        "a classifier scores its training loss"
    );
    let (a, b, merged) = (open(&s, &a), open(&s, &b), open(&s, &out));
    assert!(merged.matrices[0].scores.is_none());
    assert_eq!(merged.examples, a.examples + b.examples);
    for ((m, x), y) in merged.matrices.iter().zip(&a.matrices).zip(&b.matrices) {
        for ((sum, p), q) in m.row.iter().zip(&x.row).zip(&y.row) {
            assert!((sum - (p + q)).abs() <= 1e-6 * sum.abs().max(1.0));
        }
    }

    let config = s.config(
        "g1",
        "store = \"marginals\"\nsignal = \"grad\"\nshard = { index = 1, count = 2 }",
    );
    let (ok, log) = run_config(&config, &[]);
    assert!(ok, "{log}");
    let grad = s.importance_path("g1");
    let (ok, log) = score(&[
        "merge",
        s.importance_path("s0").to_str().unwrap(),
        grad.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && log.contains("another `score.signal`"), "{log}");

    // A shard written before `score.signal` and `score.loss` existed scored the default signal
    // and the training loss: it merges with a default shard and is refused beside a `grad` one.
    let old = s.root.join("old.safetensors");
    let shard = Artifact::open_any(&s.importance_path("s0")).unwrap();
    let mut meta = shard.meta.clone();
    for key in ["signal", "loss"] {
        meta.config.as_object_mut().unwrap().remove(key).unwrap();
    }
    meta.extra.remove("loss").unwrap();
    Importance::from_artifact(&shard)
        .unwrap()
        .write(&old, meta)
        .unwrap();
    let merge_with = |other: &Path| {
        score(&[
            "merge",
            old.to_str().unwrap(),
            other.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let (ok, log) = merge_with(&s.importance_path("s1"));
    assert!(ok, "{log}");
    let (ok, log) = merge_with(&grad);
    assert!(!ok && log.contains("another `score.signal`"), "{log}");

    // A shard scored on another loss is refused.
    let choice = s.root.join("choice.safetensors");
    let shard = Artifact::open_any(&s.importance_path("s1")).unwrap();
    let meta = shard.meta.clone().with_extra("loss", "choice");
    Importance::from_artifact(&shard)
        .unwrap()
        .write(&choice, meta)
        .unwrap();
    let (ok, log) = merge_with(&choice);
    assert!(!ok && log.contains("another `score.loss`"), "{log}");
}

#[test]
fn methods_without_scores_do_nothing_and_bad_settings_are_refused() {
    let s = setup();
    let config = s.config("b", "");
    let (ok, log) = run_config(&config, &["run.method=lora"]);
    assert!(ok && log.contains("nothing to do"), "{log}");
    assert!(!s.importance_path("b").exists());

    let (ok, log) = run_config(&config, &["score.batchez=3"]);
    assert!(!ok && log.contains("batchez"), "{log}");
    let (ok, log) = run_config(&config, &["score.batches=0"]);
    assert!(!ok && log.contains("batches"), "{log}");
    let (ok, log) = run_config(&config, &["run.targets=[\"no.such.layer\"]"]);
    assert!(!ok && log.contains("no.such.layer"), "{log}");
    assert!(
        !s.importance_path("b").exists(),
        "a failed run leaves no artifact"
    );
}

#[test]
fn an_unlabeled_training_split_is_refused_by_name() {
    let s = setup();
    let task = std::fs::read_to_string(&s.world.task_file).unwrap();
    let task = task.replace(
        "train = \"tiny/train.tsv\"",
        "train = { path = \"tiny/train.tsv\", unlabeled = true }",
    );
    let task_file = s.root.join("unlabeled.toml");
    std::fs::write(&task_file, task).unwrap();
    let config = s.config("c", "");
    let (ok, log) = run_config(
        &config,
        &[&format!("run.task={:?}", task_file.to_str().unwrap())],
    );
    assert!(!ok && log.contains("unlabeled examples"), "{log}");
}

/// Each matrix's worst row- or column-marginal difference, relative to the marginal's largest
/// value, and the share of matrices whose top row and top column both agree.
fn marginal_gaps(reference: &Importance, other: &Importance) -> (f64, f64) {
    let gap = |a: &[f32], b: &[f32]| {
        let peak = a.iter().fold(0f32, |m, v| m.max(*v));
        let worst = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        f64::from(worst / peak)
    };
    let top = |v: &[f32]| (0..v.len()).max_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut worst = 0f64;
    let mut same_top = 0;
    for (a, b) in reference.matrices.iter().zip(&other.matrices) {
        worst = worst.max(gap(&a.row, &b.row)).max(gap(&a.col, &b.col));
        same_top += usize::from(top(&a.row) == top(&b.row) && top(&a.col) == top(&b.col));
    }
    (worst, same_top as f64 / reference.matrices.len() as f64)
}

#[test]
fn scoring_in_bf16_and_f16_follows_f32() {
    let s = setup();
    for dtype in ["f32", "bf16", "f16"] {
        let config = s.config(dtype, "store = \"marginals\"");
        let (ok, log) = run_config(&config, &[&format!("run.dtype={dtype}")]);
        assert!(ok, "{log}");
        assert!(
            log.contains("memory for scoring (estimate): weights"),
            "{log}"
        );
    }
    let reference = open(&s, &s.importance_path("f32"));
    // The weight gradients come in bf16 or f16 (the f16 loss scaled by up to 65536 so that they
    // do not underflow); the sums are f32. Stated tolerance: marginals within 5% (bf16) and 1%
    // (f16) of their peak, and the top row and column of at least 3 in 4 matrices as in f32.
    for (dtype, tolerance) in [("bf16", 5e-2), ("f16", 1e-2)] {
        let (gap, same_top) = marginal_gaps(&reference, &open(&s, &s.importance_path(dtype)));
        eprintln!("{dtype}: marginal gap {gap:.2e}, top row and column agree in {same_top:.2}");
        assert!(gap < tolerance && gap > 0.0, "{dtype}: {gap:.2e}");
        assert!(same_top >= 0.75, "{dtype}: {same_top}");
    }
}

#[test]
fn checkpointed_scoring_gives_the_same_scores() {
    let s = setup();
    let plain = s.config("plain", "");
    let checkpointed = s.config("checkpointed", "checkpoint_activations = true");
    for config in [&plain, &checkpointed] {
        let (ok, log) = run_config(config, &[]);
        assert!(ok, "{log}");
    }
    let (a, b) = (
        open(&s, &s.importance_path("plain")),
        open(&s, &s.importance_path("checkpointed")),
    );
    for (x, y) in a.matrices.iter().zip(&b.matrices) {
        let (x, y) = (
            x.scores_f32().unwrap().unwrap(),
            y.scores_f32().unwrap().unwrap(),
        );
        let peak = x.iter().fold(0f32, |m, v| m.max(*v));
        let gap = x
            .iter()
            .zip(&y)
            .fold(0f32, |m, (p, q)| m.max((p - q).abs()));
        assert!(gap <= 1e-5 * peak, "gap {gap:e} against peak {peak:e}");
    }
}

#[test]
fn inputs_measures_every_target_type_and_scores_nothing() {
    let s = setup();
    let config = s.config("loud", "");
    let (ok, log) = score(&["inputs", "--config", config.to_str().unwrap()]);
    assert!(ok, "{log}");
    let report = std::fs::read_to_string(s.root.join("runs/tiny/loud/inputs.md")).unwrap();
    assert!(report.contains("48 calibration examples"), "{report}");
    // One row per target type of the tiny BERT (2 blocks each), every figure finite.
    let rows: Vec<&str> = report.lines().filter(|l| l.contains("| 2 | ")).collect();
    assert_eq!(rows.len(), 6, "{report}");
    assert!(
        rows.iter()
            .all(|r| !r.contains("NaN") && !r.contains("inf")),
        "{report}"
    );
    assert!(log.contains("written to"), "{log}");
    assert!(!s.importance_path("loud").exists(), "inputs scores nothing");
    // The same measurement again gives the same report.
    let (ok, log) = score(&["inputs", "--config", config.to_str().unwrap()]);
    assert!(ok, "{log}");
    assert_eq!(
        report,
        std::fs::read_to_string(s.root.join("runs/tiny/loud/inputs.md")).unwrap()
    );
    // Bad settings are refused before any work, like the stage's.
    let (ok, log) = score(&[
        "inputs",
        "--config",
        config.to_str().unwrap(),
        "--set",
        "score.batchez=2",
    ]);
    assert!(!ok && log.contains("batchez"), "{log}");
}

#[test]
fn rms_input_norm_rescales_each_column_by_one_factor() {
    let s = setup();
    let (ok, log) = run_config(&s.config("plain", ""), &[]);
    assert!(ok, "{log}");
    let (ok, log) = run_config(&s.config("quiet", "input_norm = \"rms\""), &[]);
    assert!(ok, "{log}");
    let (plain, quiet) = (
        open(&s, &s.importance_path("plain")),
        open(&s, &s.importance_path("quiet")),
    );
    for (a, b) in plain.matrices.iter().zip(&quiet.matrices) {
        let (a_full, b_full) = (
            a.scores_f32().unwrap().unwrap(),
            b.scores_f32().unwrap().unwrap(),
        );
        let d_in = a.target.d_in;
        // Per column j one factor b/a = 1 / RMS(x_j), the same on every row.
        let factors: Vec<f64> = (0..d_in)
            .map(|j| f64::from(b.col[j]) / f64::from(a.col[j]))
            .collect();
        assert!(
            factors.iter().all(|f| f.is_finite() && *f > 0.0),
            "{}",
            a.target.name
        );
        for (i, (x, y)) in a_full.iter().zip(&b_full).enumerate() {
            let expected = f64::from(*x) * factors[i % d_in];
            assert!(
                (f64::from(*y) - expected).abs() <= 1e-4 * expected.abs().max(1e-6),
                "{} [{i}]: {y} vs {expected}",
                a.target.name
            );
        }
        let spread = factors.iter().cloned().fold(f64::MIN, f64::max)
            / factors.iter().cloned().fold(f64::MAX, f64::min);
        assert!(
            spread > 1.01,
            "{}: the columns run equally loud",
            a.target.name
        );
    }
    // Marginals alone cannot be divided: refused before any work.
    let (ok, log) = run_config(
        &s.config("bad", "input_norm = \"rms\"\nstore = \"marginals\""),
        &[],
    );
    assert!(!ok && log.contains("input_norm"), "{log}");
}

#[test]
fn targets_the_model_lacks_are_refused_naming_its_paths() {
    let s = setup();
    let config = s.config("none", "");
    let config = config.to_str().unwrap();
    for args in [
        vec![
            "--config",
            config,
            "--set",
            "run.targets=[\"no.such.proj\"]",
        ],
        vec![
            "inputs",
            "--config",
            config,
            "--set",
            "run.targets=[\"no.such.proj\"]",
        ],
    ] {
        let (ok, log) = score(&args);
        assert!(!ok, "{log}");
        assert!(
            log.contains("no.such.proj") && log.contains("attention.self.query"),
            "{log}"
        );
    }
    assert!(!s.importance_path("none").exists());
}
