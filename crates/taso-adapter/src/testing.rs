//! Test helpers (feature `testing`, for tests only): the workspace's tiny BERT fixture, a
//! batch, random regions and random factors.

use crate::AdapterSet;
use std::path::{Path, PathBuf};
use taso_artifact::{MatrixRegion, Regions, Target};
use taso_models::{EncoderInput, HeadInit, HeadKind, LinearHost, SequenceClassifier};
use tch::{Device, Kind, Tensor};

/// Matrices the tests adapt: square, wide and tall ones.
pub const ADAPTED: [&str; 4] = [
    "encoder.layer.0.attention.self.query",
    "encoder.layer.0.intermediate.dense",
    "encoder.layer.1.attention.self.value",
    "encoder.layer.1.output.dense",
];

pub fn tiny_bert() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-bert")
}

pub fn load_model() -> SequenceClassifier {
    SequenceClassifier::load(
        &tiny_bert(),
        HeadKind::Classification(3),
        HeadInit::Checkpoint,
        Device::Cpu,
    )
    .unwrap()
}

/// Logits of a fixed two-example batch (eval mode).
pub fn logits(model: &SequenceClassifier) -> Tensor {
    let ids = Tensor::from_slice(&[2i64, 10, 11, 12, 13, 2, 20, 21, 0, 0]).view([2, 5]);
    let mask = ids.ne(0).to_kind(Kind::Int64);
    let input = EncoderInput {
        input_ids: &ids,
        attention_mask: &mask,
        token_type_ids: None,
    };
    model.forward(&input, false)
}

/// Cross-entropy of the fixed batch.
pub fn loss(model: &SequenceClassifier) -> Tensor {
    model.loss(&logits(model), &Tensor::from_slice(&[0i64, 2]))
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    f64::try_from((a - b).abs().max()).unwrap()
}

/// Every linear layer of the model as a target, in model order.
pub fn targets(model: &SequenceClassifier) -> Vec<Target> {
    model
        .linears()
        .iter()
        .map(|l| Target {
            name: l.name().to_string(),
            d_out: l.d_out() as usize,
            d_in: l.d_in() as usize,
        })
        .collect()
}

/// Random kept rows and columns (about a third of each) on `names`, seeded.
pub fn random_regions(
    model: &SequenceClassifier,
    names: &[&str],
    rank: usize,
    seed: i64,
) -> Regions {
    tch::manual_seed(seed);
    let targets = targets(model);
    let matrices = targets
        .iter()
        .filter(|t| names.contains(&t.name.as_str()))
        .map(|t| MatrixRegion {
            target: t.clone(),
            rows: random_subset(t.d_out),
            cols: random_subset(t.d_in),
        })
        .collect();
    Regions {
        targets,
        matrices,
        rank,
        budget: 0,
        coverage: Vec::new(),
    }
}

fn random_subset(len: usize) -> Vec<i64> {
    let keep = (len as i64 / 3).max(1);
    let picked = Tensor::randperm(len as i64, (Kind::Int64, Device::Cpu)).narrow(0, 0, keep);
    let mut values = Vec::<i64>::try_from(picked).unwrap();
    values.sort_unstable();
    values
}

/// Overwrites every factor with random non-zero values (B too, so the adapters do something).
pub fn randomize(set: &AdapterSet, seed: i64) {
    tch::manual_seed(seed);
    tch::no_grad(|| {
        for mut t in set.trainable() {
            t.copy_(&(t.randn_like() * 0.5));
        }
    });
}
