//! `taso-lora` on a tiny run folder built here.

use std::path::Path;
use std::process::{Command, Output};
use taso_adapter::testing::*;
use taso_adapter::AdapterSet;
use taso_artifact::{file_digest, model_fingerprint, Artifact, ArtifactKind, ArtifactMeta, Expect};
use tch::Device;

/// Writes `config.toml` and the run's `regions.safetensors` (made for `fingerprint`) under
/// `root`; returns the config path and the regions path.
fn run_folder(
    root: &Path,
    method: &str,
    fingerprint: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let config = format!(
        "[run]\ntask = \"rte\"\nmodel = {:?}\nruns_dir = {:?}\nname = \"t\"\nmethod = \"{method}\"\nseed = 3\n\n[lora]\nalpha = 4.0\n",
        tiny_bert(),
        root,
    );
    let config_path = root.join("in.toml");
    std::fs::write(&config_path, config).unwrap();
    let run_dir = root.join("rte/t");
    std::fs::create_dir_all(&run_dir).unwrap();
    let regions = random_regions(&load_model(), &ADAPTED, 2, 0);
    let meta = ArtifactMeta::new(
        ArtifactKind::Regions,
        "taso-regions",
        "0",
        fingerprint,
        "rte",
        &serde_json::json!({}),
    )
    .unwrap();
    let regions_path = run_dir.join("regions.safetensors");
    regions.write(&regions_path, meta).unwrap();
    (config_path, regions_path)
}

fn taso_lora(config: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_taso-lora"))
        .arg("--config")
        .arg(config)
        .args(extra)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("taso-lora runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn writes_the_initial_adapter_made_from_the_regions() {
    let root = tempfile::tempdir().unwrap();
    let fingerprint = model_fingerprint(&tiny_bert()).unwrap();
    let (config, regions) = run_folder(root.path(), "taso", &fingerprint);
    let out = taso_lora(&config, &["--set", "lora.rslora=true"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("adapted matrices 4, rank 2"),
        "{}",
        text(&out.stdout)
    );

    let expect = Expect::kind(ArtifactKind::AdapterInit)
        .model(fingerprint)
        .parent(file_digest(&regions).unwrap());
    let artifact =
        Artifact::open(&root.path().join("rte/t/adapter-init.safetensors"), &expect).unwrap();
    assert_eq!(artifact.meta.config["rslora"], true);
    let set = AdapterSet::load(&artifact, Device::Cpu).unwrap();
    assert_eq!(set.matrices().len(), ADAPTED.len());
    assert_eq!(set.scale(), 4.0 / 2f64.sqrt());
    let resolved = std::fs::read_to_string(root.path().join("rte/t/config.toml")).unwrap();
    assert!(resolved.contains("rslora = true"), "{resolved}");
}

#[test]
fn regions_made_for_another_model_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let (config, _) = run_folder(root.path(), "taso", "sha256:another-model");
    let out = taso_lora(&config, &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("another base model") && err.contains("taso-regions"),
        "{err}"
    );
    assert!(!root.path().join("rte/t/adapter-init.safetensors").exists());
}

#[test]
fn methods_without_an_adapter_are_a_no_op() {
    let root = tempfile::tempdir().unwrap();
    let (config, _) = run_folder(root.path(), "bitfit", "sha256:unused");
    let out = taso_lora(&config, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("method bitfit trains no adapter; nothing to do"));
    assert!(!root.path().join("rte/t/adapter-init.safetensors").exists());
}

#[test]
fn an_invalid_lora_section_is_refused_before_any_work() {
    let root = tempfile::tempdir().unwrap();
    let (config, _) = run_folder(root.path(), "taso", "sha256:unused");
    let out = taso_lora(&config, &["--set", "lora.alpha=-1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("[lora]"),
        "{}",
        text(&out.stderr)
    );
    let out = taso_lora(&config, &["--set", "lora.rank=4"]);
    assert!(text(&out.stderr).contains("rank"), "{}", text(&out.stderr));
}
