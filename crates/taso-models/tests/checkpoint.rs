//! Activation checkpointing gives the plain path's gradients: every weight and head gradient of
//! an encoder classifier and of a decoder's answer loss, within 1e-6 in f32.

use std::sync::Mutex;
use taso_models::testing::{TinyDecoderSpec, TinySpec};
use taso_models::{
    BatchTensors, CausalLm, CausalTensors, HeadInit, HeadKind, LinearHost, SequenceClassifier,
    TaskBatch, TaskModel,
};
use tch::{Device, Kind, Tensor};

/// libtorch's generator is global to the process: tests that seed it run one at a time.
static GENERATOR: Mutex<()> = Mutex::new(());

/// Every weight the model has, recording gradients (what scoring and full fine-tuning ask).
fn tracked(model: &TaskModel) -> Vec<Tensor> {
    let params: Vec<Tensor> = model
        .base_parameters()
        .iter()
        .chain(model.head_parameters())
        .map(|(_, t)| t.shallow_clone())
        .collect();
    for p in &params {
        let _ = p.set_requires_grad(true);
    }
    params
}

/// The loss and every gradient of one backward pass, and the gradients cleared.
fn gradients(
    model: &TaskModel,
    batch: &TaskBatch,
    train: bool,
    checkpointed: bool,
) -> (f64, Vec<Tensor>) {
    let params = tracked(model);
    let loss = model
        .loss_backward(batch, train, checkpointed, 1.0)
        .unwrap();
    let grads = params
        .iter()
        .map(|p| {
            let mut grad = p.grad();
            let copy = grad.copy();
            let _ = grad.zero_();
            copy
        })
        .collect();
    (loss.double_value(&[]), grads)
}

fn assert_same(plain: &(f64, Vec<Tensor>), checkpointed: &(f64, Vec<Tensor>), what: &str) {
    assert!(
        (plain.0 - checkpointed.0).abs() <= 1e-6,
        "{what}: loss {} vs {}",
        plain.0,
        checkpointed.0
    );
    let mut nonzero = 0;
    for (index, (a, b)) in plain.1.iter().zip(&checkpointed.1).enumerate() {
        let gap = (a - b).abs().max().double_value(&[]);
        assert!(
            gap <= 1e-6,
            "{what}: parameter {index} differs by {gap:.2e}"
        );
        nonzero += usize::from(a.abs().max().double_value(&[]) > 0.0);
    }
    assert!(
        nonzero > plain.1.len() / 2,
        "{what}: only {nonzero} parameters got a gradient"
    );
}

fn classification_batch() -> TaskBatch {
    let ids =
        Tensor::from_slice(&[2i64, 10, 11, 12, 3, 2, 13, 3, 0, 0, 2, 4, 5, 6, 3]).view([3, 5]);
    TaskBatch::Classification(BatchTensors {
        attention_mask: ids.ne(0).to_kind(Kind::Int64),
        token_type_ids: ids.zeros_like(),
        input_ids: ids,
        labels: Some(Tensor::from_slice(&[0i64, 1, 1])),
    })
}

#[test]
fn an_encoder_gets_the_same_gradients() {
    let _generator = GENERATOR.lock().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let world = TinySpec::default().write(dir.path()).unwrap();
    let init = HeadInit::Fresh { seed: 1 };
    let model = TaskModel::Classifier(
        SequenceClassifier::load(
            &world.model_dir,
            HeadKind::Classification(2),
            init,
            Device::Cpu,
        )
        .unwrap(),
    );
    let batch = classification_batch();
    let plain = gradients(&model, &batch, false, false);
    assert_same(&plain, &gradients(&model, &batch, false, true), "encoder");
    // With dropout on, the checkpointed pass redraws each block's masks identically: the same
    // seed gives the same gradients.
    tch::manual_seed(7);
    let p1 = gradients(&model, &batch, true, false);
    tch::manual_seed(7);
    assert_same(
        &p1,
        &gradients(&model, &batch, true, false),
        "plain with dropout",
    );
    tch::manual_seed(7);
    let first = gradients(&model, &batch, true, true);
    tch::manual_seed(7);
    assert_same(
        &first,
        &gradients(&model, &batch, true, true),
        "encoder with dropout",
    );
}

#[test]
fn a_decoder_gets_the_same_gradients() {
    let _generator = GENERATOR.lock().unwrap();
    let dir = tempfile::tempdir().unwrap();
    TinyDecoderSpec {
        tie_embeddings: false,
        ..TinyDecoderSpec::default()
    }
    .write(dir.path())
    .unwrap();
    let model = TaskModel::CausalLm(CausalLm::load(dir.path(), Device::Cpu).unwrap());
    let ids =
        Tensor::from_slice(&[2i64, 5, 30, 31, 32, 3, 2, 6, 9, 2, 6, 40, 41, 7, 0, 0]).view([2, 8]);
    let labels = Tensor::from_slice(&[
        -100i64, -100, -100, -100, -100, -100, -100, 6, 9, -100, -100, -100, -100, 7, -100, -100,
    ])
    .view([2, 8]);
    let batch = TaskBatch::Causal(CausalTensors {
        attention_mask: ids.ne(0).to_kind(Kind::Int64),
        input_ids: ids,
        label_ids: labels,
    });
    let plain = gradients(&model, &batch, true, false);
    assert_same(&plain, &gradients(&model, &batch, true, true), "decoder");
    assert!(model.linears().len() > 1);
}
