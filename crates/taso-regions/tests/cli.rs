//! The `taso-regions` binary end to end on a run folder in a temporary directory, with a tiny
//! fake model (config.json and a model.safetensors of the right shapes).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use safetensors::tensor::TensorView;
use taso_artifact::{
    model_fingerprint, write_artifact, Artifact, ArtifactKind, ArtifactMeta, Expect, TensorData,
};
use taso_artifact::{Regions, Target};
use taso_run::RunPaths;

const HIDDEN: usize = 8;
const FFN: usize = 16;
const LAYERS: usize = 2;
const TARGETS: [&str; 4] = [
    "attention.self.query",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
];

/// A run folder: the model, the config file and where the outputs go.
struct Run {
    _dir: tempfile::TempDir,
    model: PathBuf,
    config: PathBuf,
    paths: RunPaths,
}

impl Run {
    /// A fake model and a config for `method` with `regions` appended to `[regions]`.
    fn new(method: &str, regions: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model");
        write_model(&model);
        let runs = dir.path().join("runs");
        let targets: Vec<String> = TARGETS.iter().map(|t| format!("\"{t}\"")).collect();
        let text = format!(
            "[run]\ntask = \"rte\"\nname = \"t\"\nseed = 5\nmethod = \"{method}\"\n\
             model = \"{}\"\nruns_dir = \"{}\"\ntargets = [{}]\n\n[regions]\nrank = 2\n{regions}\n",
            model.display(),
            runs.display(),
            targets.join(", ")
        );
        let config = dir.path().join("config.toml");
        fs::write(&config, text).unwrap();
        let paths = RunPaths {
            dir: runs.join("rte").join("t"),
        };
        fs::create_dir_all(&paths.dir).unwrap();
        Self {
            _dir: dir,
            model,
            config,
            paths,
        }
    }

    fn fingerprint(&self) -> String {
        model_fingerprint(&self.model).unwrap()
    }

    fn run(&self, overrides: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_taso-regions"));
        command.arg("--config").arg(&self.config);
        for o in overrides {
            command.args(["--set", o]);
        }
        command.output().unwrap()
    }

    /// `taso-regions --coverage-under importance` on this run.
    fn coverage_under(&self, importance: &Path) -> Output {
        Command::new(env!("CARGO_BIN_EXE_taso-regions"))
            .arg("--config")
            .arg(&self.config)
            .arg("--coverage-under")
            .arg(importance)
            .output()
            .unwrap()
    }

    fn regions(&self, parent: Option<&str>) -> Regions {
        let mut expect = Expect::kind(ArtifactKind::Regions).model(self.fingerprint());
        if let Some(parent) = parent {
            expect = expect.parent(parent);
        }
        let artifact = Artifact::open(&self.paths.regions(), &expect).unwrap();
        if parent.is_none() {
            assert_eq!(artifact.meta.parent_digest, None);
        }
        Regions::from_artifact(&artifact).unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeeded(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    text(&out.stdout)
}

fn failed(out: &Output) -> String {
    assert!(!out.status.success(), "stdout: {}", text(&out.stdout));
    text(&out.stderr)
}

/// The target matrices of the fake model, in model order.
fn targets() -> Vec<Target> {
    let shape = |t: &str| match t {
        "intermediate.dense" => (FFN, HIDDEN),
        "output.dense" => (HIDDEN, FFN),
        _ => (HIDDEN, HIDDEN),
    };
    (0..LAYERS)
        .flat_map(|l| {
            TARGETS.iter().map(move |t| Target {
                name: format!("encoder.layer.{l}.{t}"),
                d_out: shape(t).0,
                d_in: shape(t).1,
            })
        })
        .collect()
}

/// config.json and a BERT-style model.safetensors (with the `bert.` prefix, biases, an
/// embedding, a key projection that is no target and a pooler outside the layers).
fn write_model(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("config.json"),
        r#"{"model_type": "bert", "hidden_size": 8}"#,
    )
    .unwrap();
    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        (
            "bert.embeddings.word_embeddings.weight".into(),
            vec![30, HIDDEN],
        ),
        ("bert.pooler.dense.weight".into(), vec![HIDDEN, HIDDEN]),
    ];
    for t in targets() {
        shapes.push((format!("bert.{}.weight", t.name), vec![t.d_out, t.d_in]));
        shapes.push((format!("bert.{}.bias", t.name), vec![t.d_out]));
    }
    for l in 0..LAYERS {
        let key = format!("bert.encoder.layer.{l}.attention.self.key.weight");
        shapes.push((key, vec![HIDDEN, HIDDEN]));
    }
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = shapes
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let bytes = (0..n)
                .flat_map(|i| (i as f32 * 0.01).to_le_bytes())
                .collect();
            (name, shape, bytes)
        })
        .collect();
    let views = data.iter().map(|(name, shape, bytes)| {
        let view = TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes).unwrap();
        (name.as_str(), view)
    });
    let bytes = safetensors::serialize(views, None::<HashMap<String, String>>).unwrap();
    fs::write(dir.join("model.safetensors"), bytes).unwrap();
}

