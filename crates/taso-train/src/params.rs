//! Which tensors a method trains, grouped by learning rate, and everything else frozen.

use taso_adapter::AdapterSet;
use taso_artifact::TensorData;
use taso_models::TaskModel;
use taso_run::{Method, BASE_PREFIX, HEAD_PREFIX};
use tch::Tensor;

use crate::error::TrainError;

/// The learning-rate group of a trainable tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// LoRA factors A and B: `lr` times the sparsity-aware factor.
    Adapter,
    /// The task head: `head_lr`.
    Head,
    /// Base-model parameters (bitfit, full): `lr`.
    Base,
}

/// One trainable tensor and the name it has in adapter and checkpoint artifacts:
/// `<m>.lora_A` / `<m>.lora_B`, `head.<hf name>`, `base.<hf name>`.
#[derive(Debug)]
pub struct Param {
    /// Artifact name.
    pub name: String,
    /// Learning-rate group.
    pub group: Group,
    /// The tensor the model computes with (shared, `requires_grad` set).
    pub tensor: Tensor,
}

/// The trainable tensors of a run, in a fixed order: adapter, base, head.
#[derive(Debug)]
pub struct Trainable {
    params: Vec<Param>,
}

impl Trainable {
    /// Freezes every parameter of `model`, then makes trainable what `method` trains:
    /// taso / lora / random-regions the factors of `adapters` and the head; bitfit every base
    /// bias (`*.bias`) and the head; full every base parameter and the head; head-only the head.
    /// A causal LM has no trainable head: its `lm_head` stays frozen.
    pub fn select(method: Method, model: &TaskModel, adapters: Option<&AdapterSet>) -> Self {
        let mut params = Vec::new();
        if let Some(adapters) = adapters {
            let names = adapters.matrices().iter().flat_map(|m| {
                [
                    format!("{}.lora_A", m.name()),
                    format!("{}.lora_B", m.name()),
                ]
            });
            for (name, tensor) in names.zip(adapters.trainable()) {
                params.push(Param {
                    name,
                    group: Group::Adapter,
                    tensor,
                });
            }
        }
        let base_trained = |name: &str| match method {
            Method::Bitfit => name.ends_with(".bias"),
            Method::Full => true,
            _ => false,
        };
        for (name, tensor) in model.base_parameters() {
            let trained = base_trained(name);
            let _ = tensor.set_requires_grad(trained);
            if trained {
                params.push(Param {
                    name: format!("{BASE_PREFIX}{name}"),
                    group: Group::Base,
                    tensor: tensor.shallow_clone(),
                });
            }
        }
        for (name, tensor) in model.head_parameters() {
            let _ = tensor.set_requires_grad(true);
            params.push(Param {
                name: format!("{HEAD_PREFIX}{name}"),
                group: Group::Head,
                tensor: tensor.shallow_clone(),
            });
        }
        Self { params }
    }

    /// Every trainable tensor with its name and group.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The tensors alone, in order.
    pub fn tensors(&self) -> Vec<&Tensor> {
        self.params.iter().map(|p| &p.tensor).collect()
    }

    /// Elements of the tensors of `group` (for the adapter, as stored: in the masked form this
    /// counts the masked entries too; use `AdapterSet::num_params` for the free ones).
    pub fn numel(&self, group: Group) -> usize {
        self.of(group).map(|p| p.tensor.numel()).sum()
    }

    /// CPU copies of the head and base tensors under their artifact names (the adapter's own
    /// tensors are written by `AdapterSet`).
    pub fn head_and_base_data(&self) -> Result<Vec<(String, TensorData)>, TrainError> {
        self.params
            .iter()
            .filter(|p| p.group != Group::Adapter)
            .map(|p| Ok((p.name.clone(), TensorData::from_tch(&p.tensor.detach())?)))
            .collect()
    }

    fn of(&self, group: Group) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(move |p| p.group == group)
    }
}
