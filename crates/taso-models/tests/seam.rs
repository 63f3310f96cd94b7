//! The adapter seam and the loader's refusals, on the tiny BERT fixture.

use std::path::{Path, PathBuf};
use taso_models::{
    EncoderInput, HeadInit, HeadKind, LinearAdapter, LinearHost, ModelError, SequenceClassifier,
};
use tch::{Device, Kind, Tensor};

fn tiny_bert() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-bert")
}

fn load_from(dir: &Path, init: HeadInit) -> Result<SequenceClassifier, ModelError> {
    SequenceClassifier::load(dir, HeadKind::Classification(3), init, Device::Cpu)
}

fn load(init: HeadInit) -> SequenceClassifier {
    load_from(&tiny_bert(), init).unwrap()
}

fn batch() -> (Tensor, Tensor) {
    let ids = Tensor::from_slice(&[2i64, 10, 11, 12, 13, 2, 20, 21, 0, 0]).view([2, 5]);
    let mask = ids.ne(0).to_kind(Kind::Int64);
    (ids, mask)
}

fn logits(model: &SequenceClassifier) -> Tensor {
    let (ids, mask) = batch();
    let input = EncoderInput {
        input_ids: &ids,
        attention_mask: &mask,
        token_type_ids: None,
    };
    model.forward(&input, false)
}

const QUERY: &str = "encoder.layer.0.attention.self.query";

/// Adds a constant to the layer's output.
#[derive(Debug)]
struct Shift(f64);

impl LinearAdapter for Shift {
    fn adapt(&self, _input: &Tensor, base_output: Tensor) -> Tensor {
        base_output + self.0
    }
}

#[test]
fn an_adapter_changes_the_output_and_removing_it_restores_it() {
    let mut model = load(HeadInit::Checkpoint);
    let before = tch::no_grad(|| logits(&model));
    model
        .encoder
        .linear_mut(QUERY)
        .unwrap()
        .set_adapter(Some(Box::new(Shift(0.0))));
    let identity = tch::no_grad(|| logits(&model));
    assert_eq!(
        f64::try_from((&identity - &before).abs().max()).unwrap(),
        0.0
    );
    model
        .encoder
        .linear_mut(QUERY)
        .unwrap()
        .set_adapter(Some(Box::new(Shift(0.5))));
    let shifted = tch::no_grad(|| logits(&model));
    assert!(f64::try_from((&shifted - &before).abs().max()).unwrap() > 1e-3);
    let removed = model.encoder.linear_mut(QUERY).unwrap().set_adapter(None);
    assert!(removed.is_some());
    let after = tch::no_grad(|| logits(&model));
    assert_eq!(f64::try_from((&after - &before).abs().max()).unwrap(), 0.0);
}

#[test]
fn weight_gradients_are_computed_only_where_asked_and_match_finite_differences() {
    let mut model = load(HeadInit::Checkpoint);
    model
        .encoder
        .linear_mut(QUERY)
        .unwrap()
        .track_weight_grad(true);
    let labels = Tensor::from_slice(&[0i64, 2]);
    let loss = model.loss(&logits(&model), &labels);
    loss.backward();
    let grad = model
        .encoder
        .linear_mut(QUERY)
        .unwrap()
        .weight_grad()
        .expect("tracked layer has a gradient");
    assert_eq!(grad.size(), [32, 32]);
    for linear in model.encoder.linears() {
        if linear.name() != QUERY {
            assert!(
                linear.weight_grad().is_none(),
                "{} has a gradient it was not asked for",
                linear.name()
            );
        }
    }
    // Central finite difference on the entry with the largest gradient.
    let flat = grad.abs().flatten(0, -1).argmax(0, false).int64_value(&[]);
    let (row, col) = (flat / 32, flat % 32);
    let analytic = grad.double_value(&[row, col]);
    let eps = 1e-2;
    let loss_at = |model: &mut SequenceClassifier, delta: f64| {
        let weight = model
            .encoder
            .linear_mut(QUERY)
            .unwrap()
            .weight
            .shallow_clone();
        tch::no_grad(|| {
            let _ = weight
                .get(row)
                .get(col)
                .f_add_(&Tensor::from(delta))
                .unwrap();
            let loss = model.loss(&logits(model), &labels).double_value(&[]);
            let _ = weight
                .get(row)
                .get(col)
                .f_sub_(&Tensor::from(delta))
                .unwrap();
            loss
        })
    };
    let numeric = (loss_at(&mut model, eps) - loss_at(&mut model, -eps)) / (2.0 * eps);
    let relative = (numeric - analytic).abs() / analytic.abs().max(1e-6);
    assert!(relative < 2e-2, "analytic {analytic} vs numeric {numeric}");
}