/// The planted row and column of matrix `m`: scores are 1 there and 0.001 elsewhere.
fn planted(m: usize, t: &Target) -> (usize, usize) {
    (m % t.d_out, (3 * m + 1) % t.d_in)
}

/// Writes an importance artifact as `taso-score` does (`docs/artifacts.md`): full scores
/// (f16 for the first matrix, f32 for the others) unless `marginals_only`.
fn write_importance(path: &Path, fingerprint: &str, marginals_only: bool) -> String {
    let targets = targets();
    let meta = ArtifactMeta::new(
        ArtifactKind::Importance,
        "taso-score",
        "0.1.0",
        fingerprint,
        "rte",
        &serde_json::json!({ "estimator": "sum-abs" }),
    )
    .unwrap()
    .with_extra("targets", serde_json::to_string(&targets).unwrap())
    .with_extra("examples", "16");
    let mut tensors = Vec::new();
    for (m, t) in targets.iter().enumerate() {
        let (hot_row, hot_col) = planted(m, t);
        let scores: Vec<f32> = (0..t.d_out * t.d_in)
            .map(|k| {
                let (i, j) = (k / t.d_in, k % t.d_in);
                if i == hot_row || j == hot_col {
                    1.0
                } else {
                    0.001
                }
            })
            .collect();
        let row: Vec<f32> = (0..t.d_out)
            .map(|i| scores[i * t.d_in..][..t.d_in].iter().sum())
            .collect();
        let col: Vec<f32> = (0..t.d_in)
            .map(|j| (0..t.d_out).map(|i| scores[i * t.d_in + j]).sum())
            .collect();
        let name = &t.name;
        tensors.push((
            format!("{name}.row"),
            TensorData::from_f32([t.d_out], &row).unwrap(),
        ));
        tensors.push((
            format!("{name}.col"),
            TensorData::from_f32([t.d_in], &col).unwrap(),
        ));
        if !marginals_only {
            let shape = [t.d_out, t.d_in];
            let stored = if m == 0 {
                let half: Vec<taso_artifact::f16> = scores
                    .iter()
                    .map(|&v| taso_artifact::f16::from_f32(v))
                    .collect();
                TensorData::from_slice(shape, &half).unwrap()
            } else {
                TensorData::from_f32(shape, &scores).unwrap()
            };
            tensors.push((format!("{name}.scores"), stored));
        }
    }
    write_artifact(path, &meta, &tensors).unwrap()
}

