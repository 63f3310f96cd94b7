//! Adapter artifacts and the PEFT export.

use taso_adapter::testing::*;
use taso_adapter::{AdapterSet, LoraConfig, LoraForm, PeftOptions, PEFT_CONFIG, PEFT_WEIGHTS};
use taso_artifact::{Artifact, ArtifactKind, ArtifactMeta, Expect, TensorData};
use tch::{Device, Tensor};

fn adapters(form: LoraForm) -> AdapterSet {
    let regions = random_regions(&load_model(), &ADAPTED, 3, 6);
    let config = LoraConfig {
        alpha: Some(6.0),
        rslora: true,
        form,
        ..LoraConfig::default()
    };
    let set = AdapterSet::init(&regions, &config, 1, Device::Cpu).unwrap();
    randomize(&set, 6);
    set
}

fn meta(kind: ArtifactKind) -> ArtifactMeta {
    ArtifactMeta::new(
        kind,
        "taso-lora",
        "0",
        "sha256:model",
        "rte",
        &LoraConfig::default(),
    )
    .unwrap()
    .with_parent("sha256:regions")
}

#[test]
fn an_artifact_round_trip_gives_identical_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adapter.safetensors");
    // Masked sets are written compact, so both forms load back into the same adapter.
    for form in [LoraForm::Compact, LoraForm::Masked] {
        let set = adapters(form);
        let head = vec![(
            "head.classifier.weight".to_string(),
            TensorData::from_f32([1, 2], &[0.5, -1.0]).unwrap(),
        )];
        let digest = set
            .write_with(&path, meta(ArtifactKind::Adapter), head)
            .unwrap();
        let expect = Expect::kind(ArtifactKind::Adapter)
            .model("sha256:model")
            .parent("sha256:regions");
        let artifact = Artifact::open(&path, &expect).unwrap();
        assert_eq!(artifact.digest, digest);
        let extra = &artifact.meta.extra;
        assert_eq!(
            (extra["rank"].as_str(), extra["alpha"].as_str()),
            ("3", "6")
        );
        assert_eq!(extra["rslora"], "true");
        assert_eq!(extra["scale"].parse::<f64>().unwrap(), set.scale());
        assert!(artifact.tensor_info("head.classifier.weight").is_some());

        let loaded = AdapterSet::load(&artifact, Device::Cpu).unwrap();
        assert_eq!(
            (loaded.form(), loaded.scaling()),
            (LoraForm::Compact, set.scaling())
        );
        assert_eq!(loaded.matrices().len(), ADAPTED.len());
        for (l, m) in loaded.matrices().iter().zip(set.matrices()) {
            let (a, b) = m.compact_factors();
            assert_eq!(l.region(), m.region());
            assert!(l.a().equal(&a) && l.b().equal(&b), "{}", m.name());
            assert!(l.a().requires_grad());
        }
    }
}

#[test]
fn an_artifact_of_another_kind_is_not_an_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.safetensors");
    adapters(LoraForm::Compact)
        .write(&path, meta(ArtifactKind::Checkpoint))
        .unwrap();
    let artifact = Artifact::open_any(&path).unwrap();
    let err = AdapterSet::load(&artifact, Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("'adapter-init' artifact is needed"), "{err}");
}

#[test]
fn the_peft_export_is_a_dense_lora_zero_outside_the_regions() {
    let set = adapters(LoraForm::Compact);
    let dir = exported(&set);

    let tensors = Tensor::read_safetensors(dir.path().join(PEFT_WEIGHTS)).unwrap();
    let get = |key: &str| {
        tensors
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no {key}"))
            .1
            .shallow_clone()
    };
    assert_eq!(tensors.len(), 2 * ADAPTED.len() + 1);
    assert_eq!(get("base_model.model.classifier.weight").size(), [3, 32]);
    for m in set.matrices() {
        let key = format!("base_model.model.bert.{}", m.name());
        let (a, b) = (
            get(&format!("{key}.lora_A.weight")),
            get(&format!("{key}.lora_B.weight")),
        );
        let target = &m.region().target;
        assert_eq!(a.size(), [3, target.d_in as i64]);
        assert_eq!(b.size(), [target.d_out as i64, 3]);
        let (rows, cols) = (
            Tensor::from_slice(&m.region().rows),
            Tensor::from_slice(&m.region().cols),
        );
        assert_eq!(
            f64::try_from(a.index_fill(1, &cols, 0.0).abs().max()).unwrap(),
            0.0
        );
        assert_eq!(
            f64::try_from(b.index_fill(0, &rows, 0.0).abs().max()).unwrap(),
            0.0
        );
        let (compact_a, compact_b) = m.compact_factors();
        assert!(a.index_select(1, &cols).equal(&compact_a.detach()));
        assert!(b.index_select(0, &rows).equal(&compact_b.detach()));
    }

    let text = std::fs::read_to_string(dir.path().join(PEFT_CONFIG)).unwrap();
    let config: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["task_type"], "SEQ_CLS");
    assert_eq!(
        (config["r"].as_u64(), config["lora_alpha"].as_f64()),
        (Some(3), Some(6.0))
    );
    assert_eq!(config["use_rslora"], true);
    assert_eq!(config["bias"], "none");
    assert_eq!(config["modules_to_save"][0], "classifier");
    let modules = config["target_modules"].as_array().unwrap();
    assert_eq!(modules.len(), ADAPTED.len());
    assert_eq!(modules[0], format!("bert.{}", ADAPTED[0]));
}

