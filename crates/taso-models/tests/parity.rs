//! Numerical parity with Hugging Face transformers, on fixtures made by
//! `scripts/reference/make_fixtures.py` (tiny random BERT/RoBERTa checkpoints, and reference
//! outputs of the real all-MiniLM-L6-v2 weights). Tolerance: 1e-4 max abs error in f32.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use taso_data::TextTokenizer;
use taso_models::forward::{encode_as_one_batch, read_text_jsonl};
use taso_models::{Encoder, EncoderInput, HeadInit, HeadKind, SequenceClassifier};
use tch::{Device, Kind, Tensor};

const TOLERANCE: f64 = 1e-4;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

fn reference(dir: &Path) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(dir.join("reference.safetensors"))
        .expect("reference.safetensors is readable")
        .into_iter()
        .collect()
}

/// Max abs difference over the real (unpadded) token positions of `[batch, seq, ..]` tensors.
fn max_abs_error_on_tokens(ours: &Tensor, theirs: &Tensor, mask: &Tensor) -> f64 {
    assert_eq!(ours.size(), theirs.size());
    let keep = mask.to_kind(Kind::Bool);
    let diff = (ours - theirs).abs();
    let per_token = if diff.dim() > 2 {
        diff.amax([-1], false)
    } else {
        diff
    };
    per_token.masked_select(&keep).max().double_value(&[])
}

fn max_abs_error(ours: &Tensor, theirs: &Tensor) -> f64 {
    assert_eq!(ours.size(), theirs.size());
    (ours - theirs).abs().max().double_value(&[])
}

fn assert_close_on_tokens(what: &str, ours: &Tensor, theirs: &Tensor, mask: &Tensor) {
    let err = max_abs_error_on_tokens(ours, theirs, mask);
    eprintln!("{what}: max abs error {err:.3e}");
    assert!(err <= TOLERANCE, "{what}: max abs error {err}");
}

fn assert_close(what: &str, ours: &Tensor, theirs: &Tensor) {
    let err = max_abs_error(ours, theirs);
    eprintln!("{what}: max abs error {err:.3e}");
    assert!(err <= TOLERANCE, "{what}: max abs error {err}");
}

fn input(reference: &HashMap<String, Tensor>) -> EncoderInput<'_> {
    EncoderInput {
        input_ids: &reference["input_ids"],
        attention_mask: &reference["attention_mask"],
        token_type_ids: Some(&reference["token_type_ids"]),
    }
}

fn check_classifier(name: &str, kind: HeadKind, with_pooler: bool) {
    let dir = fixture(name);
    let reference = reference(&dir);
    let model = SequenceClassifier::load(&dir, kind, HeadInit::Checkpoint, Device::Cpu).unwrap();
    let input = input(&reference);
    let mask = &reference["attention_mask"];
    tch::no_grad(|| {
        let out = model.encoder.forward(&input, false, true);
        assert_close_on_tokens(
            &format!("{name}: last_hidden_state"),
            &out.last_hidden_state,
            &reference["last_hidden_state"],
            mask,
        );
        let hf_states = &reference["hidden_states"];
        assert_eq!(out.hidden_states.len() as i64, hf_states.size()[0]);
        for (layer, ours) in out.hidden_states.iter().enumerate() {
            assert_close_on_tokens(
                &format!("{name}: hidden state {layer}"),
                ours,
                &hf_states.get(layer as i64),
                mask,
            );
        }
        if with_pooler {
            let pooled = model.encoder.pool(&out.last_hidden_state).unwrap();
            assert_close(
                &format!("{name}: pooler"),
                &pooled,
                &reference["pooler_output"],
            );
        }
        let logits = model.forward(&input, false);
        assert_close(&format!("{name}: logits"), &logits, &reference["logits"]);
    });
}

#[test]
fn tiny_bert_classifier_matches_transformers() {
    check_classifier("tiny-bert", HeadKind::Classification(3), true);
}

#[test]
fn tiny_bert_regression_matches_transformers() {
    check_classifier("tiny-bert-regression", HeadKind::Regression, true);
}

#[test]
fn tiny_roberta_classifier_matches_transformers() {
    check_classifier("tiny-roberta", HeadKind::Classification(2), false);
}

#[test]
fn minilm_matches_transformers_on_real_weights() {
    let model_dir = repo_root().join("models/all-MiniLM-L6-v2");
    assert!(
        model_dir.join("model.safetensors").is_file(),
        "{} is missing: run scripts/bootstrap.sh first",
        model_dir.display()
    );
    let reference = reference(&fixture("minilm"));
    let tokenizer = TextTokenizer::from_file(&model_dir.join("tokenizer.json"), 128).unwrap();
    let examples = read_text_jsonl(&fixture("minilm/inputs.jsonl")).unwrap();
    let batch = encode_as_one_batch(&tokenizer, &examples).unwrap();
    for name in ["input_ids", "attention_mask", "token_type_ids"] {
        let ours = match name {
            "input_ids" => &batch.input_ids,
            "attention_mask" => &batch.attention_mask,
            _ => &batch.token_type_ids,
        };
        let theirs = Vec::<i64>::try_from(reference[name].flatten(0, -1)).unwrap();
        assert_eq!(
            ours, &theirs,
            "our {name} differ from the Hugging Face tokenizer's"
        );
    }
    let encoder = Encoder::load(&model_dir, Device::Cpu).unwrap();
    let input = input(&reference);
    let mask = &reference["attention_mask"];
    tch::no_grad(|| {
        let out = encoder.forward(&input, false, true);
        assert_close_on_tokens(
            "MiniLM last_hidden_state",
            &out.last_hidden_state,
            &reference["last_hidden_state"],
            mask,
        );
        for layer in [0, 3] {
            let theirs = &reference[&format!("hidden_states_{layer}")];
            assert_close_on_tokens(
                &format!("MiniLM hidden state {layer}"),
                &out.hidden_states[layer],
                theirs,
                mask,
            );
        }
        let pooled = encoder.pool(&out.last_hidden_state).unwrap();
        assert_close("MiniLM pooler", &pooled, &reference["pooler_output"]);
    });
}