#[test]
fn taso_selects_the_planted_lines_and_writes_every_output() {
    let run = Run::new("taso", "budget = \"lora-r1\"");
    let parent = write_importance(&run.paths.importance(), &run.fingerprint(), false);
    let stdout = succeeded(&run.run(&[]));
    assert!(stdout.contains("8 of 8 matrices adapted"), "{stdout}");
    assert!(stdout.contains("coverage: mean"), "{stdout}");

    let regions = run.regions(Some(&parent));
    assert_eq!(regions.targets, targets());
    assert_eq!(regions.rank, 2);
    let rank1: usize = targets().iter().map(|t| t.d_out + t.d_in).sum();
    assert_eq!(regions.budget, rank1);
    assert!(regions.used() <= regions.budget);
    for (m, region) in regions.matrices.iter().enumerate() {
        let (row, col) = planted(m, &region.target);
        assert!(
            region.rows.contains(&(row as i64)),
            "{}: {:?}",
            region.target.name,
            region.rows
        );
        assert!(
            region.cols.contains(&(col as i64)),
            "{}: {:?}",
            region.target.name,
            region.cols
        );
    }
    for c in &regions.coverage {
        assert!(c.share > c.random_share, "{c:?}");
    }

    let report = fs::read_to_string(run.paths.dir.join("regions.md")).unwrap();
    assert!(
        report.contains("| encoder.layer.1.output.dense |"),
        "{report}"
    );
    assert!(report.contains("exact share"), "{report}");
    assert!(report.contains("`coverage-by-layer.png`"), "{report}");
    let chart = image::open(run.paths.dir.join("coverage-by-layer.png")).unwrap();
    assert_eq!((chart.width(), chart.height()), (900, 500));
    // Dense regions read no importance: the earlier selection's chart goes with it.
    succeeded(&run.run(&["run.method=lora"]));
    assert!(!run.paths.dir.join("coverage-by-layer.png").exists());
    let resolved = fs::read_to_string(run.paths.config()).unwrap();
    assert!(
        resolved.contains("[regions]") && resolved.contains("rank = 2"),
        "{resolved}"
    );
    for t in targets() {
        let png = run
            .paths
            .dir
            .join("heatmaps")
            .join(format!("{}.png", t.name));
        let image = image::open(&png).unwrap().to_rgb8();
        assert!(
            image.width() > 100 && image.height() > 100,
            "{}",
            png.display()
        );
    }
}

