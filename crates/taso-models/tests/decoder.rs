//! The decoder beyond parity: greedy generation (KV cache against full reruns, batching against
//! single prompts, EOS and stop predicate), the adapter seam, and its refusals.

use taso_models::testing::{TinyDecoderArch, TinyDecoderSpec};
use taso_models::{
    CausalLm, DecoderInput, Finish, GreedySettings, LinearAdapter, LinearHost, ModelError,
};
use tch::{Device, Kind, Tensor};

fn tiny(arch: TinyDecoderArch) -> (tempfile::TempDir, CausalLm) {
    let dir = tempfile::tempdir().unwrap();
    let spec = TinyDecoderSpec {
        arch,
        tie_embeddings: arch == TinyDecoderArch::Llama,
        ..TinyDecoderSpec::default()
    };
    spec.write(dir.path()).unwrap();
    let model = CausalLm::load(dir.path(), Device::Cpu).unwrap();
    (dir, model)
}

fn prompts() -> Vec<Vec<i64>> {
    vec![
        vec![2, 5, 30, 31, 32, 3, 2, 6],
        vec![2, 6],
        vec![2, 5, 40, 41, 42, 43, 44, 45, 46, 3, 2, 6],
    ]
}

fn settings(use_cache: bool, eos: Vec<i64>) -> GreedySettings {
    GreedySettings {
        max_new_tokens: 8,
        eos_token_ids: eos,
        use_cache,
    }
}

const NEVER: &dyn Fn(&[i64]) -> bool = &|_| false;

#[test]
fn kv_cache_generation_equals_rerunning_the_whole_sequence() {
    for arch in [TinyDecoderArch::Llama, TinyDecoderArch::Qwen2] {
        let (_dir, model) = tiny(arch);
        let cached = model
            .generate_greedy(&prompts(), &settings(true, vec![]), NEVER)
            .unwrap();
        let rerun = model
            .generate_greedy(&prompts(), &settings(false, vec![]), NEVER)
            .unwrap();
        assert_eq!(cached, rerun, "{arch:?}");
        for generated in &cached {
            assert_eq!(generated.tokens.len(), 8);
            assert_eq!(generated.finish, Finish::Length);
        }
        let distinct: std::collections::BTreeSet<_> = cached.iter().map(|g| &g.tokens).collect();
        assert!(distinct.len() > 1, "{arch:?}: every prompt got {cached:?}");
    }
}

#[test]
fn a_prompt_generates_the_same_alone_as_in_a_left_padded_batch() {
    let (_dir, model) = tiny(TinyDecoderArch::Llama);
    let batch = model
        .generate_greedy(&prompts(), &settings(true, vec![]), NEVER)
        .unwrap();
    for (prompt, in_batch) in prompts().into_iter().zip(&batch) {
        let alone = model
            .generate_greedy(&[prompt], &settings(true, vec![]), NEVER)
            .unwrap();
        assert_eq!(&alone[0], in_batch);
    }
}

#[test]
fn generation_stops_at_eos_and_when_the_predicate_says_so() {
    let (_dir, model) = tiny(TinyDecoderArch::Llama);
    let free = model
        .generate_greedy(&prompts(), &settings(true, vec![]), NEVER)
        .unwrap();
    let eos = free[0].tokens[2];
    let stopped = model
        .generate_greedy(&prompts(), &settings(true, vec![eos]), NEVER)
        .unwrap();
    assert_eq!(stopped[0].finish, Finish::Eos);
    assert_eq!(stopped[0].tokens, free[0].tokens[..2]);
    let two = model
        .generate_greedy(&prompts(), &settings(true, vec![]), &|ids| ids.len() == 2)
        .unwrap();
    for (generated, full) in two.iter().zip(&free) {
        assert_eq!(generated.finish, Finish::Stop);
        assert_eq!(generated.tokens, full.tokens[..2]);
    }
    let err = model
        .generate_greedy(&[vec![2], vec![]], &settings(true, vec![]), NEVER)
        .unwrap_err();
    assert!(err.to_string().contains("prompt 1 is empty"), "{err}");
}

/// Adds a constant to the layer's output.
#[derive(Debug)]
struct Shift(f64);

impl LinearAdapter for Shift {
    fn adapt(&self, _input: &Tensor, base_output: Tensor) -> Tensor {
        base_output + self.0
    }
}

