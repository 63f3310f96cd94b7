//! Writing, reading and every refusal path of artifacts.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

use taso_artifact::testing::{
    file_names, importance_meta, sample_tensors, write_plain, write_sample, MODEL,
};
use taso_artifact::{
    bf16, f16, file_digest, meta::keys, read_safetensors_header, write_artifact, write_atomic,
    Artifact, ArtifactError, ArtifactKind, ArtifactMeta, Dtype, Expect, TensorData, SCHEMA_VERSION,
};

fn expect_importance() -> Expect {
    Expect::kind(ArtifactKind::Importance)
}

/// Writes `metadata` (edited by hand) with the `safetensors` crate.
fn write_with_metadata(path: &Path, edit: impl FnOnce(&mut HashMap<String, String>)) {
    let mut metadata = importance_meta().to_metadata();
    edit(&mut metadata);
    write_plain(path, Some(metadata));
}

#[test]
fn round_trip_keeps_meta_and_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let (path, digest) = write_sample(dir.path());
    let artifact = Artifact::open(&path, &expect_importance().model(MODEL)).unwrap();

    assert_eq!(artifact.meta, importance_meta());
    assert_eq!(artifact.meta.schema_version, SCHEMA_VERSION);
    assert_eq!(artifact.meta.producer, "taso-score 0.1.0");
    assert_eq!(artifact.meta.extra["examples"], "512");
    assert_eq!(artifact.digest, digest);
    assert_eq!(file_digest(&path).unwrap(), digest);
    assert_eq!(
        artifact.tensor_names(),
        ["layer0.q.mask", "layer0.q.rows", "layer0.q.scores"]
    );
    for (name, tensor) in sample_tensors() {
        assert_eq!(artifact.tensor(&name).unwrap(), tensor, "{name}");
    }
    assert_eq!(
        artifact.tensor_vec::<i64>("layer0.q.rows").unwrap(),
        [0, 4, 7]
    );
    let info = artifact.tensor_info("layer0.q.scores").unwrap();
    assert_eq!(
        (info.dtype, info.shape.as_slice()),
        (Dtype::F32, &[2, 3][..])
    );
}

#[test]
fn same_inputs_give_byte_identical_files_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let meta = importance_meta();
    let tensors = sample_tensors();
    let reversed: Vec<_> = tensors.iter().rev().cloned().collect();
    let as_map: BTreeMap<String, TensorData> = tensors.iter().cloned().collect();

    let paths = ["a", "b", "c"].map(|n| dir.path().join(format!("{n}.safetensors")));
    let digests = [
        write_artifact(&paths[0], &meta, &tensors).unwrap(),
        write_artifact(&paths[1], &meta, &reversed).unwrap(),
        write_artifact(&paths[2], &meta, &as_map).unwrap(),
    ];
    let bytes = paths.map(|p| fs::read(p).unwrap());
    assert_eq!(bytes[0], bytes[1]);
    assert_eq!(bytes[0], bytes[2]);
    assert!(digests.iter().all(|d| *d == digests[0]));
}

#[test]
fn written_files_are_standard_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_sample(dir.path());
    let bytes = fs::read(&path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().clone().unwrap();
    assert_eq!(metadata[keys::KIND], "importance");
    assert_eq!(metadata[keys::SCHEMA], "1");
    assert_eq!(metadata[keys::MODEL], MODEL);
    assert_eq!(metadata["taso.extra.examples"], "512");
    assert!(!metadata.contains_key(keys::PARENT));
    let config: serde_json::Value = serde_json::from_str(&metadata[keys::CONFIG]).unwrap();
    assert_eq!(config["estimator"], "sum-abs");
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(tensors.tensor("layer0.q.rows").unwrap().dtype(), Dtype::I64);
}

