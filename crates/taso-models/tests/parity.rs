//! Numerical parity with Hugging Face transformers, on fixtures made by
//! `scripts/reference/make_fixtures.py` (tiny random BERT/RoBERTa/LLaMA/Qwen2 checkpoints, and
//! reference outputs of the real all-MiniLM-L6-v2 and SmolLM2-135M-Instruct weights).
//! Tolerance: 1e-4 max abs error in f32 (1e-3 on SmolLM2's logits).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use taso_data::TextTokenizer;
use taso_models::forward::{encode_as_one_batch, read_text_jsonl};
use taso_models::{
    CausalLm, DecoderInput, Encoder, EncoderInput, HeadInit, HeadKind, SequenceClassifier,
};
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
    assert_within(what, ours, theirs, TOLERANCE);
}

fn assert_within(what: &str, ours: &Tensor, theirs: &Tensor, tolerance: f64) {
    let err = max_abs_error(ours, theirs);
    eprintln!("{what}: max abs error {err:.3e}");
    assert!(err <= tolerance, "{what}: max abs error {err}");
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

fn decoder_input(reference: &HashMap<String, Tensor>) -> DecoderInput<'_> {
    DecoderInput {
        input_ids: &reference["input_ids"],
        attention_mask: &reference["attention_mask"],
    }
}

fn check_causal_lm(name: &str) {
    let dir = fixture(name);
    let reference = reference(&dir);
    let model = CausalLm::load(&dir, Device::Cpu).unwrap();
    let input = decoder_input(&reference);
    let mask = &reference["attention_mask"];
    tch::no_grad(|| {
        let out = model.decoder.forward(&input, true).unwrap();
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
        assert_close_on_tokens(
            &format!("{name}: last_hidden_state"),
            &out.last_hidden_state,
            &reference["last_hidden_state"],
            mask,
        );
        let logits = model.forward(&input).unwrap();
        assert_close_on_tokens(
            &format!("{name}: logits"),
            &logits,
            &reference["logits"],
            mask,
        );
    });
}

#[test]
fn tiny_llama_with_gqa_tied_embeddings_and_llama3_rope_matches_transformers() {
    check_causal_lm("tiny-llama");
}

#[test]
fn tiny_qwen2_with_qkv_bias_and_untied_head_matches_transformers() {
    check_causal_lm("tiny-qwen2");
}

/// The next-token NLL of every real token after the first, `[n, seq-1]`, 0 after the end.
fn token_nll(logits: &Tensor, ids: &Tensor, mask: &Tensor) -> Tensor {
    let seq = ids.size()[1];
    let log_probs = logits.narrow(1, 0, seq - 1).log_softmax(-1, Kind::Float);
    let next = ids.narrow(1, 1, seq - 1).unsqueeze(-1);
    -log_probs.gather(-1, &next, false).squeeze_dim(-1) * mask.narrow(1, 1, seq - 1)
}

#[test]
fn smollm2_matches_transformers_on_real_weights() {
    check_real_causal_lm(
        &repo_root().join("models/SmolLM2-135M-Instruct"),
        &fixture("smollm2"),
    );
}

/// Last-position logits within 1e-3 and token NLLs within 1e-4 of transformers'.
fn check_real_causal_lm(model_dir: &Path, fixture_dir: &Path) {
    for needed in [
        model_dir.join("config.json"),
        fixture_dir.join("reference.safetensors"),
    ] {
        assert!(
            needed.is_file(),
            "{} is missing: run scripts/bootstrap.sh first (it imports SmolLM2 from its GGUF)",
            needed.display()
        );
    }
    let reference = reference(fixture_dir);
    let model = CausalLm::load(model_dir, Device::Cpu).unwrap();
    let (ids, mask) = (&reference["input_ids"], &reference["attention_mask"]);
    tch::no_grad(|| {
        let logits = model.forward(&decoder_input(&reference)).unwrap();
        let last = (mask.sum_dim_intlist(1, false, Kind::Int64) - 1).view([-1, 1, 1]);
        let vocab = logits.size()[2];
        let last_logits = logits
            .gather(1, &last.expand([-1, 1, vocab], false), false)
            .squeeze_dim(1);
        assert_within(
            "SmolLM2 last-position logits",
            &last_logits,
            &reference["last_logits"],
            1e-3,
        );
        assert_close(
            "SmolLM2 token NLL",
            &token_nll(&logits, ids, mask),
            &reference["token_nll"],
        );
    });
}
