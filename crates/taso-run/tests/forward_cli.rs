//! `taso-forward` end to end: the real MiniLM on the parity inputs, a tiny decoder, and refusals.

use std::path::{Path, PathBuf};
use std::process::Command;
use taso_artifact::{model_fingerprint, Artifact, ArtifactKind, Expect};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn forward(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_taso-forward"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("taso-forward runs")
}

/// Runs taso-forward on files; returns its stderr and whether it succeeded.
fn forward_files(model: &Path, input: &Path, out: &Path, extra: &[&str]) -> (bool, String) {
    let paths = [model, input, out].map(|p| p.to_str().unwrap().to_string());
    let mut args = vec![
        "--model", &paths[0], "--input", &paths[1], "--out", &paths[2],
    ];
    args.extend_from_slice(extra);
    let run = forward(&args);
    (
        run.status.success(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

#[test]
fn writes_hidden_states_that_match_transformers() {
    let model = repo_root().join("models/all-MiniLM-L6-v2");
    assert!(
        model.join("model.safetensors").is_file(),
        "run scripts/bootstrap.sh first"
    );
    let inputs = repo_root().join("tests/fixtures/minilm/inputs.jsonl");
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("forward.safetensors");
    let run = forward(&[
        "--model",
        model.to_str().unwrap(),
        "--input",
        inputs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--max-len",
        "128",
        "--device",
        "cpu",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let expect = Expect::kind(ArtifactKind::Forward).model(model_fingerprint(&model).unwrap());
    let artifact = Artifact::open(&out, &expect).unwrap();
    let reference = taso_artifact::SafetensorsFile::open(
        &repo_root().join("tests/fixtures/minilm/reference.safetensors"),
    )
    .unwrap();
    for name in ["input_ids", "attention_mask"] {
        assert_eq!(
            artifact.tensor_vec::<i64>(name).unwrap(),
            reference.tensor(name).unwrap().to_i64_vec().unwrap(),
            "{name}"
        );
    }
    let ours = artifact.tensor_vec::<f32>("last_hidden_state").unwrap();
    let theirs = reference
        .tensor("last_hidden_state")
        .unwrap()
        .to_f32_vec()
        .unwrap();
    let mask = artifact.tensor_vec::<i64>("attention_mask").unwrap();
    let hidden = ours.len() / mask.len();
    let worst = ours
        .chunks(hidden)
        .zip(theirs.chunks(hidden))
        .zip(&mask)
        .filter(|(_, &m)| m == 1)
        .flat_map(|((a, b), _)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
        .fold(0f32, f32::max);
    assert!(worst <= 1e-4, "max abs error on real tokens {worst}");
}

#[test]
fn refuses_a_missing_model_and_a_malformed_input_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.safetensors");
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"text\": \"fine\"}\n").unwrap();
    let (ok, stderr) = forward_files(Path::new("/no/such/model"), &input, &out, &[]);
    assert!(!ok);
    assert!(stderr.contains("/no/such/model/config.json"), "{stderr}");

    let model = repo_root().join("tests/fixtures/tiny-bert");
    std::fs::write(&input, "{\"text\": \"fine\"}\nnot json\n").unwrap();
    let (ok, stderr) = forward_files(&model, &input, &out, &[]);
    assert!(!ok);
    assert!(stderr.contains("in.jsonl:2"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn a_decoder_writes_logits_beside_its_input_ids() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    taso_models::testing::TinyDecoderSpec::default()
        .write(&model)
        .unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"text\": \"<|im_start|> user w0 w1 w2 <|im_end|>\"}\n{\"text\": \"yes no\"}\n",
    )
    .unwrap();
    let out = dir.path().join("forward.safetensors");
    let (ok, stderr) = forward_files(&model, &input, &out, &["--device", "cpu"]);
    assert!(ok, "{stderr}");
    let expect = Expect::kind(ArtifactKind::Forward).model(model_fingerprint(&model).unwrap());
    let artifact = Artifact::open(&out, &expect).unwrap();
    let ids = artifact.tensor_vec::<i64>("input_ids").unwrap();
    assert_eq!(ids, [2, 5, 23, 24, 25, 3, 7, 8, 0, 0, 0, 0]);
    let logits = artifact.tensor_vec::<f32>("logits").unwrap();
    assert_eq!(logits.len(), 2 * 6 * 63);

    let lm = taso_models::CausalLm::load(&model, tch::Device::Cpu).unwrap();
    let ids = tch::Tensor::from_slice(&ids).view([2, 6]);
    let mask = tch::Tensor::from_slice(&artifact.tensor_vec::<i64>("attention_mask").unwrap())
        .view([2, 6]);
    let batch = taso_models::DecoderInput {
        input_ids: &ids,
        attention_mask: &mask,
    };
    let ours = tch::no_grad(|| lm.forward(&batch)).unwrap();
    let theirs = tch::Tensor::from_slice(&logits).view([2, 6, 63]);
    assert!(ours.allclose(&theirs, 0.0, 1e-6, false));

    std::fs::write(&input, "{\"text\": \"yes\", \"pair\": \"no\"}\n").unwrap();
    std::fs::remove_file(&out).unwrap();
    let (ok, stderr) = forward_files(&model, &input, &out, &[]);
    assert!(!ok && stderr.contains("pair"), "{stderr}");
    assert!(!out.exists());
}
