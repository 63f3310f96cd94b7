//! The training loop: epochs of seeded batches, AdamW steps under the warm-up/decay schedule,
//! dev evaluation, adapter files, checkpoints and `metrics.json`.

use std::path::Path;
use std::time::Instant;

use taso_adapter::{AdapterSet, LoraForm};
use taso_artifact::{write_atomic, Artifact, ArtifactKind, ArtifactMeta};
use taso_data::{plan_batches, Split};
use taso_models::{
    available_memory, process_memory, release_free_memory, tensor_bytes, LossScale, MemoryEstimate,
    TaskBatch, TaskData, TaskModel,
};
use tch::{Kind, Tensor};

use crate::budget::Budget;
use crate::checkpoint::{list_checkpoints, restore_checkpoint, write_checkpoint};
use crate::config::{StageConfig, TrainConfig};
use crate::error::TrainError;
use crate::optimizer::{clip_grad_norm, zero_grads, AdamW};
use crate::params::{Group, Trainable};
use crate::progress_log::StepLog;
use crate::records::{EpochRecord, LearningRates, ParamCounts, Progress, TrainMetrics};
use crate::schedule::Schedule;
use taso_run::{
    evaluate, format_scores, write_report_section, write_trained, DataParallel, RunContext,
    RunError, Scores, TrainedState,
};

/// The heading of the trainer's section in `report.md`.
pub const REPORT_HEADING: &str = "## Training";

/// Trains `ctx.run.method` on the run's task as `config` says: [`Trainer::new`], then
/// [`Trainer::run`].
pub fn train(
    ctx: &RunContext,
    config: &TrainConfig,
    form: LoraForm,
) -> Result<TrainMetrics, TrainError> {
    Trainer::new(ctx, config, form)?.run()
}

/// A training run, set up and ready to go (or resumed), with the model in memory.
///
/// Randomness: data order comes from `(run.seed, epoch)`, dropout from libtorch's global
/// generator reseeded with `run.seed + step` before every step. That generator is shared by
/// the whole process, so two trainings must not run at the same time in one process.
pub struct Trainer<'a> {
    ctx: &'a RunContext,
    config: &'a TrainConfig,
    stage: StageConfig,
    model: TaskModel,
    adapters: Option<AdapterSet>,
    /// Digest of the adapter-init the adapter starts from: the parent of every output.
    init_digest: Option<String>,
    trainable: Trainable,
    optimizer: AdamW,
    schedule: Schedule,
    budget: Option<Budget>,
    lr: LearningRates,
    counts: ParamCounts,
    train: TaskData,
    /// Tokens of each training example (padding excluded), for tokens/s.
    train_lengths: Vec<usize>,
    dev: TaskData,
    holdout: Option<TaskData>,
    steps_per_epoch: usize,
    progress: Progress,
    /// This process's peak resident bytes so far at the end of each epoch it ran.
    epoch_peaks: Vec<u64>,
}

impl<'a> Trainer<'a> {
    /// Validates `config`, loads data, model and adapter and selects the trainable tensors.
    /// `form` is how adapter factors are stored while training.
    ///
    /// Methods with an adapter start from the run folder's `adapter-init.safetensors`, which
    /// must be made for this model. With `config.resume`, the newest checkpoint is restored;
    /// otherwise (or when there is none) the outputs of an earlier run of the folder are
    /// removed, so that a failed run cannot leave them looking like its own.
    pub fn new(
        ctx: &'a RunContext,
        config: &'a TrainConfig,
        form: LoraForm,
    ) -> Result<Self, TrainError> {
        config.validate()?;
        ctx.paths
            .create()
            .map_err(|e| TrainError::io(&ctx.paths.dir, e))?;
        let run = &ctx.run;
        let (train, dev, holdout) = labelled_splits(ctx, config)?;
        let (model, adapters, init_digest) = model_with_adapters(ctx, form)?;
        let trainable = Trainable::select(run.method, &model, adapters.as_ref());
        if trainable.params().is_empty() {
            return Err(TrainError::NothingToTrain {
                method: run.method.to_string(),
            });
        }
        let train_lengths = train.lengths();
        let memory = training_memory(&model, &trainable, &train, &train_lengths, config);
        tracing::info!("memory for training (estimate): {}", memory.describe());
        memory.check_fits(available_memory(ctx.device), ctx.device, "training")?;
        let budget = adapters.as_ref().map(Budget::of);
        let lr = LearningRates::new(config, budget.as_ref());
        let base_model = model.base_parameters().iter().map(|(_, t)| t.numel()).sum();
        let counts = ParamCounts::new(
            adapters.as_ref().map_or(0, AdapterSet::num_params),
            trainable.numel(Group::Head),
            trainable.numel(Group::Base),
            base_model,
        );
        let (steps_per_epoch, total) = run_length(config, train.len());
        let optimizer = AdamW::new(&trainable.tensors(), config.weight_decay);
        let mut trainer = Self {
            ctx,
            config,
            stage: StageConfig::new(
                run,
                form,
                config,
                ctx.parallel.map_or(1, |p| p.world_size()),
            ),
            model,
            adapters,
            init_digest,
            trainable,
            optimizer,
            schedule: Schedule::new(total, config.warmup_ratio),
            budget,
            lr,
            counts,
            train_lengths,
            train,
            dev,
            holdout,
            steps_per_epoch,
            epoch_peaks: Vec::new(),
            progress: Progress {
                loss_scale: LossScale::for_dtype(run.dtype),
                ..Progress::default()
            },
        };
        let resumed = config.resume && trainer.resume()?;
        if ctx.is_main() {
            mark_unfinished(ctx)?;
            if !resumed {
                remove_earlier_outputs(ctx)?;
            }
        }
        Ok(trainer)
    }

