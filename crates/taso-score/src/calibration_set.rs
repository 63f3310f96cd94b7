//! What scoring and the input-loudness report both run on: the calibration batches drawn from
//! the training split, and the target matrices of the model.

use taso_data::{plan_batches, BatchStrategy, Split};
use taso_models::{LinearHost, TaskData, TaskModel};
use taso_run::RunContext;

use crate::{ScoreConfig, ScoreError};

/// The calibration set: the training split (or one shard of it) and `config.batches` seeded,
/// length-bucketed batches of it, as example indices.
pub(crate) fn calibration_plan(
    ctx: &RunContext,
    config: &ScoreConfig,
) -> Result<(TaskData, Vec<Vec<usize>>), ScoreError> {
    let split = ctx.split_where(Split::Train, |i| {
        config
            .shard
            .is_none_or(|shard| i % shard.count == shard.index)
    })?;
    if split.is_empty() {
        return Err(ScoreError::NoExamples);
    }
    ctx.require_labels(Split::Train, &split)?;
    let mut plan = plan_batches(
        &split.lengths(),
        config.batch_size,
        BatchStrategy::Bucketed,
        ctx.run.seed,
        0,
    );
    if plan.len() < config.batches {
        tracing::warn!(
            "only {} batches of {} in the training data; scoring all of them",
            plan.len(),
            config.batch_size
        );
    }
    plan.truncate(config.batches);
    Ok((split, plan))
}

/// The module paths of the model's target matrices, in model order; an error naming the
/// model's paths when none matches `run.targets`.
pub(crate) fn target_names(ctx: &RunContext, model: &TaskModel) -> Result<Vec<String>, ScoreError> {
    let names: Vec<String> = model
        .linears()
        .into_iter()
        .map(|linear| linear.name().to_string())
        .filter(|name| ctx.run.is_target(name))
        .collect();
    if names.is_empty() {
        return Err(ScoreError::NoTargets {
            targets: ctx.run.targets.clone(),
            available: model.block_paths(),
        });
    }
    Ok(names)
}
