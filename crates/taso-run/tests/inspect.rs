//! The `taso-inspect` binary on artifacts, plain safetensors files and broken files.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use taso_artifact::testing::{write_plain, write_sample};

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
