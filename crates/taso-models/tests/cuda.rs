//! CUDA against CPU, when a GPU is present (it says it was skipped otherwise): the same tiny
//! models' logits and loss gradients on both devices, in f32 and bf16.

use taso_models::testing::{TinyDecoderSpec, TinySpec};
use taso_models::{
    parse_device, BatchTensors, CausalLm, ComputeDtype, DecoderInput, HeadInit, HeadKind,
    SequenceClassifier, TaskBatch, TaskModel,
};
use tch::{Device, Kind, Tensor};

fn gpu() -> Option<Device> {
    match parse_device("cuda") {
        Ok(device) => Some(device),
        Err(e) => {
            eprintln!("skipped: no CUDA device ({e})");
            None
        }
    }
}

fn gap(cpu: &Tensor, gpu: &Tensor) -> f64 {
    let gpu = gpu.to_device(Device::Cpu).to_kind(Kind::Float);
    let cpu = cpu.to_kind(Kind::Float);
    (&cpu - gpu).abs().max().double_value(&[]) / cpu.abs().max().double_value(&[])
}

#[test]
fn decoder_logits_agree_across_devices() {
    let Some(cuda) = gpu() else { return };
    let dir = tempfile::tempdir().unwrap();
    TinyDecoderSpec::default().write(dir.path()).unwrap();
    let ids = Tensor::from_slice(&[2i64, 5, 30, 31, 32, 3, 2, 6]).view([1, 8]);
    for (dtype, tolerance) in [(ComputeDtype::F32, 1e-4), (ComputeDtype::Bf16, 4e-2)] {
        let logits = |device: Device| {
            let model = CausalLm::load_as(dir.path(), device, dtype).unwrap();
            let ids = ids.to_device(device);
            let mask = ids.ones_like();
            let input = DecoderInput {
                input_ids: &ids,
                attention_mask: &mask,
            };
            tch::no_grad(|| model.forward(&input)).unwrap()
        };
        let gap = gap(&logits(Device::Cpu), &logits(cuda));
        assert!(gap < tolerance, "{dtype}: {gap:.2e}");
    }
}

#[test]
fn encoder_head_gradients_agree_across_devices() {
    let Some(cuda) = gpu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let world = TinySpec::default().write(dir.path()).unwrap();
    let grads = |device: Device, checkpointed: bool| {
        let init = HeadInit::Fresh { seed: 1 };
        let head = HeadKind::Classification(2);
        let model = SequenceClassifier::load(&world.model_dir, head, init, device).unwrap();
        let model = TaskModel::Classifier(model);
        let ids = Tensor::from_slice(&[2i64, 10, 11, 3, 2, 12, 3, 0])
            .view([2, 4])
            .to_device(device);
        let batch = TaskBatch::Classification(BatchTensors {
            attention_mask: ids.ne(0).to_kind(Kind::Int64),
            token_type_ids: ids.zeros_like(),
            input_ids: ids,
            labels: Some(Tensor::from_slice(&[0i64, 1]).to_device(device)),
        });
        let params: Vec<Tensor> = model
            .head_parameters()
            .iter()
            .map(|(_, t)| t.set_requires_grad(true))
            .collect();
        let _loss = model
            .loss_backward(&batch, false, checkpointed, 1.0)
            .unwrap();
        params
            .iter()
            .map(|p| p.grad().to_device(Device::Cpu))
            .collect::<Vec<_>>()
    };
    let reference = grads(Device::Cpu, false);
    for checkpointed in [false, true] {
        for (a, b) in reference.iter().zip(grads(cuda, checkpointed)) {
            assert!(gap(a, &b) < 1e-4, "checkpointed {checkpointed}");
        }
    }
}
