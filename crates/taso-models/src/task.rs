//! A classifier on a task: which head a task needs, and predictions over a whole split.

use crate::batch::BatchTensors;
use crate::encoder::{HeadKind, SequenceClassifier};
use taso_data::{plan_eval_batches, restore_order, LabelSpec, Predictions, TokenizedSplit};
use tch::{Device, Kind, Tensor};

/// The head a task's labels call for: one output per class, or one for regression.
pub fn head_kind_for(labels: &LabelSpec) -> HeadKind {
    match labels {
        LabelSpec::Classes { names } => HeadKind::Classification(names.len() as i64),
        LabelSpec::Regression => HeadKind::Regression,
    }
}

/// Predicts every example of `split` (eval mode, no gradients), batching by length to keep
/// padding low, and returns the predictions in example order.
pub fn predict(
    model: &SequenceClassifier,
    split: &TokenizedSplit,
    batch_size: usize,
    device: Device,
) -> Predictions {
    let plan = plan_eval_batches(&split.lengths(), batch_size);
    let outputs: Vec<Tensor> = tch::no_grad(|| {
        plan.iter()
            .map(|indices| {
                let batch = BatchTensors::new(&split.batch(indices), device);
                model
                    .forward(&batch.encoder_input(), false)
                    .to_device(Device::Cpu)
            })
            .collect()
    });
    let logits = Tensor::cat(&outputs, 0);
    match model.head_kind() {
        HeadKind::Classification(_) => {
            let classes =
                Vec::<i64>::try_from(logits.argmax(-1, false)).expect("argmax gives i64 values");
            Predictions::Classes(restore_order(
                &plan,
                classes.into_iter().map(|c| c as usize).collect(),
            ))
        }
        HeadKind::Regression => {
            let scores = Vec::<f32>::try_from(logits.squeeze_dim(-1).to_kind(Kind::Float))
                .expect("float logits");
            Predictions::Scores(restore_order(&plan, scores))
        }
    }
}
