//! What the stage binaries refuse, each with one line on stderr that names the file and the
//! command that fixes it: another task's artifact, a stale parent at each consuming stage, a
//! typo in any section of the config, an artifact that disagrees with its own metadata, NaN
//! values, and the adapter of a training that did not finish.

use std::path::{Path, PathBuf};
use std::process::Command;

use taso::artifact::{write_artifact, Artifact, TensorData};
use taso::run::testing::{workspace_binary, Fixture};
use taso::run::{Method, RunPaths};

/// Quick settings for every stage of the tiny encoder fixture.
const QUICK: &str = "[score]\nbatches = 2\nbatch_size = 8\n\n[regions]\nheatmaps = false\n\n\
                     [train]\nepochs = 1\nbatch_size = 16\nmax_steps = 2\n";

/// One stage run: whether it succeeded, and its stderr.
struct Outcome {
    ok: bool,
    stderr: String,
}

impl Outcome {
    /// Asserts a refusal: failure, one `error: ` line, containing every word of `words`.
    fn refused_with(&self, words: &[&str]) {
        assert!(
            !self.ok,
            "expected a refusal, got success:\n{}",
            self.stderr
        );
        let error: Vec<&str> = self
            .stderr
            .lines()
            .filter(|line| line.starts_with("error: "))
            .collect();
        assert_eq!(error.len(), 1, "one error line expected:\n{}", self.stderr);
        assert!(
            !self.stderr.contains("Caused by") && !self.stderr.contains("stack backtrace"),
            "{}",
            self.stderr
        );
        for word in words {
            assert!(
                error[0].contains(word),
                "`{word}` missing from: {}",
                error[0]
            );
        }
    }
}