    /// Restores the newest checkpoint; `false` if there is none.
    fn resume(&mut self) -> Result<bool, TrainError> {
        let dir = self.ctx.paths.checkpoints();
        let Some((_, path)) = list_checkpoints(&dir)?.pop() else {
            tracing::warn!(
                "resume: no checkpoint in {}, training from the start",
                dir.display()
            );
            return Ok(false);
        };
        let mut expect = self.ctx.expect(ArtifactKind::Checkpoint);
        if let Some(digest) = &self.init_digest {
            expect = expect.parent(digest);
        }
        self.progress = restore_checkpoint(
            &path,
            &expect,
            &self.stage,
            &self.trainable,
            &mut self.optimizer,
        )?;
        tracing::info!(
            "resuming from {} at step {}",
            path.display(),
            self.progress.step
        );
        Ok(true)
    }

    /// The model (with the adapter attached).
    pub fn model(&self) -> &TaskModel {
        &self.model
    }

    /// The adapter, for methods with one.
    pub fn adapters(&self) -> Option<&AdapterSet> {
        self.adapters.as_ref()
    }

    /// The trainable tensors.
    pub fn trainable(&self) -> &Trainable {
        &self.trainable
    }

    /// Runs the remaining steps, writing `adapter.safetensors`, `adapter-best.safetensors`,
    /// `metrics.json`, checkpoints (if asked) and the `report.md` section; returns the metrics.
    pub fn run(&mut self) -> Result<TrainMetrics, TrainError> {
        let marker = self.ctx.paths.training_marker();
        self.run_steps()?;
        let metrics = self.metrics();
        if !self.ctx.is_main() {
            return Ok(metrics);
        }
        metrics.write(&self.ctx.paths.metrics())?;
        let mut report = metrics.report();
        if metrics.draw_curves(&self.ctx.paths.curves())? {
            report.push_str("\n![training loss and main metric per epoch](curves.png)\n");
        }
        write_report_section(&self.ctx.paths.report(), REPORT_HEADING, &report)?;
        std::fs::remove_file(&marker).map_err(|e| TrainError::io(&marker, e))?;
        Ok(metrics)
    }

    fn run_steps(&mut self) -> Result<(), TrainError> {
        let total = self.schedule.total_steps;
        let lengths = self.train.lengths();
        let (seed, epochs) = (self.ctx.run.seed, self.config.epochs);
        let mut log = StepLog::new(self.progress.step, total, self.config.log_every);
        log.info(&format!(
            "training {} on {} examples: {} trainable parameters, {} steps ({} per epoch)",
            self.ctx.run.method,
            self.train.len(),
            self.counts.total,
            total,
            self.steps_per_epoch
        ));
        for epoch in self.progress.step / self.steps_per_epoch..epochs {
            if self.progress.step >= total {
                break;
            }
            let plan = epoch_batches(self.config, &lengths, seed, epoch);
            let done = self.progress.step - epoch * self.steps_per_epoch;
            for (index, indices) in plan.iter().enumerate().skip(done) {
                self.step(indices, &mut log)?;
                let finished = self.progress.step == total;
                if index + 1 == plan.len() || finished {
                    let evaluate = self.config.eval_every_epoch || finished;
                    self.finish_epoch(epoch, evaluate, &log)?;
                }
                let every = self.config.checkpoint_every;
                if every > 0 && self.progress.step.is_multiple_of(every) && self.ctx.is_main() {
                    let meta = self.meta(ArtifactKind::Checkpoint)?;
                    write_checkpoint(
                        &self.ctx.paths.checkpoints(),
                        meta,
                        &self.trainable,
                        &self.optimizer,
                        &self.progress,
                        self.config.keep_checkpoints,
                    )?;
                }
                if finished {
                    break;
                }
            }
        }
        log.finish();
        Ok(())
    }

