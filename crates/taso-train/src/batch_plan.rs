//! The training run's batches written to a file, so that another trainer (the PyTorch + PEFT
//! peer of `benches/train_peer.sh`) steps through exactly the batches taso does.

use std::collections::HashMap;
use std::path::Path;

use taso_artifact::{write_safetensors, TensorData};
use taso_models::TaskBatch;
use tch::{Device, Tensor};

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::trainer::{epoch_batches, labelled_splits, run_length};
use taso_run::RunContext;

/// What [`write_batch_plan`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlanSummary {
    /// Optimizer steps (batches) in the file.
    pub steps: usize,
    /// Training examples over all steps.
    pub examples: usize,
    /// Real (unpadded) tokens over all steps.
    pub tokens: usize,
}

/// Writes every batch the run's training steps through, in order (epochs in a row, up to
/// `train.max_steps`), to a safetensors file at `path`: for step `n` (5 digits),
/// `n.input_ids`, `n.attention_mask` and `n.labels` (class ids or scores; a decoder's answer
/// ids with -100 elsewhere, as transformers' causal-LM loss takes them), and for encoders
/// `n.token_type_ids`. Metadata: `task`, `model`, `kind` (`classification` or `causal`),
/// `steps`. The batches are those `taso-train` builds from the same config and seed.
pub fn write_batch_plan(
    ctx: &RunContext,
    config: &TrainConfig,
    path: &Path,
) -> Result<BatchPlanSummary, TrainError> {
    config.validate()?;
    let (train, _, _) = labelled_splits(ctx, config)?;
    let lengths = train.lengths();
    let (_, total) = run_length(config, train.len());
    let mut tensors = Vec::new();
    let mut summary = BatchPlanSummary {
        steps: 0,
        examples: 0,
        tokens: 0,
    };
    let mut kind = "classification";
    'epochs: for epoch in 0..config.epochs {
        for indices in epoch_batches(config, &lengths, ctx.run.seed, epoch) {
            if summary.steps == total {
                break 'epochs;
            }
            let prefix = format!("{:05}", summary.steps);
            let fields: Vec<(&str, Tensor)> = match train.batch(&indices, Device::Cpu) {
                TaskBatch::Classification(b) => vec![
                    ("input_ids", b.input_ids),
                    ("attention_mask", b.attention_mask),
                    ("token_type_ids", b.token_type_ids),
                    ("labels", b.labels.expect("training examples are labelled")),
                ],
                TaskBatch::Causal(b) => {
                    kind = "causal";
                    vec![
                        ("input_ids", b.input_ids),
                        ("attention_mask", b.attention_mask),
                        ("labels", b.label_ids),
                    ]
                }
            };
            for (name, tensor) in fields {
                tensors.push((format!("{prefix}.{name}"), TensorData::from_tch(&tensor)?));
            }
            summary.steps += 1;
            summary.examples += indices.len();
            summary.tokens += indices.iter().map(|&i| lengths[i]).sum::<usize>();
        }
    }
    let metadata = HashMap::from([
        ("task".to_string(), ctx.task.name().to_string()),
        ("model".to_string(), ctx.run.model.display().to_string()),
        ("kind".to_string(), kind.to_string()),
        ("steps".to_string(), summary.steps.to_string()),
    ]);
    write_safetensors(path, metadata, &tensors)?;
    Ok(summary)
}