#[test]
fn a_fresh_head_is_reproducible_from_its_seed() {
    let head = |seed| {
        let model = load(HeadInit::Fresh { seed });
        model
            .head_parameters()
            .iter()
            .map(|(_, t)| t.copy())
            .collect::<Vec<_>>()
    };
    let (a, b, c) = (head(7), head(7), head(8));
    assert_eq!(a.len(), 2);
    for (x, y) in a.iter().zip(&b) {
        assert!(x.equal(y));
    }
    assert!(!a[0].equal(&c[0]));
    let std = f64::try_from(a[0].std(true)).unwrap();
    assert!(
        (0.1..0.3).contains(&std),
        "head weights drawn with initializer_range 0.2, got std {std}"
    );
}

fn copy_fixture(to: &Path) {
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(tiny_bert().join(file), to.join(file)).unwrap();
    }
}

#[test]
fn a_checkpoint_without_a_needed_tensor_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    let tensors: Vec<(String, Tensor)> =
        Tensor::read_safetensors(dir.path().join("model.safetensors"))
            .unwrap()
            .into_iter()
            .filter(|(name, _)| name != "bert.encoder.layer.1.output.dense.weight")
            .collect();
    Tensor::write_safetensors(&tensors, dir.path().join("model.safetensors")).unwrap();
    let err = load_from(dir.path(), HeadInit::Checkpoint).unwrap_err();
    assert!(matches!(err, ModelError::MissingTensor { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("encoder.layer.1.output.dense.weight"),
        "{err}"
    );
}

#[test]
fn a_config_that_does_not_fit_the_weights_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    let config = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    let config = config.replace("\"intermediate_size\": 37", "\"intermediate_size\": 40");
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    let err = load_from(dir.path(), HeadInit::Checkpoint).unwrap_err();
    assert!(matches!(err, ModelError::ShapeMismatch { .. }), "{err}");
}

#[test]
fn a_damaged_weight_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    let bytes = std::fs::read(dir.path().join("model.safetensors")).unwrap();
    std::fs::write(
        dir.path().join("model.safetensors"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    let err = load_from(dir.path(), HeadInit::Checkpoint).unwrap_err();
    assert!(matches!(err, ModelError::BadWeights { .. }), "{err}");
    assert!(
        err.to_string().contains("download the model again"),
        "{err}"
    );
}

#[test]
fn a_sharded_half_precision_checkpoint_loads_like_the_single_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        tiny_bert().join("config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let tensors = Tensor::read_safetensors(tiny_bert().join("model.safetensors")).unwrap();
    let (first, second) = tensors.split_at(tensors.len() / 2);
    let mut weight_map = serde_json::Map::new();
    for (shard, part) in [
        ("model-00001-of-00002.safetensors", first),
        ("model-00002-of-00002.safetensors", second),
    ] {
        let half: Vec<(String, Tensor)> = part
            .iter()
            .map(|(n, t)| (n.clone(), t.to_kind(Kind::Half)))
            .collect();
        Tensor::write_safetensors(&half, dir.path().join(shard)).unwrap();
        for (name, _) in part {
            weight_map.insert(name.clone(), shard.into());
        }
    }
    let index = serde_json::json!({ "metadata": {}, "weight_map": weight_map });
    std::fs::write(
        dir.path().join("model.safetensors.index.json"),
        index.to_string(),
    )
    .unwrap();

    let sharded = load_from(dir.path(), HeadInit::Checkpoint).unwrap();
    let (ours, reference) =
        tch::no_grad(|| (logits(&sharded), logits(&load(HeadInit::Checkpoint))));
    assert_eq!(ours.kind(), Kind::Float, "f16 weights are computed in f32");
    let err = f64::try_from((&ours - &reference).abs().max()).unwrap();
    assert!(err < 1e-2, "f16 rounding only: {err}");
}