    /// One optimizer step on the training examples `indices`.
    fn step(&mut self, indices: &[usize], log: &mut StepLog) -> Result<(), TrainError> {
        let started = Instant::now();
        let index = self.progress.step;
        let factor = self.schedule.factor(index);
        // Dropout draws from libtorch's global generator: seeding it per step makes a resumed
        // run draw what an uninterrupted one does.
        tch::manual_seed(self.ctx.run.seed.wrapping_add(index as u64) as i64);
        let scale = self.progress.loss_scale.scale;
        let value = match self.ctx.parallel {
            Some(parallel) => self.parallel_backward(parallel, indices, scale)?,
            None => {
                let batch = self.train.batch(indices, self.ctx.device);
                self.backward(&batch, scale)?
            }
        };
        self.check_finite("loss", value, factor)?;
        let tensors = self.trainable.tensors();
        unscale(&tensors, scale);
        let norm = clip_grad_norm(&tensors, self.config.clip_norm);
        if self.progress.loss_scale.update(norm.is_finite()) {
            let params: Vec<(&Tensor, f64)> = self
                .trainable
                .params()
                .iter()
                .map(|p| (&p.tensor, self.group_lr(p.group) * factor))
                .collect();
            self.optimizer.step(&params);
        } else if self.progress.loss_scale.active {
            tracing::warn!(
                "step {}: f16 gradients overflowed at loss scale {scale}; step skipped, scale now {}",
                self.progress.step + 1,
                self.progress.loss_scale.scale
            );
        } else {
            self.check_finite("gradient norm", norm, factor)?;
        }
        zero_grads(&tensors);
        let progress = &mut self.progress;
        let total = self.schedule.total_steps;
        progress.add_step_loss(value, self.config.log_every, total);
        progress.examples_seen += indices.len();
        progress.tokens_seen += indices
            .iter()
            .map(|&i| self.train_lengths[i])
            .sum::<usize>();
        progress.train_seconds += started.elapsed().as_secs_f64();
        log.step(progress.step, value, self.config.lr * factor, indices.len());
        Ok(())
    }

    /// Back-propagates the batch's mean loss times `scale` (dropout on); returns the loss.
    fn backward(&self, batch: &TaskBatch, scale: f64) -> Result<f64, TrainError> {
        let checkpointed = self.config.checkpoint_activations;
        Ok(self
            .model
            .loss_backward(batch, true, checkpointed, scale)?
            .double_value(&[]))
    }