fn logits(model: &CausalLm) -> Tensor {
    let ids = Tensor::from_slice(&[2i64, 5, 30, 31, 2, 6, 0, 0]).view([2, 4]);
    let mask = ids.ne(0).to_kind(Kind::Int64);
    let input = DecoderInput {
        input_ids: &ids,
        attention_mask: &mask,
    };
    model.forward(&input).unwrap()
}

#[test]
fn the_adapter_seam_reaches_every_projection_by_its_hf_path() {
    let (_dir, mut model) = tiny(TinyDecoderArch::Qwen2);
    let names: Vec<String> = model
        .linears()
        .iter()
        .map(|l| l.name().to_string())
        .collect();
    assert_eq!(names[0], "model.layers.0.self_attn.q_proj");
    assert_eq!(names[6], "model.layers.0.mlp.down_proj");
    assert_eq!(names.last().unwrap(), "lm_head");
    let before = tch::no_grad(|| logits(&model));
    let q_proj = model.linear_mut("model.layers.1.self_attn.q_proj").unwrap();
    q_proj.set_adapter(Some(Box::new(Shift(0.5))));
    let shifted = tch::no_grad(|| logits(&model));
    assert!(f64::try_from((&shifted - &before).abs().max()).unwrap() > 1e-3);

    let up = model.linear_mut("model.layers.0.mlp.up_proj").unwrap();
    up.track_weight_grad(true);
    logits(&model).sum(Kind::Float).backward();
    let up = model.linear_mut("model.layers.0.mlp.up_proj").unwrap();
    assert_eq!(up.weight_grad().unwrap().size(), [64, 32]);
    assert!(model.linear_mut("model.layers.0.mlp.fc1").is_err());
}

#[test]
fn mistral_runs_within_its_sliding_window_and_refuses_longer_sequences() {
    let dir = tempfile::tempdir().unwrap();
    TinyDecoderSpec::default().write(dir.path()).unwrap();
    let path = dir.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["model_type"] = "mistral".into();
    config["sliding_window"] = 4.into();
    std::fs::write(&path, config.to_string()).unwrap();
    let model = CausalLm::load(dir.path(), Device::Cpu).unwrap();
    let run = |seq: i64| {
        let ids = Tensor::full([1, seq], 5, (Kind::Int64, Device::Cpu));
        let input = DecoderInput {
            input_ids: &ids,
            attention_mask: &ids.ones_like(),
        };
        tch::no_grad(|| model.forward(&input))
    };
    assert_eq!(run(4).unwrap().size(), [1, 4, 63]);
    match run(5) {
        Err(ModelError::SlidingWindowExceeded {
            length: 5,
            window: 4,
        }) => {}
        other => panic!("expected a sliding-window refusal, got {other:?}"),
    }
}

/// Rewrites the folder's `model.safetensors` as two bf16 shards with an index.
fn shard_as_bf16(dir: &std::path::Path) {
    let single = dir.join("model.safetensors");
    let tensors = Tensor::read_safetensors(&single).unwrap();
    std::fs::remove_file(&single).unwrap();
    let (first, second) = tensors.split_at(tensors.len() / 2);
    let mut weight_map = serde_json::Map::new();
    for (part, shard) in [first, second].into_iter().enumerate() {
        let file = format!("model-0000{}-of-00002.safetensors", part + 1);
        let bf16: Vec<(String, Tensor)> = shard
            .iter()
            .map(|(name, t)| (name.clone(), t.to_kind(Kind::BFloat16)))
            .collect();
        Tensor::write_safetensors(&bf16, dir.join(&file)).unwrap();
        for (name, _) in shard {
            weight_map.insert(name.clone(), file.clone().into());
        }
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
}

#[test]
fn sharded_bf16_weights_load_and_compute_in_f32() {
    let (dir, model) = tiny(TinyDecoderArch::Qwen2);
    let f32_logits = tch::no_grad(|| logits(&model));
    shard_as_bf16(dir.path());
    let sharded = CausalLm::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!(sharded.decoder.embed_tokens().kind(), Kind::Float);
    let bf16_logits = tch::no_grad(|| logits(&sharded));
    assert_eq!(bf16_logits.kind(), Kind::Float);
    let err = f64::try_from((&bf16_logits - &f32_logits).abs().max()).unwrap();
    assert!(
        err > 0.0 && err < 0.1,
        "bf16 rounding moved the logits by {err}"
    );
}
