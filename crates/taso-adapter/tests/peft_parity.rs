//! Adapters trained with Hugging Face PEFT, read by [`AdapterSet::from_peft`], compute what
//! PEFT computed: fixtures of `scripts/reference/make_peft_fixtures.py` (a rank-2 LoRA with a
//! trained classifier on the tiny BERT, one on the tiny LLaMA; PEFT 0.21, f32).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use taso_adapter::AdapterSet;
use taso_models::{CausalLm, DecoderInput, EncoderInput, HeadInit, HeadKind, SequenceClassifier};
use tch::{Device, Tensor};

/// Max abs error against PEFT's logits (f32).
const TOLERANCE: f64 = 1e-5;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

fn reference(name: &str) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(fixture(name).join("reference.safetensors"))
        .unwrap()
        .into_iter()
        .collect()
}

fn assert_close(what: &str, ours: &Tensor, theirs: &Tensor) {
    let err = (ours - theirs).abs().max().double_value(&[]);
    eprintln!("{what}: max abs error {err:.2e}");
    assert!(err <= TOLERANCE, "{what}: max abs error {err}");
}

#[test]
fn a_peft_classifier_adapter_gives_peft_logits_attached_and_merged() {
    let reference = reference("peft-tiny-bert");
    let peft =
        AdapterSet::from_peft(&fixture("peft-tiny-bert/adapter"), "bert", Device::Cpu).unwrap();
    assert_eq!(
        peft.adapters.matrices().len(),
        8,
        "query, value and both output.dense of 2 layers"
    );
    assert!(peft
        .adapters
        .matrices()
        .iter()
        .all(|m| m.region().rows.len() == m.region().target.d_out));
    let mut model = SequenceClassifier::load(
        &fixture("tiny-bert"),
        HeadKind::Classification(3),
        HeadInit::Checkpoint,
        Device::Cpu,
    )
    .unwrap();
    let names: Vec<&str> = peft.saved_tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["classifier.bias", "classifier.weight"]);
    tch::no_grad(|| {
        for (name, tensor) in &peft.saved_tensors {
            let (_, param) = model
                .head_parameters()
                .iter()
                .find(|(n, _)| n == name)
                .unwrap();
            param.shallow_clone().copy_(tensor);
        }
    });
    let input = EncoderInput {
        input_ids: &reference["input_ids"],
        attention_mask: &reference["attention_mask"],
        token_type_ids: Some(&reference["token_type_ids"]),
    };
    peft.adapters.attach(&mut model).unwrap();
    let attached = tch::no_grad(|| model.forward(&input, false));
    assert_close("attached vs PEFT", &attached, &reference["logits"]);
    peft.adapters.detach(&mut model).unwrap();
    peft.adapters.merge_into(&mut model).unwrap();
    let merged = tch::no_grad(|| model.forward(&input, false));
    assert_close(
        "merged vs PEFT merge_and_unload",
        &merged,
        &reference["merged_logits"],
    );
}

#[test]
fn a_peft_causal_lm_adapter_gives_peft_logits() {
    let reference = reference("peft-tiny-llama");
    let peft = AdapterSet::from_peft(&fixture("peft-tiny-llama/adapter"), "", Device::Cpu).unwrap();
    assert!(peft.saved_tensors.is_empty());
    let names: Vec<&str> = peft.adapters.matrices().iter().map(|m| m.name()).collect();
    assert_eq!(names[0], "model.layers.0.mlp.up_proj");
    let mut model = CausalLm::load(&fixture("tiny-llama"), Device::Cpu).unwrap();
    peft.adapters.attach(&mut model).unwrap();
    let input = DecoderInput {
        input_ids: &reference["input_ids"],
        attention_mask: &reference["attention_mask"],
    };
    let logits = tch::no_grad(|| model.forward(&input)).unwrap();
    // Padded positions differ by design (HF attends nothing there); compare real tokens.
    let keep = reference["attention_mask"]
        .to_kind(tch::Kind::Bool)
        .unsqueeze(-1);
    let zero = |t: &Tensor| t.masked_fill(&keep.logical_not(), 0.0);
    assert_close(
        "attached vs PEFT",
        &zero(&logits),
        &zero(&reference["logits"]),
    );
}
