//! Scoring a task: calibration batches from the training split through the frozen model.

use crate::calibration_set::{calibration_plan, target_names};
use crate::error::ScoreError;
use crate::inputs;
use crate::scorer::Scorer;
use crate::{InputNorm, ScoreConfig, ScoreLoss};
use std::time::Instant;
use taso_artifact::Importance;
use taso_models::{
    available_memory, ChoiceTensors, LinearHost, LossScale, MemoryEstimate, TaskBatch, TaskData,
    TaskModel,
};
use taso_run::{RunContext, RunError};
use tch::{Device, Tensor};

/// Passes of one batch at ever smaller loss scales before scoring gives up.
const MAX_RETRIES: usize = 16;

/// Scores the run's task on its model: `config.batches` seeded, length-bucketed batches of the
/// training split (or of one shard of it), dropout off, the head initialised exactly as the
/// trainer will (fresh from `run.seed`, [`RunContext::load_model`]) and optionally warmed up
/// first (classifiers only: a decoder keeps its own LM head, so warm-up is refused). In a
/// data-parallel run ([`RunContext::parallel`]) the ranks share the batches and every rank
/// returns the sum over all of them. Under `score.input_norm = "rms"` the targets' input
/// features are first measured on all the batches (no gradients; [`crate::inputs`]) and each
/// column's scores are divided by its feature's RMS at the end. The loss scored is the choice
/// loss or the training loss, `score.loss = "auto"` resolved for the task ([`Scored::loss`]).
pub fn score_task(ctx: &RunContext, config: &ScoreConfig) -> Result<Scored, ScoreError> {
    let (split, plan) = calibration_plan(ctx, config)?;
    let device = ctx.device;
    let (loss, choices) = choice_targets(ctx, &split, &plan, config)?;
    tracing::info!(
        "scoring the {} loss (score.loss = {})",
        loss.name(),
        config.loss.name()
    );
    let mut model = ctx.load_model()?;
    if config.head_warmup_steps > 0 && matches!(model, TaskModel::CausalLm(_)) {
        return Err(ScoreError::WarmupOnDecoder {
            steps: config.head_warmup_steps,
        });
    }
    let batches: Vec<TaskBatch> = plan.iter().map(|b| split.batch(b, device)).collect();
    warm_up_head(&model, &batches, config)?;
    let names = target_names(ctx, &model)?;
    let loudness = match config.input_norm {
        InputNorm::Rms => Some(inputs::measure(&mut model, &names, &batches)?),
        InputNorm::None => None,
    };
    let mut scorer = target_scorer(&model, &names, config)?;
    check_memory(&model, &scorer, &split, &plan, config, device)?;
    accumulate(
        &model,
        &mut scorer,
        &rank_share(ctx, &batches, &choices),
        config.checkpoint_activations,
        LossScale::for_dtype(ctx.run.dtype),
    )?;
    if let Some(parallel) = ctx.parallel {
        scorer.reduce_sums(|sum| parallel.all_reduce_sum(sum).map_err(RunError::from))?;
    }
    for input in loudness.iter().flatten() {
        scorer.divide_columns(&input.name, &input.rms)?;
    }
    let matrices = scorer.finish(config.dtype)?;
    let importance = Importance {
        matrices,
        examples: plan.iter().map(Vec::len).sum(),
    };
    Ok(Scored { importance, loss })
}

/// A scorer over the model's linear layers named in `names` (their weights shared, not copied),
/// with the configured estimator, signal and store.
fn target_scorer(
    model: &TaskModel,
    names: &[String],
    config: &ScoreConfig,
) -> Result<Scorer, ScoreError> {
    let targets = model
        .linears()
        .into_iter()
        .filter(|linear| names.iter().any(|name| name == linear.name()))
        .map(|linear| (linear.name().to_string(), linear.weight.shallow_clone()));
    Ok(Scorer::new(targets, config.estimator)?
        .with_signal(config.signal)
        .with_store(config.store))
}

/// Refuses to start where the weights, the activations of the longest calibration batch and the
/// scorer's sums would not fit in `device`'s memory (an estimate, logged).
fn check_memory(
    model: &TaskModel,
    scorer: &Scorer,
    split: &TaskData,
    plan: &[Vec<usize>],
    config: &ScoreConfig,
    device: Device,
) -> Result<(), ScoreError> {
    let lengths = split.lengths();
    let longest = plan
        .iter()
        .flatten()
        .map(|&i| lengths[i])
        .max()
        .unwrap_or(0);
    let memory = MemoryEstimate {
        weights: model.weight_bytes(),
        activations: model.activation_bytes(
            config.batch_size,
            longest,
            split.longest_answer(),
            config.checkpoint_activations,
        ),
        state: scorer.state_bytes(),
    };
    tracing::info!("memory for scoring (estimate): {}", memory.describe());
    memory.check_fits(available_memory(device), device, "scoring")?;
    Ok(())
}

/// The passes this process scores: every batch, or in a data-parallel run every
/// world_size-th one (the ranks' sums are added up after).
fn rank_share<'a>(
    ctx: &RunContext,
    batches: &'a [TaskBatch],
    choices: &'a [Option<ChoiceTensors>],
) -> Vec<Pass<'a>> {
    batches
        .iter()
        .zip(choices)
        .enumerate()
        .filter(|(i, _)| ctx.parallel.is_none_or(|p| p.owns(*i)))
        .map(|(_, (batch, choices))| Pass {
            batch,
            choices: choices.as_ref(),
        })
        .collect()
}

