//! `model_fingerprint` changes with the weights and config and is stable otherwise.

use std::fs;
use std::path::Path;

use taso_artifact::testing::write_plain;
use taso_artifact::{model_fingerprint, ArtifactError};

/// A model folder with config.json and one small weight file.
fn small_model(dir: &Path) {
    fs::write(dir.join("config.json"), br#"{"hidden_size": 2}"#).unwrap();
    write_plain(&dir.join("model.safetensors"), None);
}

/// Flips one bit of the byte `from_end` bytes before the end of `path`.
fn flip_byte(path: &Path, from_end: usize) {
    let mut bytes = fs::read(path).unwrap();
    let at = bytes.len() - from_end;
    bytes[at] ^= 1;
    fs::write(path, bytes).unwrap();
}

#[test]
fn stable_until_weights_or_config_change() {
    let dir = tempfile::tempdir().unwrap();
    small_model(dir.path());
    let first = model_fingerprint(dir.path()).unwrap();
    assert!(
        first.starts_with("sha256:") && first.len() == 7 + 64,
        "{first}"
    );
    assert_eq!(model_fingerprint(dir.path()).unwrap(), first);
    // Unrelated files do not count.
    fs::write(dir.path().join("tokenizer.json"), b"{}").unwrap();
    assert_eq!(model_fingerprint(dir.path()).unwrap(), first);

    flip_byte(&dir.path().join("model.safetensors"), 1);
    let weights_changed = model_fingerprint(dir.path()).unwrap();
    assert_ne!(weights_changed, first);

    fs::write(dir.path().join("config.json"), br#"{"hidden_size": 3}"#).unwrap();
    let config_changed = model_fingerprint(dir.path()).unwrap();
    assert_ne!(config_changed, weights_changed);
    assert_ne!(config_changed, first);
}

#[test]
fn large_weights_are_sampled_including_both_ends() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.json"), b"{}").unwrap();
    let weights = dir.path().join("model.safetensors");
    let data = vec![0u8; 3 << 20];
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::U8, vec![data.len()], &data)
            .unwrap();
    fs::write(
        &weights,
        safetensors::serialize([("w", view)], None).unwrap(),
    )
    .unwrap();
    let mut seen = vec![model_fingerprint(dir.path()).unwrap()];
    for from_end in [1, data.len()] {
        flip_byte(&weights, from_end);
        let fingerprint = model_fingerprint(dir.path()).unwrap();
        assert!(!seen.contains(&fingerprint), "byte {from_end} from the end");
        seen.push(fingerprint);
    }
}

#[test]
fn shards_named_by_the_index_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.json"), b"{}").unwrap();
    write_plain(&dir.path().join("model-00001-of-00002.safetensors"), None);
    let index = r#"{"weight_map": {"a": "model-00001-of-00002.safetensors",
                                   "b": "model-00002-of-00002.safetensors"}}"#;
    fs::write(dir.path().join("model.safetensors.index.json"), index).unwrap();
    let error = model_fingerprint(dir.path()).unwrap_err();
    assert!(
        matches!(error, ArtifactError::NotAModel { .. }),
        "{error:?}"
    );
    assert!(error
        .to_string()
        .contains("model-00002-of-00002.safetensors, which is missing"));

    let second = dir.path().join("model-00002-of-00002.safetensors");
    write_plain(&second, None);
    let both = model_fingerprint(dir.path()).unwrap();
    flip_byte(&second, 1);
    assert_ne!(model_fingerprint(dir.path()).unwrap(), both);
}

#[test]
fn folders_without_config_or_weights_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let error = model_fingerprint(&dir.path().join("absent")).unwrap_err();
    assert!(
        matches!(error, ArtifactError::MissingFile { .. }),
        "{error:?}"
    );

    let error = model_fingerprint(dir.path()).unwrap_err();
    assert!(error.to_string().contains("no config.json"), "{error}");

    fs::write(dir.path().join("config.json"), b"{}").unwrap();
    let error = model_fingerprint(dir.path()).unwrap_err();
    assert!(
        error.to_string().contains("no *.safetensors weight file"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("pass a Hugging Face model folder"),
        "{error}"
    );
}
