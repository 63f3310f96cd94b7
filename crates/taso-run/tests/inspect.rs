//! The `taso-inspect` binary on artifacts, plain safetensors files and broken files.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use taso_adapter::AdapterSet;
use taso_artifact::testing::{write_plain, write_sample};
use taso_artifact::Artifact;
use taso_run::testing::{write_adapter_init, Fixture};
use taso_run::Method;
use tch::{Device, Kind};

fn inspect(args: &[&str], file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_taso-inspect"))
        .args(args)
        .arg(file)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn prints_an_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let (path, digest) = write_sample(dir.path());
    let text = stdout(&inspect(&["--stats"], &path));
    for expected in [
        "importance (schema 1)",
        "taso-score 0.1.0",
        digest.as_str(),
        "\"estimator\": \"sum-abs\"",
        "extra     examples = 512",
        "tensors: 3",
        "layer0.q.scores  F32    [2, 3]",
        "abs-mean",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("layer0.q."))
        .collect();
    assert!(
        names[0].starts_with("mask") && names[2].starts_with("scores"),
        "{text}"
    );
}

#[test]
fn json_output_has_meta_tensors_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let (path, digest) = write_sample(dir.path());
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&inspect(&["--json", "--stats"], &path))).unwrap();
    assert_eq!(json["digest"], digest.as_str());
    assert_eq!(json["artifact"]["kind"], "importance");
    assert_eq!(json["artifact"]["config"]["batches"], 4);
    let tensors = json["tensors"].as_array().unwrap();
    let names: Vec<&str> = tensors
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["layer0.q.mask", "layer0.q.rows", "layer0.q.scores"]);
    let scores = &tensors[2];
    assert_eq!(scores["numel"], 6);
    assert_eq!(scores["stats"]["min"], -1.0);
    assert_eq!(scores["stats"]["max"], 3.5);
    assert_eq!(scores["stats"]["mean"], 0.7916666666666666);
    assert_eq!(scores["stats"]["abs_mean"], 7.25 / 6.0);
    assert!(tensors[1]["stats"].is_null());
}

#[test]
fn prints_a_plain_safetensors_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let metadata = [("format".to_string(), "pt".to_string())].into();
    write_plain(&path, Some(metadata));
    let text = stdout(&inspect(&[], &path));
    assert!(text.contains("metadata  format = pt"), "{text}");
    assert!(
        text.contains("weight  F32    [2, 2]  4      16 B"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&inspect(&["--json"], &path))).unwrap();
    assert!(json["artifact"].is_null());
    assert_eq!(json["tensors"][0]["shape"], serde_json::json!([2, 2]));
}

#[test]
fn fails_cleanly_on_broken_or_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_sample(dir.path());
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    for file in [path.clone(), dir.path().join("absent.safetensors")] {
        let output = inspect(&[], &file);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.trim_end().lines().count() == 1,
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let stderr = String::from_utf8(inspect(&[], &path).stderr).unwrap();
    assert!(stderr.contains("is truncated"), "{stderr}");
}

#[test]
fn updates_give_the_size_of_an_adapters_update_per_matrix_type() {
    let fixture = Fixture::new();
    let run = fixture.run(Method::Taso, "updates");
    write_adapter_init(&run, true);
    let init = run.paths().adapter_init();
    // At init B = 0: every update is zero.
    let text = stdout(&inspect(&["--updates"], &init));
    assert!(text.contains("updates: the Frobenius norm"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&inspect(&["--json", "--updates"], &init))).unwrap();
    let rows = json["updates"].as_array().unwrap();
    assert!(!rows.is_empty(), "{json}");
    assert!(rows.iter().all(|r| r["max_frobenius"] == 0.0), "{json}");

    // B = 1: each row of s·B·A is s times A's column sums, so ‖s·B·A‖ = s·√|R|·‖Σ_k A[k, :]‖.
    let artifact = Artifact::open_any(&init).unwrap();
    let adapters = AdapterSet::load(&artifact, Device::Cpu).unwrap();
    let _no_grad = tch::no_grad_guard();
    for m in adapters.matrices() {
        let _ = m.b().shallow_clone().fill_(1.0);
    }
    let trained = run.paths().adapter();
    adapters.write(&trained, artifact.meta.clone()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&inspect(&["--json", "--updates"], &trained))).unwrap();
    let first = &json["updates"][0];
    let kind = first["matrices"].as_str().unwrap();
    let norms: Vec<f64> = adapters
        .matrices()
        .iter()
        .filter(|m| m.name().ends_with(&format!(".{kind}")))
        .map(|m| {
            let rows = m.region().rows.len() as f64;
            let column_sums = m.a().sum_dim_intlist(0, false, Kind::Double);
            adapters.scale() * rows.sqrt() * column_sums.norm().double_value(&[])
        })
        .collect();
    assert_eq!(first["count"].as_u64(), Some(norms.len() as u64), "{json}");
    let expected = norms.iter().sum::<f64>() / norms.len() as f64;
    let got = first["mean_frobenius"].as_f64().unwrap();
    assert!(
        expected > 0.0 && (got - expected).abs() < 1e-5 * expected,
        "{got} vs {expected}"
    );

    // Anything but an adapter is refused in one line.
    let (sample, _) = write_sample(&fixture.path(""));
    let output = inspect(&["--updates"], &sample);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("--updates reads an adapter"), "{stderr}");
}