/// What [`score_task`] gives: the scores, and the loss they were scored on.
#[derive(Debug)]
pub struct Scored {
    /// The importance of every target matrix.
    pub importance: Importance,
    /// [`ScoreLoss::Answer`] or [`ScoreLoss::Choice`] (never `Auto`).
    pub loss: ScoreLoss,
}

/// One scoring pass: a calibration batch, and its candidates' first tokens under the choice
/// loss.
struct Pass<'a> {
    batch: &'a TaskBatch,
    choices: Option<&'a ChoiceTensors>,
}

/// The loss scored (`score.loss = "auto"` resolved: the choice loss where the split offers it)
/// and, under the choice loss, the candidates' first tokens of every batch of `plan` (checked
/// over the whole split before the model loads); `None`s under the training loss.
fn choice_targets(
    ctx: &RunContext,
    split: &TaskData,
    plan: &[Vec<usize>],
    config: &ScoreConfig,
) -> Result<(ScoreLoss, Vec<Option<ChoiceTensors>>), ScoreError> {
    let answer = || (ScoreLoss::Answer, plan.iter().map(|_| None).collect());
    if config.loss == ScoreLoss::Answer {
        return Ok(answer());
    }
    let every: Vec<usize> = (0..split.len()).collect();
    if split.choices(&every, Device::Cpu).is_none() {
        return match config.loss {
            ScoreLoss::Auto => Ok(answer()),
            _ => Err(ScoreError::NoChoice {
                task: ctx.task.name().to_string(),
            }),
        };
    }
    let choices = plan
        .iter()
        .map(|indices| split.choices(indices, ctx.device))
        .collect();
    Ok((ScoreLoss::Choice, choices))
}

/// Back-propagates the mean loss of one batch times `scale` (the choice loss where the pass has
/// choices), with dropout off (block by block when `checkpointed`); returns the loss, an error
/// if it is not finite.
fn backward_loss(
    model: &TaskModel,
    pass: &Pass,
    checkpointed: bool,
    scale: f64,
    stage: &'static str,
    step: usize,
) -> Result<f64, ScoreError> {
    let loss = match pass.choices {
        Some(choices) => model.choice_loss_backward(pass.batch, choices, checkpointed, scale)?,
        None => model.loss_backward(pass.batch, false, checkpointed, scale)?,
    };
    let loss = loss.double_value(&[]);
    if !loss.is_finite() {
        return Err(ScoreError::NonFiniteLoss { stage, step });
    }
    Ok(loss)
}

/// Trains only the head with plain SGD for `head_warmup_steps`, cycling through the batches.
fn warm_up_head(
    model: &TaskModel,
    batches: &[TaskBatch],
    config: &ScoreConfig,
) -> Result<(), ScoreError> {
    if config.head_warmup_steps == 0 {
        return Ok(());
    }
    let params: Vec<Tensor> = model
        .head_parameters()
        .iter()
        .map(|(_, p)| p.set_requires_grad(true))
        .collect();
    for step in 0..config.head_warmup_steps {
        let pass = Pass {
            batch: &batches[step % batches.len()],
            choices: None,
        };
        let loss = backward_loss(model, &pass, false, 1.0, "warm-up", step + 1)?;
        tch::no_grad(|| {
            for p in &params {
                let mut grad = p.grad();
                let _ = p.shallow_clone().g_sub_(&(&grad * config.head_warmup_lr));
                let _ = grad.zero_();
            }
        });
        if (step + 1) % 10 == 0 || step + 1 == config.head_warmup_steps {
            tracing::info!(step = step + 1, loss, "head warm-up");
        }
    }
    for p in &params {
        let _ = p.set_requires_grad(false);
    }
    Ok(())
}

/// One backward pass per batch, accumulated into the scorer, with progress.
///
/// Under f16 each pass is taken of the loss times a [`LossScale`]: a pass whose gradients
/// overflowed is run again at half the scale (at most [`MAX_RETRIES`] times).
fn accumulate(
    model: &TaskModel,
    scorer: &mut Scorer,
    passes: &[Pass],
    checkpointed: bool,
    mut loss_scale: LossScale,
) -> Result<(), ScoreError> {
    let start = Instant::now();
    let mut examples = 0;
    for (step, pass) in passes.iter().enumerate() {
        let mut tries = 0;
        let loss = loop {
            let scale = loss_scale.scale;
            let loss = backward_loss(model, pass, checkpointed, scale, "scoring", step + 1)?;
            if loss_scale.update(scorer.accumulate_scaled(scale)) {
                break loss;
            }
            tries += 1;
            tracing::warn!(
                "scoring batch {}: f16 gradients overflowed at loss scale {scale}; again at {}",
                step + 1,
                loss_scale.scale
            );
            if tries == MAX_RETRIES {
                return Err(ScoreError::F16Overflow { step: step + 1 });
            }
        };
        examples += pass.batch.rows();
        let elapsed = start.elapsed().as_secs_f64();
        let rate = examples as f64 / elapsed.max(1e-9);
        let eta = elapsed / (step + 1) as f64 * (passes.len() - step - 1) as f64;
        tracing::info!(
            "scoring batch {}/{}: loss {:.4}, {rate:.1} examples/s, ETA {eta:.0}s",
            step + 1,
            passes.len(),
            loss
        );
    }
    Ok(())
}