#[test]
fn parent_digest_links_stages() {
    let dir = tempfile::tempdir().unwrap();
    let (parent_path, parent_digest) = write_sample(dir.path());
    let regions_path = dir.path().join("regions.safetensors");
    let meta = ArtifactMeta::new(
        ArtifactKind::Regions,
        "taso-regions",
        "0.1.0",
        MODEL,
        "rte",
        &serde_json::json!({ "core_fraction": 0.01 }),
    )
    .unwrap()
    .with_parent(&parent_digest);
    write_artifact(&regions_path, &meta, &sample_tensors()).unwrap();

    let parent = Artifact::open(&parent_path, &expect_importance()).unwrap();
    let expect = Expect::kind(ArtifactKind::Regions).parent(&parent.digest);
    let regions = Artifact::open(&regions_path, &expect).unwrap();
    assert_eq!(
        regions.meta.parent_digest.as_deref(),
        Some(parent_digest.as_str())
    );

    let other = Expect::kind(ArtifactKind::Regions).parent("sha256:other");
    let error = Artifact::open(&regions_path, &other).unwrap_err();
    assert!(
        matches!(&error, ArtifactError::ParentMismatch { found: Some(d), .. } if *d == parent_digest),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("different input artifact"), "{message}");
    assert!(message.contains("taso-regions"), "{message}");

    // An artifact that records no parent is refused when one is required.
    let error = Artifact::open(&parent_path, &expect_importance().parent("sha256:x")).unwrap_err();
    assert!(
        matches!(error, ArtifactError::ParentMismatch { found: None, .. }),
        "{error:?}"
    );
}

#[test]
fn wrong_kind_is_refused_with_the_producer_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_sample(dir.path());
    let error = Artifact::open(&path, &Expect::kind(ArtifactKind::Regions)).unwrap_err();
    assert!(
        matches!(
            error,
            ArtifactError::WrongKind {
                expected: ArtifactKind::Regions,
                found: ArtifactKind::Importance,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("is an 'importance' artifact but a 'regions' artifact is needed here"),
        "{message}"
    );
    assert!(message.contains("written by `taso-regions`"), "{message}");
}

#[test]
fn unknown_kind_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.safetensors");
    write_with_metadata(&path, |m| {
        m.insert(keys::KIND.into(), "scores".into());
    });
    let error = Artifact::open_any(&path).unwrap_err();
    assert!(
        matches!(&error, ArtifactError::UnknownKind { found, path: Some(_) } if found == "scores"),
        "{error:?}"
    );
    assert!(error
        .to_string()
        .contains("known kinds: importance, regions"));

    let error = "adapter_init".parse::<ArtifactKind>().unwrap_err();
    assert!(error
        .to_string()
        .contains("unknown artifact kind 'adapter_init'"));
    assert_eq!(
        "adapter-init".parse::<ArtifactKind>().unwrap(),
        ArtifactKind::AdapterInit
    );
}

#[test]
fn kinds_have_names_and_producers() {
    for kind in ArtifactKind::ALL {
        assert_eq!(kind.to_string().parse::<ArtifactKind>().unwrap(), kind);
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
        assert!(kind.producer_binary().starts_with("taso-"));
    }
    assert_eq!(ArtifactKind::Checkpoint.producer_binary(), "taso-train");
}