    /// The backward pass of one data-parallel step on the global batch `indices`: this rank
    /// takes its slice, back-propagates its loss weighted by its share of the batch's loss
    /// terms (rows, or a decoder's answer tokens), and one all-reduce of every trainable
    /// gradient (with the loss terms and loss sums) adds the ranks' parts up, so that every
    /// rank holds the gradient of the whole batch's mean loss (times `scale`), as one process
    /// would. Returns the batch's mean loss.
    fn parallel_backward(
        &self,
        parallel: &DataParallel,
        indices: &[usize],
        scale: f64,
    ) -> Result<f64, TrainError> {
        let slice = parallel.slice(indices);
        // A rank without examples in a short last batch runs one at weight 0, so that it
        // holds gradients (zeros) like the others.
        let (rows, weight) = match slice.is_empty() {
            true => (&indices[..1], 0.0),
            false => (slice, 1.0),
        };
        let batch = self.train.batch(rows, self.ctx.device);
        let terms = weight * batch.loss_terms() as f64;
        let loss = self.backward(&batch, scale * terms)?;
        let grads: Vec<Tensor> = self.trainable.tensors().iter().map(|t| t.grad()).collect();
        if let Some(at) = grads.iter().position(|g| !g.defined()) {
            return Err(TrainError::Distributed(format!(
                "the trainable tensor {} got no gradient on rank {}",
                self.trainable.params()[at].name,
                parallel.rank()
            )));
        }
        // One buffer, one all-reduce: every gradient, then this rank's loss terms and loss sum.
        let mut parts: Vec<Tensor> = grads
            .iter()
            .map(|g| g.to_kind(Kind::Float).reshape([-1]))
            .collect();
        parts.push(
            Tensor::from_slice(&[terms as f32, (loss * terms) as f32]).to_device(self.ctx.device),
        );
        let mut flat = Tensor::cat(&parts, 0);
        parallel.all_reduce_sum(&mut flat).map_err(RunError::from)?;
        let numel = flat.size()[0];
        let sums = Vec::<f64>::try_from(flat.narrow(0, numel - 2, 2).to_kind(Kind::Double))?;
        let (total_terms, total_loss) = (sums[0], sums[1]);
        let flat = flat / total_terms;
        let mut offset = 0;
        tch::no_grad(|| {
            for grad in &grads {
                let numel = grad.numel() as i64;
                let mut grad = grad.shallow_clone();
                grad.copy_(&flat.narrow(0, offset, numel).view_as(&grad));
                offset += numel;
            }
        });
        Ok(total_loss / total_terms)
    }

    /// The peak learning rate of `group`.
    fn group_lr(&self, group: Group) -> f64 {
        match group {
            Group::Adapter => self.lr.adapter.unwrap_or(self.lr.base),
            Group::Head => self.lr.head,
            Group::Base => self.lr.base,
        }
    }

    /// Fails with [`TrainError::NonFinite`] unless `value` is finite.
    fn check_finite(&self, what: &'static str, value: f64, factor: f64) -> Result<(), TrainError> {
        if value.is_finite() {
            return Ok(());
        }
        Err(TrainError::NonFinite {
            what,
            value,
            step: self.progress.step + 1,
            lr: self.config.lr * factor,
            suggested: self.config.lr / 10.0,
        })
    }

    /// Records the end of 0-based `epoch`: evaluates (dev and hold-out) if asked, writes
    /// `adapter.safetensors`, `adapter-best.safetensors` when the main metric of the hold-out
    /// (of dev without one) improved, and `metrics.json`.
    fn finish_epoch(
        &mut self,
        epoch: usize,
        evaluate: bool,
        log: &StepLog,
    ) -> Result<(), TrainError> {
        let progress = &self.progress;
        let mut record = EpochRecord {
            epoch: epoch + 1,
            step: progress.step,
            train_loss: progress.epoch_loss_sum / progress.epoch_steps.max(1) as f64,
            lr: self.config.lr * self.schedule.factor(progress.step.saturating_sub(1)),
            dev: None,
            holdout: None,
        };
        if evaluate {
            record.dev = self.scores_on(&self.dev)?;
            if let Some(holdout) = &self.holdout {
                record.holdout = self.scores_on(holdout)?;
            }
        }
        let paths = &self.ctx.paths;
        let main = self.ctx.is_main();
        if main {
            self.write_adapter(&paths.adapter(), &record)?;
        }
        let best_score = self.progress.best.as_ref().and_then(EpochRecord::selection);
        let best_score = best_score.map_or(f64::NEG_INFINITY, |b| self.main_score(b));
        let improved = record
            .selection()
            .is_some_and(|scores| self.main_score(scores) > best_score);
        if improved && main {
            self.write_adapter(&paths.adapter_best(), &record)?;
        }
        if improved {
            self.progress.best = Some(record.clone());
        }
        let scores = |part: &str, scores: &Option<Scores>| {
            let text = scores.as_ref().map(format_scores);
            text.map_or(String::new(), |text| format!(", {part} {text}"))
        };
        let peak = self.epoch_peak_memory();
        let resident = peak.map_or(String::new(), |bytes| {
            format!(
                ", peak resident {:.2} GiB",
                bytes as f64 / (1u64 << 30) as f64
            )
        });
        log.info(&format!(
            "epoch {} (step {}): train loss {:.4}{}{}{}{resident}",
            record.epoch,
            record.step,
            record.train_loss,
            scores("dev", &record.dev),
            scores("holdout", &record.holdout),
            if improved { " (best so far)" } else { "" }
        ));
        let progress = &mut self.progress;
        progress.epochs.push(record);
        progress.epoch_loss_sum = 0.0;
        progress.epoch_steps = 0;
        if !main {
            return Ok(());
        }
        self.metrics().write(&paths.metrics())
    }