type NamedTensors = Vec<(String, Tensor)>;

/// Exports `set` with a head to a PEFT folder in a new temporary folder.
fn exported(set: &AdapterSet) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let head = vec![(
        "classifier.weight".to_string(),
        Tensor::ones([3, 32], (tch::Kind::Float, Device::Cpu)),
    )];
    let mut options = PeftOptions::seq_cls("bert", "tiny-bert");
    options.modules_to_save = vec!["classifier".into()];
    set.to_peft(dir.path(), &options, &head).unwrap();
    dir
}

#[test]
fn a_peft_export_reads_back_sparse_and_bit_identical() {
    let model = load_model();
    for form in [LoraForm::Compact, LoraForm::Masked] {
        let set = adapters(form);
        let dir = exported(&set);
        let peft = AdapterSet::from_peft(dir.path(), "bert", Device::Cpu).unwrap();
        let back = peft.adapters.in_model_order(&model);
        assert_eq!(
            (back.form(), back.scaling()),
            (LoraForm::Compact, set.scaling())
        );
        assert_eq!(back.matrices().len(), set.matrices().len());
        for (l, m) in back.matrices().iter().zip(set.matrices()) {
            let (a, b) = m.compact_factors();
            assert_eq!(l.region(), m.region());
            assert!(l.a().equal(&a) && l.b().equal(&b), "{}", m.name());
        }
        let names: Vec<&str> = peft.saved_tensors.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["classifier.weight"]);
        assert_eq!(
            peft.config.modules_to_save.as_deref(),
            Some(&["classifier".to_string()][..])
        );
    }
}

#[test]
fn an_untrained_b_keeps_every_row_and_the_update_stays_zero() {
    let regions = random_regions(&load_model(), &ADAPTED, 2, 3);
    let set = AdapterSet::init(&regions, &LoraConfig::default(), 0, Device::Cpu).unwrap();
    let dir = exported(&set);
    let back = AdapterSet::from_peft(dir.path(), "bert", Device::Cpu)
        .unwrap()
        .adapters;
    for (l, m) in back.matrices().iter().zip(set.matrices()) {
        assert_eq!(l.region().rows.len(), m.region().target.d_out);
        assert_eq!(l.region().cols, m.region().cols);
        assert_eq!(f64::try_from(l.delta(1.0).abs().max()).unwrap(), 0.0);
    }
}

#[test]
fn peft_folders_taso_cannot_read_are_refused_with_the_file_named() {
    let set = adapters(LoraForm::Compact);
    let edit_config = |edit: &dyn Fn(&mut serde_json::Value)| {
        let dir = exported(&set);
        let path = dir.path().join(PEFT_CONFIG);
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut config);
        std::fs::write(&path, config.to_string()).unwrap();
        dir
    };
    let cases: Vec<(tempfile::TempDir, &str)> = vec![
        (edit_config(&|c| c["peft_type"] = "IA3".into()), "only LoRA"),
        (edit_config(&|c| c["use_dora"] = true.into()), "DoRA"),
        (
            edit_config(&|c| c["fan_in_fan_out"] = true.into()),
            "Conv1D",
        ),
        (edit_config(&|c| c["r"] = 4.into()), "r = 4"),
        (
            edit_config(&|c| c["rank_pattern"] = serde_json::json!({"query": 8})),
            "one rank",
        ),
        (
            edit_config(&|c| *c = serde_json::json!([1])),
            "not a PEFT adapter config",
        ),
    ];
    for (dir, message) in cases {
        let err = AdapterSet::from_peft(dir.path(), "bert", Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(message) && err.contains(dir.path().to_str().unwrap()),
            "{err}"
        );
    }
    let empty = tempfile::tempdir().unwrap();
    let err = AdapterSet::from_peft(empty.path(), "bert", Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("adapter_config.json") && err.contains("save_pretrained"),
        "{err}"
    );

    let dir = exported(&set);
    let weights = dir.path().join(PEFT_WEIGHTS);
    let original = Tensor::read_safetensors(&weights).unwrap();
    let rewrite = |edit: &dyn Fn(&mut NamedTensors)| {
        let mut tensors: Vec<(String, Tensor)> = original
            .iter()
            .map(|(n, t)| (n.clone(), t.copy()))
            .collect();
        edit(&mut tensors);
        Tensor::write_safetensors(&tensors, &weights).unwrap();
        AdapterSet::from_peft(dir.path(), "bert", Device::Cpu)
            .unwrap_err()
            .to_string()
    };
    let err = rewrite(&|t| {
        t.retain(|(name, _)| !name.ends_with("lora_B.weight") || !name.contains("layer.0."))
    });
    assert!(err.contains("has only one of lora_A and lora_B"), "{err}");
    let err = rewrite(&|t| {
        let _ = t[0].1.fill_(f64::NAN);
    });
    assert!(err.contains("NaN"), "{err}");
    let err = rewrite(&|t| {
        t.push((
            "base_model.model.bert.embeddings.word_embeddings.lora_embedding_A".into(),
            Tensor::ones([2, 3], (tch::Kind::Float, Device::Cpu)),
        ))
    });
    assert!(err.contains("embedding LoRA"), "{err}");
    std::fs::write(&weights, b"not safetensors").unwrap();
    let err = AdapterSet::from_peft(dir.path(), "bert", Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains(PEFT_WEIGHTS), "{err}");
}