#[test]
fn coverage_under_another_importance_reads_only_and_groups_by_matrix_type() {
    let run = Run::new("taso", "heatmaps = false");
    write_importance(&run.paths.importance(), &run.fingerprint(), false);
    succeeded(&run.run(&[]));
    let before = fs::read(run.paths.regions()).unwrap();
    let other = run.paths.dir.join("other-importance.safetensors");
    write_importance(&other, &run.fingerprint(), false);
    let stdout = succeeded(&run.coverage_under(&other));
    // The same scores under both names: the two shares agree, row by row.
    for line in stdout
        .lines()
        .filter(|l| l.starts_with("| attention") || l.starts_with("| **all"))
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(cells[3], cells[4], "{stdout}");
    }
    assert!(stdout.contains("| attention.self.query | 2 |"), "{stdout}");
    assert!(stdout.contains("| **all** | 8 |"), "{stdout}");
    assert_eq!(fs::read(run.paths.regions()).unwrap(), before);

    let foreign = run.paths.dir.join("foreign-importance.safetensors");
    write_importance(&foreign, "sha256:another-model", false);
    let stderr = failed(&run.coverage_under(&foreign));
    assert!(
        stderr.contains("foreign-importance.safetensors"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn random_regions_are_seeded_and_overrides_apply() {
    let run = Run::new("random-regions", "heatmaps = false");
    let parent = write_importance(&run.paths.importance(), &run.fingerprint(), false);
    succeeded(&run.run(&[]));
    let first = run.regions(Some(&parent));
    succeeded(&run.run(&[]));
    assert_eq!(run.regions(Some(&parent)), first);
    succeeded(&run.run(&["run.seed=6"]));
    assert_ne!(run.regions(Some(&parent)).matrices, first.matrices);
    assert!(!run.paths.dir.join("heatmaps").exists());
    assert!(!run.paths.dir.join("coverage-by-layer.png").exists());
    let artifact = Artifact::open_any(&run.paths.regions()).unwrap();
    assert_eq!(artifact.meta.config["allocation"], "random");
}

#[test]
fn marginals_only_needs_marginal_scores_and_estimates_coverage() {
    let run = Run::new("taso", "");
    write_importance(&run.paths.importance(), &run.fingerprint(), true);
    let stderr = failed(&run.run(&[]));
    assert!(stderr.contains("regions.row_score=marginal"), "{stderr}");
    assert!(stderr.contains("importance.safetensors"), "{stderr}");
    let marginal = ["regions.row_score=marginal", "regions.col_score=marginal"];
    let stdout = succeeded(&run.run(&marginal));
    assert!(stdout.contains("estimated from marginals"), "{stdout}");
    let report = fs::read_to_string(run.paths.dir.join("regions.md")).unwrap();
    assert!(report.contains("**estimated**"), "{report}");
    assert!(!run.paths.dir.join("heatmaps").exists());
}

#[test]
fn importance_of_another_model_is_refused() {
    let run = Run::new("taso", "");
    write_importance(&run.paths.importance(), "sha256:another-model", false);
    let stderr = failed(&run.run(&[]));
    assert!(
        stderr.contains("another base model") && stderr.contains("taso-score"),
        "{stderr}"
    );
    assert!(stderr.contains("importance.safetensors"), "{stderr}");
    assert!(!run.paths.regions().exists());
}

#[test]
fn a_regions_artifact_is_refused_where_importance_is_needed() {
    let run = Run::new("taso", "");
    let meta = ArtifactMeta::new(
        ArtifactKind::Regions,
        "taso-regions",
        "0.1.0",
        run.fingerprint(),
        "rte",
        &serde_json::json!({}),
    )
    .unwrap();
    taso_regions::dense_regions(targets(), 2)
        .write(&run.paths.importance(), meta)
        .unwrap();
    let stderr = failed(&run.run(&[]));
    assert!(
        stderr.contains("a 'regions' artifact but an 'importance'"),
        "{stderr}"
    );
    assert!(stderr.contains("taso-score"), "{stderr}");
}

#[test]
fn missing_importance_names_the_stage_to_run() {
    let run = Run::new("taso", "");
    let stderr = failed(&run.run(&[]));
    assert!(stderr.contains("run `taso-score` first"), "{stderr}");
}

#[test]
fn lora_keeps_every_row_and_column_without_importance() {
    let run = Run::new("lora", "");
    let stdout = succeeded(&run.run(&["regions.rank=4"]));
    assert!(stdout.contains("method lora"), "{stdout}");
    let regions = run.regions(None);
    assert_eq!(regions.targets, targets(), "key and pooler are not targets");
    assert_eq!(regions.rank, 4);
    for m in &regions.matrices {
        assert_eq!(m.rows, (0..m.target.d_out as i64).collect::<Vec<_>>());
        assert_eq!(m.cols, (0..m.target.d_in as i64).collect::<Vec<_>>());
    }
    let dense: usize = targets().iter().map(|t| 4 * (t.d_out + t.d_in)).sum();
    assert_eq!((regions.budget, regions.used()), (dense, dense));
    assert!(regions.coverage.is_empty());
    assert!(!run.paths.dir.join("heatmaps").exists());
}

#[test]
fn methods_without_adapter_have_nothing_to_do() {
    for method in ["bitfit", "full", "head-only"] {
        let run = Run::new(method, "");
        let stdout = succeeded(&run.run(&[]));
        assert!(stdout.contains("nothing to do"), "{method}: {stdout}");
        assert!(!run.paths.regions().exists());
    }
}

#[test]
fn bad_settings_are_refused_before_any_work() {
    let run = Run::new("taso", "");
    let stderr = failed(&run.run(&["regions.rank=0"]));
    assert!(
        stderr.contains("[regions]") && stderr.contains("rank"),
        "{stderr}"
    );
    let stderr = failed(&run.run(&["regions.allocation=best"]));
    assert!(
        stderr.contains("allocation") || stderr.contains("best"),
        "{stderr}"
    );
    write_importance(&run.paths.importance(), &run.fingerprint(), false);
    let stderr = failed(&run.run(&["regions.budget=1"]));
    assert!(
        stderr.contains("budget of 1 parameters is too small"),
        "{stderr}"
    );
}