#[test]
fn older_schema_asks_to_rerun_the_producer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.safetensors");
    write_with_metadata(&path, |m| {
        m.insert(keys::SCHEMA.into(), "0".into());
    });
    let error = Artifact::open(&path, &expect_importance()).unwrap_err();
    assert!(
        matches!(
            error,
            ArtifactError::SchemaMismatch {
                found: 0,
                supported: 1,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("older taso (schema 0"), "{message}");
    assert!(message.contains("re-run `taso-score`"), "{message}");
}

#[test]
fn newer_schema_asks_to_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.safetensors");
    write_with_metadata(&path, |m| {
        m.insert(keys::SCHEMA.into(), "2".into());
        m.insert(keys::KIND.into(), "kind-from-the-future".into());
    });
    let error = Artifact::open(&path, &expect_importance()).unwrap_err();
    assert!(
        matches!(error, ArtifactError::SchemaMismatch { found: 2, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("newer taso"), "{message}");
    assert!(message.contains("upgrade"), "{message}");
}

#[test]
fn other_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_sample(dir.path());
    let error = Artifact::open(&path, &expect_importance().model("sha256:model-b")).unwrap_err();
    assert!(
        matches!(&error, ArtifactError::ModelMismatch { expected, found, .. }
            if expected == "sha256:model-b" && found == MODEL),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("another base model"), "{message}");
    assert!(
        message.contains("re-run `taso-score` with --model"),
        "{message}"
    );
}

#[test]
fn truncated_file_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_sample(dir.path());
    let bytes = fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;

    // Cut in half (inside the header here) and cut inside the data region.
    for cut in [bytes.len() / 2, 8 + header_len + 4, 5] {
        fs::write(&path, &bytes[..cut]).unwrap();
        let error = Artifact::open(&path, &expect_importance()).unwrap_err();
        assert!(
            matches!(error, ArtifactError::Truncated { .. }),
            "cut {cut}: {error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("is truncated"), "{message}");
        assert!(message.contains("re-run `taso-score`"), "{message}");
    }
}

#[test]
fn random_bytes_are_not_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noise.safetensors");
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect();
    fs::write(&path, &noise).unwrap();
    let error = Artifact::open_any(&path).unwrap_err();
    assert!(
        matches!(error, ArtifactError::NotSafetensors { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("is not a safetensors file"));

    // A plausible length but a header that is not JSON.
    let mut bytes = 16u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{not json at all");
    fs::write(&path, &bytes).unwrap();
    let error = Artifact::open_any(&path).unwrap_err();
    assert!(
        matches!(error, ArtifactError::NotSafetensors { .. }),
        "{error:?}"
    );
}

#[test]
fn plain_safetensors_is_not_an_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    write_plain(&path, None);
    let error = Artifact::open(&path, &expect_importance()).unwrap_err();
    assert!(
        matches!(error, ArtifactError::NotAnArtifact { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("plain safetensors file, not a taso artifact"),
        "{message}"
    );
    assert!(message.contains("written by `taso-score`"), "{message}");

    let header = read_safetensors_header(&path).unwrap();
    assert!(header.metadata.is_empty());
    assert_eq!(header.tensor_names(), ["weight"]);
}

#[test]
fn missing_file_names_the_stage_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("regions.safetensors");
    let error = Artifact::open(&path, &Expect::kind(ArtifactKind::Regions)).unwrap_err();
    assert!(
        matches!(error, ArtifactError::MissingFile { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("no such file"), "{message}");
    assert!(message.contains("run `taso-regions` first"), "{message}");
    assert!(matches!(
        file_digest(&path).unwrap_err(),
        ArtifactError::MissingFile { .. }
    ));
}

#[test]
fn missing_tensor_names_file_and_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_sample(dir.path());
    let artifact = Artifact::open(&path, &expect_importance()).unwrap();
    let error = artifact.tensor("layer9.v.scores").unwrap_err();
    assert!(
        matches!(&error, ArtifactError::MissingTensor { tensor, .. } if tensor == "layer9.v.scores"),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("importance.safetensors"), "{message}");
    assert!(
        message.contains("no tensor named 'layer9.v.scores'"),
        "{message}"
    );
}

#[test]
fn dtype_mismatch_names_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_sample(dir.path());
    let artifact = Artifact::open(&path, &expect_importance()).unwrap();
    let error = artifact.tensor_vec::<f32>("layer0.q.rows").unwrap_err();
    assert!(
        matches!(
            error,
            ArtifactError::DtypeMismatch {
                expected: Dtype::F32,
                found: Dtype::I64,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("tensor 'layer0.q.rows' in"));
    let tensor = artifact.tensor("layer0.q.rows").unwrap();
    assert!(matches!(
        tensor.to_f32_vec(),
        Err(ArtifactError::DtypeMismatch { .. })
    ));
}

#[test]
fn malformed_metadata_is_bad_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    let cases: [(&str, Option<&str>); 3] = [
        (keys::SCHEMA, Some("one")),
        (keys::CONFIG, Some("{not json")),
        (keys::TASK, None),
    ];
    for (key, value) in cases {
        write_with_metadata(&path, |m| match value {
            Some(v) => {
                m.insert(key.into(), v.into());
            }
            None => {
                m.remove(key);
            }
        });
        let error = Artifact::open(&path, &expect_importance()).unwrap_err();
        assert!(
            matches!(&error, ArtifactError::BadMetadata { key: k, .. } if k == key),
            "{key}: {error:?}"
        );
    }
}

#[test]
fn metadata_round_trips_through_the_map() {
    let meta = importance_meta().with_parent("sha256:p");
    let map = meta.to_metadata();
    assert_eq!(map[keys::PARENT], "sha256:p");
    assert_eq!(ArtifactMeta::from_metadata(&map).unwrap(), meta);
    let error = ArtifactMeta::from_metadata(&HashMap::new()).unwrap_err();
    assert!(matches!(error, ArtifactError::NotAnArtifact { .. }));
}

#[test]
fn stored_config_reads_back_with_defaults_for_newer_fields() {
    #[derive(serde::Deserialize)]
    struct Settings {
        estimator: String,
        batches: u32,
        #[serde(default = "default_signal")]
        signal: String,
    }
    fn default_signal() -> String {
        "weight-grad".into()
    }
    let settings: Settings = importance_meta().config_as().unwrap();
    assert_eq!(settings.estimator, "sum-abs");
    assert_eq!(settings.batches, 4);
    assert_eq!(settings.signal, "weight-grad");

    let error = importance_meta().config_as::<Vec<u32>>().unwrap_err();
    assert!(error.to_string().contains("expected a sequence"), "{error}");
}

#[test]
fn invalid_tensor_fails_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.safetensors");
    let bad = TensorData {
        dtype: Dtype::F32,
        shape: vec![2, 3],
        data: vec![0; 20],
    };
    let mut tensors = sample_tensors();
    tensors.push(("bad".to_string(), bad));
    let error = write_artifact(&path, &importance_meta(), &tensors).unwrap_err();
    assert!(
        matches!(error, ArtifactError::InvalidTensor { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("'bad'"), "{error}");
    assert!(file_names(dir.path()).is_empty());

    let duplicated = vec![sample_tensors()[0].clone(), sample_tensors()[0].clone()];
    let error = write_artifact(&path, &importance_meta(), &duplicated).unwrap_err();
    assert!(error.to_string().contains("given twice"), "{error}");
    assert!(file_names(dir.path()).is_empty());

    let error = TensorData::from_f32([4], &[1.0, 2.0]).unwrap_err();
    assert!(
        error.to_string().contains("needs 16 bytes but has 8"),
        "{error}"
    );
}

#[test]
fn failed_rename_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("taken");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep"), b"x").unwrap();
    assert!(write_atomic(&target, b"data").is_err());
    assert!(write_artifact(&target, &importance_meta(), &sample_tensors()).is_err());
    assert_eq!(file_names(dir.path()), ["taken"]);
}

#[test]
fn write_atomic_replaces_content_without_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    write_atomic(&path, b"{\"a\": 1}").unwrap();
    write_atomic(&path, b"{\"a\": 2}").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"{\"a\": 2}");
    assert_eq!(file_names(dir.path()), ["config.json"]);
}

#[test]
fn tensor_data_typed_round_trips() {
    let halves = [f16::from_f32(1.5), f16::from_f32(-2.0)];
    let tensor = TensorData::from_slice([2], &halves).unwrap();
    assert_eq!(tensor.dtype, Dtype::F16);
    assert_eq!(tensor.to_vec::<f16>().unwrap(), halves);
    let values: Vec<f64> = tensor.float_values().unwrap().collect();
    assert_eq!(values, [1.5, -2.0]);

    let brains = [bf16::from_f32(0.5)];
    let tensor = TensorData::from_slice(Vec::<usize>::new(), &brains).unwrap();
    assert_eq!(tensor.to_vec::<bf16>().unwrap(), brains);

    let flags = TensorData::from_slice([3], &[true, false, true]).unwrap();
    assert_eq!(flags.dtype, Dtype::BOOL);
    assert_eq!(flags.to_vec::<bool>().unwrap(), [true, false, true]);
    assert!(flags.float_values().is_none());

    let ints = TensorData::from_slice([2], &[-3i32, 7]).unwrap();
    assert_eq!(ints.data, [253, 255, 255, 255, 7, 0, 0, 0]);
    assert_eq!(ints.to_vec::<i32>().unwrap(), [-3, 7]);
}
