//! A run's adapter out to PEFT and back, and merged into a Hugging Face folder: on the tiny
//! BERT fixture with a sparse (TASO-shaped) adapter and a trained head.

use taso_artifact::{model_fingerprint, Artifact, ArtifactKind, ArtifactMeta, TensorData};
use taso_models::{EncoderInput, HeadInit, HeadKind, SequenceClassifier, TaskModel};
use taso_run::testing::Fixture;
use taso_run::{
    export_merged, export_peft, import_peft, write_trained, Method, RunContext, RunError,
    TrainedModel, TrainedState, EXPORT_RECORD, HEAD_PREFIX,
};
use tch::{Device, Kind, Tensor};

/// Writes a "trained" adapter (the folder's adapter-init with random B and head) as
/// `adapter-best.safetensors`, as the trainer would.
fn write_trained_adapter(ctx: &RunContext) {
    let init = Artifact::open_any(&ctx.paths.adapter_init()).unwrap();
    let adapters = taso_adapter::AdapterSet::load(&init, Device::Cpu).unwrap();
    tch::manual_seed(3);
    tch::no_grad(|| {
        for mut t in adapters.trainable() {
            t.copy_(&(t.randn_like() * 0.3));
        }
    });
    let model = ctx.load_model().unwrap();
    let head = model
        .head_parameters()
        .iter()
        .map(|(name, t)| {
            let values = t.randn_like();
            (
                format!("{HEAD_PREFIX}{name}"),
                TensorData::from_tch(&values).unwrap(),
            )
        })
        .collect();
    let meta = ArtifactMeta::new(
        ArtifactKind::Adapter,
        "taso-train",
        "0",
        model_fingerprint(&ctx.run.model).unwrap(),
        ctx.task.name(),
        &serde_json::json!({"test": true}),
    )
    .unwrap()
    .with_parent(init.digest.clone());
    let state = TrainedState {
        method: Method::Taso,
        epoch: 1,
        step: 4,
        dev: None,
    };
    write_trained(
        &ctx.paths.adapter_best(),
        meta,
        state,
        head,
        Some(&adapters),
    )
    .unwrap();
}

/// Fixed inputs of the tiny BERT: two sequences, the second padded.
fn inputs() -> (Tensor, Tensor, Tensor) {
    let ids = Tensor::from_slice(&[2i64, 7, 9, 11, 3, 2, 8, 3, 0, 0]).view([2, 5]);
    let mask = ids.ne(0).to_kind(Kind::Int64);
    (ids, mask.shallow_clone(), mask.zeros_like())
}

fn classifier_logits(model: &SequenceClassifier) -> Tensor {
    let (ids, mask, types) = inputs();
    let input = EncoderInput {
        input_ids: &ids,
        attention_mask: &mask,
        token_type_ids: Some(&types),
    };
    tch::no_grad(|| model.forward(&input, false))
}

fn logits(trained: &TrainedModel) -> Tensor {
    match &trained.model {
        TaskModel::Classifier(model) => classifier_logits(model),
        TaskModel::CausalLm(_) => unreachable!("the fixture is an encoder"),
    }
}

fn trained_context(fixture: &Fixture) -> RunContext {
    let ctx = fixture.context(fixture.run(Method::Taso, "exchange"));
    write_trained_adapter(&ctx);
    ctx
}

#[test]
fn a_peft_export_imports_back_to_the_same_sparse_adapter_and_logits() {
    let fixture = Fixture::new();
    let ctx = trained_context(&fixture);
    let best = ctx.paths.adapter_best();
    let trained = TrainedModel::load(&ctx, &best, false).unwrap();
    let peft = fixture.path("peft");
    export_peft(&trained, &peft, &ctx.run.model).unwrap();

    let out = fixture.path("imported.safetensors");
    let imported = import_peft(&ctx, &peft, &out).unwrap();
    assert_eq!(imported.method, Method::Taso);
    assert_eq!(imported.sparse_matrices, imported.matrices);
    assert_eq!(imported.saved_tensors, 2, "classifier weight and bias");
    let back = TrainedModel::load(&ctx, &out, false).unwrap();
    assert!(
        logits(&back).equal(&logits(&trained)),
        "the same logits, bit for bit"
    );
    let (original, again) = (trained.adapters.unwrap(), back.adapters.unwrap());
    assert_eq!(original.scaling(), again.scaling());
    assert_eq!(
        original.tensors().unwrap(),
        again.tensors().unwrap(),
        "bit-identical"
    );
    let artifact = Artifact::open_any(&out).unwrap();
    assert!(artifact.meta.extra["source"].starts_with("peft sha256:"));
}

#[test]
fn a_peft_adapter_for_another_model_or_without_its_head_is_refused() {
    let fixture = Fixture::new();
    let ctx = trained_context(&fixture);
    let out = fixture.path("imported.safetensors");
    // The PEFT fixture's classifier has 3 labels; the tiny task has 2.
    let three_labels = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/peft-tiny-bert/adapter");
    let err = import_peft(&ctx, &three_labels, &out)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("classifier") && err.contains("number of labels"),
        "{err}"
    );

    let trained = TrainedModel::load(&ctx, &ctx.paths.adapter_best(), false).unwrap();
    let peft = fixture.path("peft");
    export_peft(&trained, &peft, &ctx.run.model).unwrap();
    let weights = peft.join(taso_adapter::PEFT_WEIGHTS);
    let mut tensors = Tensor::read_safetensors(&weights).unwrap();
    tensors.retain(|(name, _)| !name.contains("classifier"));
    Tensor::write_safetensors(&tensors, &weights).unwrap();
    let err = import_peft(&ctx, &peft, &out).unwrap_err().to_string();
    assert!(
        err.contains("modules_to_save") && err.contains("drawn at random"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written on a refusal");
}

#[test]
fn a_merged_export_loads_as_a_classifier_with_the_adapted_logits() {
    let fixture = Fixture::new();
    let ctx = trained_context(&fixture);
    let best = ctx.paths.adapter_best();
    let attached = logits(&TrainedModel::load(&ctx, &best, false).unwrap());
    let dir = fixture.path("merged");
    let export = export_merged(&ctx, &best, &dir, false).unwrap();
    assert!(
        export.files.contains(&"tokenizer.json".to_string()),
        "{:?}",
        export.files
    );
    let model = SequenceClassifier::load(
        &dir,
        HeadKind::Classification(2),
        HeadInit::Checkpoint,
        Device::Cpu,
    )
    .unwrap();
    let merged = classifier_logits(&model);
    let error = (&merged - &attached).abs().max().double_value(&[]);
    assert!(error < 1e-5, "merged vs attached: {error}");

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
    assert_eq!(config["id2label"]["1"], "yes");
    assert_eq!(config["label2id"]["no"], 0);
    assert_eq!(config["problem_type"], "single_label_classification");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(EXPORT_RECORD)).unwrap()).unwrap();
    assert_eq!(record["method"], "taso");

    let err = export_merged(&ctx, &best, &dir, false).unwrap_err();
    assert!(matches!(err, RunError::OutputExists(_)), "{err}");
    export_merged(&ctx, &best, &dir, true).unwrap();
    let siblings = std::fs::read_dir(fixture.dir.path()).unwrap().count();
    let expected = std::fs::read_dir(fixture.dir.path())
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count();
    assert_eq!(siblings, expected, "no staging folder is left behind");
}