    /// The process's peak resident memory so far, at the end of an epoch (its training and
    /// evaluation included), recorded for `metrics.json`; then the heap's free pages go back to
    /// the system. `None` where the process's memory cannot be read.
    fn epoch_peak_memory(&mut self) -> Option<u64> {
        let peak = process_memory().map(|m| m.peak);
        self.epoch_peaks.extend(peak);
        release_free_memory();
        peak
    }

    /// The scores of the model as it is now on `data` (dev or the hold-out).
    fn scores_on(&self, data: &TaskData) -> Result<Option<Scores>, TrainError> {
        let evaluation = evaluate(self.ctx, &self.model, data, self.config.eval_batch_size)?;
        Ok(evaluation.scores)
    }

    /// The task's main (first) metric in `scores`.
    fn main_score(&self, scores: &Scores) -> f64 {
        scores
            .get(self.ctx.main_metric())
            .copied()
            .unwrap_or(f64::NEG_INFINITY)
    }

    fn write_adapter(&self, path: &Path, record: &EpochRecord) -> Result<(), TrainError> {
        let state = TrainedState {
            method: self.ctx.run.method,
            epoch: record.epoch,
            step: record.step,
            dev: record.dev.as_ref(),
        };
        write_trained(
            path,
            self.meta(ArtifactKind::Adapter)?,
            state,
            self.trainable.head_and_base_data()?,
            self.adapters.as_ref(),
        )?;
        Ok(())
    }

    /// The metadata of an output artifact of `kind`.
    fn meta(&self, kind: ArtifactKind) -> Result<ArtifactMeta, TrainError> {
        let meta = ArtifactMeta::new(
            kind,
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
            &self.ctx.fingerprint,
            self.ctx.task.name(),
            &self.stage,
        )?;
        Ok(match &self.init_digest {
            Some(digest) => meta.with_parent(digest),
            None => meta,
        })
    }

    /// `metrics.json` as of now.
    fn metrics(&self) -> TrainMetrics {
        let progress = &self.progress;
        TrainMetrics {
            task: self.ctx.task.name().to_string(),
            method: self.ctx.run.method,
            seed: self.ctx.run.seed,
            main_metric: self.ctx.main_metric().to_string(),
            params: self.counts,
            budget: self.budget,
            lr: self.lr,
            total_steps: self.schedule.total_steps,
            train_examples: self.train.len(),
            holdout_examples: self.holdout.as_ref().map_or(0, TaskData::len),
            epochs: progress.epochs.clone(),
            best: progress.best.clone(),
            last: progress.epochs.last().cloned(),
            train_seconds: progress.train_seconds,
            examples_per_second: progress.examples_seen as f64 / progress.train_seconds.max(1e-9),
            tokens_per_second: progress.tokens_seen as f64 / progress.train_seconds.max(1e-9),
            peak_resident_bytes_by_epoch: self.epoch_peaks.clone(),
            step_losses: progress.step_losses.clone(),
        }
    }
}

/// Optimizer steps per epoch over `examples` training examples, and in the whole run
/// (`epochs` of them, cut at `max_steps`).
pub(crate) fn run_length(config: &TrainConfig, examples: usize) -> (usize, usize) {
    let per_epoch = examples.div_ceil(config.batch_size);
    let total = (config.epochs * per_epoch).min(config.max_steps.unwrap_or(usize::MAX));
    (per_epoch, total)
}

/// The batches (example indices) of 0-based `epoch`, in the order training steps through them:
/// fixed by the seed and the epoch.
pub(crate) fn epoch_batches(
    config: &TrainConfig,
    lengths: &[usize],
    seed: u64,
    epoch: usize,
) -> Vec<Vec<usize>> {
    plan_batches(
        lengths,
        config.batch_size,
        config.batching,
        seed,
        epoch as u64,
    )
}

