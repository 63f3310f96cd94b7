//! Computing in bf16 or f16: the same models as in f32 within stated tolerances, heads kept in
//! f32, and a checkpoint's stored dtype no obstacle either way.

use taso_models::testing::{TinyDecoderArch, TinyDecoderSpec, TinySpec};
use taso_models::{
    BatchTensors, CausalLm, ComputeDtype, DecoderInput, HeadInit, HeadKind, LinearHost,
    SequenceClassifier, TaskModel,
};
use tch::{Device, Kind, Tensor};

/// The largest difference from the f32 result, relative to the f32 result's largest magnitude.
fn relative_gap(f32_result: &Tensor, other: &Tensor) -> f64 {
    let gap = (f32_result - other.to_kind(Kind::Float))
        .abs()
        .max()
        .double_value(&[]);
    gap / f32_result.abs().max().double_value(&[])
}

/// Worst relative gap allowed, per dtype: bf16 keeps 8 bits of mantissa (ε ≈ 4e-3), f16 11
/// (ε ≈ 5e-4); a few blocks of rounding stay within a few ε of the logits' scale.
fn tolerance(dtype: ComputeDtype) -> f64 {
    match dtype {
        ComputeDtype::F32 => 0.0,
        ComputeDtype::Bf16 => 4e-2,
        ComputeDtype::F16 => 5e-3,
    }
}

fn decoder_logits(dir: &std::path::Path, dtype: ComputeDtype) -> Tensor {
    let model = CausalLm::load_as(dir, Device::Cpu, dtype).unwrap();
    let ids =
        Tensor::from_slice(&[2i64, 5, 30, 31, 32, 3, 2, 6, 2, 6, 40, 41, 0, 0, 0, 0]).view([2, 8]);
    let mask = ids.ne(0).to_kind(Kind::Int64);
    let input = DecoderInput {
        input_ids: &ids,
        attention_mask: &mask,
    };
    let logits = tch::no_grad(|| model.forward(&input)).unwrap();
    assert_eq!(logits.kind(), dtype.kind());
    logits
}

#[test]
fn decoder_logits_in_bf16_and_f16_follow_f32() {
    for arch in [TinyDecoderArch::Llama, TinyDecoderArch::Qwen2] {
        let dir = tempfile::tempdir().unwrap();
        let spec = TinyDecoderSpec {
            arch,
            tie_embeddings: arch == TinyDecoderArch::Llama,
            ..TinyDecoderSpec::default()
        };
        spec.write(dir.path()).unwrap();
        let reference = decoder_logits(dir.path(), ComputeDtype::F32);
        for dtype in [ComputeDtype::Bf16, ComputeDtype::F16] {
            let gap = relative_gap(&reference, &decoder_logits(dir.path(), dtype));
            eprintln!("{arch:?} {dtype}: relative gap {gap:.2e}");
            assert!(gap < tolerance(dtype), "{arch:?} {dtype}: {gap:.2e}");
            assert!(
                gap > 0.0,
                "{arch:?} {dtype}: no rounding at all: was {dtype} used?"
            );
        }
    }
}

fn classifier(dir: &std::path::Path, dtype: ComputeDtype) -> SequenceClassifier {
    let init = HeadInit::Fresh { seed: 3 };
    SequenceClassifier::load_as(dir, HeadKind::Classification(2), init, Device::Cpu, dtype).unwrap()
}

#[test]
fn encoder_computes_in_bf16_with_an_f32_head() {
    let dir = tempfile::tempdir().unwrap();
    let world = TinySpec::default().write(dir.path()).unwrap();
    let ids = Tensor::from_slice(&[2i64, 10, 11, 12, 3, 2, 13, 3, 0, 0]).view([2, 5]);
    let batch = BatchTensors {
        attention_mask: ids.ne(0).to_kind(Kind::Int64),
        token_type_ids: ids.zeros_like(),
        input_ids: ids,
        labels: None,
    };
    let logits =
        |model: &SequenceClassifier| tch::no_grad(|| model.forward(&batch.encoder_input(), false));
    let reference = logits(&classifier(&world.model_dir, ComputeDtype::F32));
    for dtype in [ComputeDtype::Bf16, ComputeDtype::F16] {
        let model = classifier(&world.model_dir, dtype);
        for (name, tensor) in model.encoder.named_parameters() {
            assert_eq!(tensor.kind(), dtype.kind(), "{name}");
        }
        for (name, tensor) in model.head_parameters() {
            assert_eq!(
                tensor.kind(),
                Kind::Float,
                "{name}: a trained head stays f32"
            );
        }
        let out = logits(&model);
        assert_eq!(out.kind(), Kind::Float);
        let gap = relative_gap(&reference, &out);
        eprintln!("encoder {dtype}: relative gap {gap:.2e}");
        assert!(gap < tolerance(dtype) && gap > 0.0, "{dtype}: {gap:.2e}");
        assert!(model.linears().iter().all(|l| l.weight.size().len() == 2));
    }
}

#[test]
fn a_bf16_checkpoint_loads_as_f32_and_as_bf16() {
    let dir = tempfile::tempdir().unwrap();
    TinyDecoderSpec::default().write(dir.path()).unwrap();
    let reference = decoder_logits(dir.path(), ComputeDtype::F32);
    let file = dir.path().join("model.safetensors");
    let stored: Vec<(String, Tensor)> = Tensor::read_safetensors(&file)
        .unwrap()
        .into_iter()
        .map(|(name, t)| (name, t.to_kind(Kind::BFloat16)))
        .collect();
    Tensor::write_safetensors(&stored, &file).unwrap();
    let from_bf16 = decoder_logits(dir.path(), ComputeDtype::F32);
    let gap = relative_gap(&reference, &from_bf16);
    assert!(gap < tolerance(ComputeDtype::Bf16), "{gap:.2e}");
    let in_bf16 = decoder_logits(dir.path(), ComputeDtype::Bf16);
    assert!(relative_gap(&reference, &in_bf16) < tolerance(ComputeDtype::Bf16));
}

#[test]
fn memory_estimates_follow_the_dtype_and_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    TinyDecoderSpec::default().write(dir.path()).unwrap();
    let model =
        |dtype| TaskModel::CausalLm(CausalLm::load_as(dir.path(), Device::Cpu, dtype).unwrap());
    let (full, half) = (model(ComputeDtype::F32), model(ComputeDtype::Bf16));
    assert_eq!(full.weight_bytes(), 2 * half.weight_bytes());
    let file = std::fs::metadata(dir.path().join("model.safetensors"))
        .unwrap()
        .len();
    assert!(
        full.weight_bytes() <= file && file - full.weight_bytes() < 4096,
        "header only"
    );
    let one = full.activation_bytes(1, 32, 2, false);
    assert!(one > 0 && full.activation_bytes(4, 32, 2, false) == 4 * one);
    assert!(half.activation_bytes(1, 32, 2, false) < one);
    assert!(
        full.activation_bytes(1, 32, 2, true) < one,
        "checkpointing keeps less"
    );
}