/// Runs `taso-<stage> --config config extra...` with `RUST_BACKTRACE=1` set, as a user might
/// have it: errors must still be one line.
fn stage(name: &str, config: &Path, extra: &[&str]) -> Outcome {
    let output = Command::new(workspace_binary(&format!("taso-{name}")))
        .arg("--config")
        .arg(config)
        .args(extra)
        .env("RUST_BACKTRACE", "1")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("the stage binary runs");
    Outcome {
        ok: output.status.success(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs the five stages in order; panics on a failure.
fn pipeline(config: &Path) {
    for name in ["score", "regions", "lora", "train", "eval"] {
        let outcome = stage(name, config, &[]);
        assert!(outcome.ok, "taso-{name}: {}", outcome.stderr);
    }
}

/// A TASO run `name` of the fixture's task `task` (`tiny` or `tiny-score`) with quick settings;
/// returns its config file and run folder.
fn run_config(fixture: &Fixture, task: &str, name: &str) -> (PathBuf, RunPaths) {
    let mut run = fixture.run(Method::Taso, name);
    run.task = fixture.path(&format!("{task}.toml")).display().to_string();
    let path = fixture.path(&format!("{task}-{name}.toml"));
    std::fs::write(&path, fixture.config_toml(&run, QUICK)).unwrap();
    (path, run.paths())
}

/// The named tensors of one artifact file, in file order.
type Tensors = Vec<(String, TensorData)>;

/// Rewrites the artifact at `path` with `edit` applied to its tensors, keeping its metadata.
fn rewrite(path: &Path, edit: impl FnOnce(&mut Tensors)) {
    let artifact = Artifact::open_any(path).unwrap();
    let mut tensors: Tensors = artifact
        .tensor_names()
        .into_iter()
        .map(|name| (name.to_string(), artifact.tensor(name).unwrap()))
        .collect();
    edit(&mut tensors);
    let meta = artifact.meta.clone();
    drop(artifact);
    write_artifact(path, &meta, &tensors).unwrap();
}

#[test]
fn another_task_s_artifacts_are_refused() {
    let fixture = Fixture::new();
    let (config, paths) = run_config(&fixture, "tiny", "lineage");
    pipeline(&config);
    let (other, other_paths) = run_config(&fixture, "tiny-score", "lineage");
    std::fs::create_dir_all(&other_paths.dir).unwrap();

    // Scores of `tiny` put into a `tiny-score` run folder.
    std::fs::copy(paths.importance(), other_paths.importance()).unwrap();
    stage("regions", &other, &[]).refused_with(&[
        "importance.safetensors",
        "task 'tiny'",
        "'tiny-score'",
        "taso-score",
    ]);
    // The adapter of `tiny` evaluated on `tiny-score`: refused, and no metrics written.
    let adapter = paths.adapter_best();
    stage("eval", &other, &["--adapter", adapter.to_str().unwrap()]).refused_with(&[
        "adapter-best.safetensors",
        "task 'tiny'",
        "taso-train",
    ]);
    assert!(!other_paths.metrics().exists());
}

#[test]
fn a_stale_parent_is_refused_at_every_consuming_stage() {
    let fixture = Fixture::new();
    let (config, _) = run_config(&fixture, "tiny", "stale");
    pipeline(&config);

    // Re-made adapter-init (another seed): the trained adapter is stale for taso-eval.
    assert!(stage("lora", &config, &["--set", "run.seed=11"]).ok);
    stage("eval", &config, &[]).refused_with(&[
        "adapter-best.safetensors is stale",
        "adapter-init.safetensors",
        "re-run `taso-train`",
    ]);
    // Re-made regions (another rank): the adapter-init is stale for taso-train.
    assert!(stage("regions", &config, &["--set", "regions.rank=4"]).ok);
    stage("train", &config, &[]).refused_with(&[
        "adapter-init.safetensors is stale",
        "regions.safetensors",
        "re-run `taso-lora`",
    ]);
    // Re-scored importance (more batches): the regions are stale for taso-lora.
    assert!(stage("score", &config, &["--set", "score.batches=3"]).ok);
    stage("lora", &config, &[]).refused_with(&[
        "regions.safetensors is stale",
        "importance.safetensors",
        "re-run `taso-regions`",
    ]);
    // Re-running the stages in order makes them agree again.
    pipeline(&config);

    // A checkpoint of an adapter-init re-made since is refused by `taso-train --resume`.
    let checkpointed = [
        "--set",
        "train.checkpoint_every=1",
        "--set",
        "train.max_steps=1",
    ];
    assert!(stage("train", &config, &checkpointed).ok);
    assert!(stage("lora", &config, &["--set", "run.seed=13"]).ok);
    stage("train", &config, &["--resume"]).refused_with(&[
        "checkpoints",
        "is stale",
        "without --resume",
    ]);
}

#[test]
fn a_typo_in_any_section_stops_the_first_stage_before_any_work() {
    let fixture = Fixture::new();
    let (config, paths) = run_config(&fixture, "tiny", "typo");
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["--set", "trian.epochs=3"],
            &["[trian]", "did you mean [train]?", "--set trian.epochs=3"],
        ),
        (
            &["--set", "train.learning_rate=1"],
            &["[train]", "learning_rate", "--set train.learning_rate=1"],
        ),
        (&["--set", "nosuch.key=1"], &["[nosuch]", "unknown section"]),
        (
            &["--set", "eval.batch_size=\"many\""],
            &["[eval]", "`batch_size`", "invalid type"],
        ),
    ];
    for (extra, words) in cases {
        stage("score", &config, extra).refused_with(words);
    }
    assert!(!paths.dir.exists(), "a refused stage creates no run folder");

    // A misspelt section in the file names its line.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n[lroa]\nrank = 4\n")).unwrap();
    let line = text.lines().count() + 2;
    let location = format!("{}:{line})", config.display());
    stage("score", &config, &[]).refused_with(&["[lroa]", "did you mean [lora]?", &location]);
}

#[test]
fn artifacts_that_disagree_with_their_metadata_or_hold_nan_are_refused() {
    let fixture = Fixture::new();
    let (config, paths) = run_config(&fixture, "tiny", "damaged");
    pipeline(&config);
    let regions = std::fs::read(paths.regions()).unwrap();
    let adapter = std::fs::read(paths.adapter_best()).unwrap();

    // Regions with one matrix removed: the parameter count no longer matches the metadata.
    rewrite(&paths.regions(), |tensors| {
        let first = tensors[0].0.rsplit_once('.').unwrap().0.to_string();
        tensors.retain(|(name, _)| !name.starts_with(&format!("{first}.")));
    });
    stage("lora", &config, &[]).refused_with(&[
        "regions.safetensors is damaged or inconsistent",
        "its metadata records",
        "re-run `taso-regions`",
    ]);
    std::fs::write(paths.regions(), &regions).unwrap();

    // A trained adapter holding a NaN, a transposed factor, an out-of-range index: each names
    // the adapter file and the stage that writes it.
    let nan = |tensors: &mut Tensors| {
        let (_, b) = tensors
            .iter_mut()
            .find(|(n, _)| n.ends_with(".lora_B"))
            .unwrap();
        let mut values = b.to_f32_vec().unwrap();
        values[0] = f32::NAN;
        *b = TensorData::from_f32(b.shape.clone(), &values).unwrap();
    };
    let transposed = |tensors: &mut Tensors| {
        let (_, a) = tensors
            .iter_mut()
            .find(|(n, _)| n.ends_with(".lora_A"))
            .unwrap();
        let values = a.to_f32_vec().unwrap();
        *a = TensorData::from_f32([a.shape[1], a.shape[0]], &values).unwrap();
    };
    let out_of_range = |tensors: &mut Tensors| {
        let (_, rows) = tensors
            .iter_mut()
            .find(|(n, _)| n.ends_with(".rows"))
            .unwrap();
        let mut values: Vec<i64> = rows.to_vec().unwrap();
        *values.last_mut().unwrap() = 1 << 40;
        *rows = TensorData::from_i64([values.len()], &values).unwrap();
    };
    let head_nan = |tensors: &mut Tensors| {
        let (_, w) = tensors
            .iter_mut()
            .find(|(n, _)| n.starts_with("head."))
            .unwrap();
        let mut values = w.to_f32_vec().unwrap();
        values[0] = f32::INFINITY;
        *w = TensorData::from_f32(w.shape.clone(), &values).unwrap();
    };
    type Edit<'a> = &'a dyn Fn(&mut Tensors);
    let cases: [(Edit, &str); 4] = [
        (&nan, "NaN"),
        (&transposed, "lora_A"),
        (&out_of_range, "0.."),
        (&head_nan, "NaN or infinite"),
    ];
    for (edit, word) in cases {
        rewrite(&paths.adapter_best(), edit);
        stage("eval", &config, &[]).refused_with(&["adapter-best.safetensors", word, "taso-train"]);
        std::fs::write(paths.adapter_best(), &adapter).unwrap();
    }
    assert!(
        stage("eval", &config, &[]).ok,
        "the restored adapter evaluates"
    );
}

#[test]
fn the_adapter_of_an_unfinished_training_is_evaluated_only_when_asked() {
    let fixture = Fixture::new();
    let (config, paths) = run_config(&fixture, "tiny", "unfinished");
    pipeline(&config);
    // What a training killed after its first epoch leaves: its marker stays.
    std::fs::write(paths.training_marker(), "").unwrap();
    stage("eval", &config, &[]).refused_with(&[
        "did not finish",
        "taso-train --resume",
        "--allow-incomplete",
    ]);
    assert!(stage("eval", &config, &["--allow-incomplete"]).ok);
    assert!(stage("train", &config, &[]).ok);
    assert!(
        !paths.training_marker().exists(),
        "a finished training removes its marker"
    );
    assert!(stage("eval", &config, &[]).ok);
}

#[test]
fn the_whole_chain_is_printed_only_when_asked() {
    let fixture = Fixture::new();
    let (config, _) = run_config(&fixture, "tiny", "verbose");
    let quiet = stage("lora", &config, &[]);
    quiet.refused_with(&["regions.safetensors", "taso-regions"]);
    let verbose = stage("lora", &config, &["-v"]);
    assert!(!verbose.ok);
    assert!(verbose.stderr.contains("Caused by"), "{}", verbose.stderr);
}