/// The train, dev and (with `run.holdout`) hold-out examples, each checked to carry labels.
pub(crate) fn labelled_splits(
    ctx: &RunContext,
    config: &TrainConfig,
) -> Result<(TaskData, TaskData, Option<TaskData>), TrainError> {
    let (train, holdout) = ctx.train_and_holdout(config.train_subset)?;
    ctx.require_labels(Split::Train, &train)?;
    let dev = ctx.split(Split::Dev, config.dev_subset)?;
    ctx.require_labels(Split::Dev, &dev)?;
    if let Some(holdout) = &holdout {
        ctx.require_labels(Split::Train, holdout)?;
    }
    Ok((train, dev, holdout))
}

/// The run's model with its initial adapter attached when the method has one, and that
/// adapter-init's digest.
fn model_with_adapters(
    ctx: &RunContext,
    form: LoraForm,
) -> Result<(TaskModel, Option<AdapterSet>, Option<String>), TrainError> {
    let mut model = ctx.load_model()?;
    if !ctx.run.method.uses_adapter() {
        return Ok((model, None, None));
    }
    let (adapters, digest) = load_adapter_init(ctx, form)?;
    adapters.attach(&mut model)?;
    Ok((model, Some(adapters), Some(digest)))
}

/// Divides the gradients of `tensors` by the loss scale their backward pass was taken at.
fn unscale(tensors: &[&Tensor], scale: f64) {
    if scale == 1.0 {
        return;
    }
    tch::no_grad(|| {
        for tensor in tensors {
            let mut grad = tensor.grad();
            if grad.defined() {
                let _ = grad.g_div_scalar_(scale);
            }
        }
    });
}

/// The memory a training step will hold at its peak: the model and (f32) adapters, the
/// activations of a batch of the longest example (`lengths`: every training example's tokens),
/// and an f32 gradient and two AdamW moments per trained element (adapters, head, base).
fn training_memory(
    model: &TaskModel,
    trainable: &Trainable,
    train: &TaskData,
    lengths: &[usize],
    config: &TrainConfig,
) -> MemoryEstimate {
    let trained = tensor_bytes(trainable.tensors());
    let adapters = tensor_bytes(
        trainable
            .params()
            .iter()
            .filter(|p| p.group == Group::Adapter)
            .map(|p| &p.tensor),
    );
    let longest = lengths.iter().copied().max().unwrap_or(0);
    MemoryEstimate {
        weights: model.weight_bytes() + adapters,
        activations: model.activation_bytes(
            config.batch_size,
            longest,
            train.longest_answer(),
            config.checkpoint_activations,
        ),
        state: 3 * trained,
    }
}

/// Opens the run's `adapter-init.safetensors` (checked for this model) and loads it in `form`;
/// returns the adapters and the file's digest.
fn load_adapter_init(ctx: &RunContext, form: LoraForm) -> Result<(AdapterSet, String), TrainError> {
    let artifact = Artifact::open(
        &ctx.paths.adapter_init(),
        &ctx.expect(ArtifactKind::AdapterInit),
    )?;
    let adapters = AdapterSet::load(&artifact, ctx.device)?;
    let adapters = match form {
        LoraForm::Compact => adapters,
        LoraForm::Masked => adapters.to_form(LoraForm::Masked),
    };
    Ok((adapters, artifact.digest))
}

/// Writes the run folder's `training.incomplete` before the first output changes; the end of
/// [`Trainer::run`] removes it, so a killed or failed run leaves it behind.
fn mark_unfinished(ctx: &RunContext) -> Result<(), TrainError> {
    let dir = &ctx.paths.dir;
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let marker = ctx.paths.training_marker();
    let note = "taso-train has not finished this run (it is under way, or was killed or \
                failed); resume it with `taso-train --resume`.\n";
    write_atomic(&marker, note.as_bytes()).map_err(|e| TrainError::io(&marker, e))
}

/// Removes the adapter files, metrics and checkpoints an earlier run left in the folder, so
/// that a failed run cannot leave them looking like its own.
fn remove_earlier_outputs(ctx: &RunContext) -> Result<(), TrainError> {
    let paths = &ctx.paths;
    let mut stale = vec![paths.adapter(), paths.adapter_best(), paths.metrics()];
    stale.extend(
        list_checkpoints(&paths.checkpoints())?
            .into_iter()
            .map(|(_, path)| path),
    );
    for path in stale.iter().filter(|p| p.exists()) {
        tracing::info!("removing {} of an earlier run", path.display());
        std::fs::remove_file(path).map_err(|e| TrainError::io(path, e))?;
    }
    Ok(())
}
