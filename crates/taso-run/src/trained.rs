//! The `adapter` artifact the trainer writes (`adapter.safetensors`, `adapter-best.safetensors`)
//! and loading it back onto the base model — what the trainer's and `taso-eval`'s evaluations
//! run.
//!
//! Tensors: the adapter's `<m>.rows`, `<m>.cols`, `<m>.lora_A`, `<m>.lora_B` (methods with an
//! adapter), the head under `head.<hf name>`, and trained base parameters under
//! `base.<hf name>` (bitfit, full). Extras: `method`, `epoch`, `step`, `metric` (the dev
//! scores as JSON, when evaluated), and the adapter's `rank`, `alpha`, `scale`, `rslora`,
//! `targets`.

use std::path::Path;

use taso_adapter::AdapterSet;
use taso_artifact::{write_artifact, Artifact, ArtifactKind, ArtifactMeta, Expect, TensorData};
use taso_models::TaskModel;
use tch::Tensor;

use crate::context::RunContext;
use crate::error::RunError;
use crate::records::Scores;
use crate::settings::Method;

/// Prefix of the task head's tensors in adapter and checkpoint artifacts.
pub const HEAD_PREFIX: &str = "head.";
/// Prefix of trained base-model tensors (bitfit, full) in adapter and checkpoint artifacts.
pub const BASE_PREFIX: &str = "base.";

/// Extra key: the method that trained the file.
pub const METHOD: &str = "method";
/// Extra key: the 1-based epoch the file was written at.
pub const EPOCH: &str = "epoch";
/// Extra key: the optimizer steps done.
pub const STEP: &str = "step";
/// Extra key: the dev scores (JSON object), when the epoch was evaluated.
pub const METRIC: &str = "metric";

/// What a trained `adapter` file records besides its tensors.
#[derive(Debug, Clone, Copy)]
pub struct TrainedState<'a> {
    /// The method that trained it.
    pub method: Method,
    /// The 1-based epoch it was written at.
    pub epoch: usize,
    /// The optimizer steps done.
    pub step: usize,
    /// The dev scores of that epoch, when it was evaluated.
    pub dev: Option<&'a Scores>,
}

/// Writes a trained state to `path` atomically; returns its digest. `meta` (of kind `adapter`)
/// gets the method, epoch, step and dev scores as extras; `tensors` are the head
/// (`head.<name>`) and trained base parameters (`base.<name>`), written beside the adapter's
/// factors when there is one.
pub fn write_trained(
    path: &Path,
    meta: ArtifactMeta,
    state: TrainedState<'_>,
    tensors: Vec<(String, TensorData)>,
    adapters: Option<&AdapterSet>,
) -> Result<String, RunError> {
    let mut meta = meta
        .with_extra(METHOD, state.method.name())
        .with_extra(EPOCH, state.epoch.to_string())
        .with_extra(STEP, state.step.to_string());
    if let Some(dev) = state.dev {
        meta = meta.with_extra(
            METRIC,
            serde_json::to_string(dev).expect("scores serialise"),
        );
    }
    Ok(match adapters {
        Some(adapters) => adapters.write_with(path, meta, tensors)?,
        None => write_artifact(path, &meta, &tensors)?,
    })
}

/// The base model with a trained `adapter` file applied: its head, its base parameters
/// (bitfit, full) and its adapter — attached, or merged into the base weights.
pub struct TrainedModel {
    /// The model, ready to predict.
    pub model: TaskModel,
    /// The adapter (attached unless merged); `None` for methods without one.
    pub adapters: Option<AdapterSet>,
    /// The method that trained the file.
    pub method: Method,
    /// The file, opened and checked.
    pub artifact: Artifact,
}

impl TrainedModel {
    /// Loads `ctx`'s base model and applies the adapter file at `path`, which must be of kind
    /// `adapter`, made for this model and task and, when it is in the run folder, trained from
    /// the folder's `adapter-init` as it is now. With `merged`, the adapter is added into the
    /// base weights (`W[R, C] += s·B A`) instead of being attached.
    pub fn load(ctx: &RunContext, path: &Path, merged: bool) -> Result<Self, RunError> {
        let expect = if path.parent() == Some(ctx.paths.dir.as_path()) {
            ctx.expect(ArtifactKind::Adapter)
        } else {
            Expect::kind(ArtifactKind::Adapter)
                .model(&ctx.fingerprint)
                .task(ctx.task.name())
        };
        let artifact = Artifact::open(path, &expect)?;
        let method = artifact_method(&artifact)?;
        let mut model = ctx.load_model()?;
        for (name, tensor) in model.head_parameters() {
            copy_from(&artifact, &format!("{HEAD_PREFIX}{name}"), tensor)?;
        }
        load_base(&artifact, &model)?;
        let adapters = if method.uses_adapter() {
            let adapters = AdapterSet::load(&artifact, ctx.device)?;
            if merged {
                adapters.merge_into(&mut model)?;
            } else {
                adapters.attach(&mut model)?;
            }
            Some(adapters)
        } else {
            None
        };
        Ok(Self {
            model,
            adapters,
            method,
            artifact,
        })
    }
}

/// Copies the `base.*` tensors of `artifact` into the encoder parameters of the same name.
fn load_base(artifact: &Artifact, model: &TaskModel) -> Result<(), RunError> {
    for name in artifact.tensor_names() {
        let Some(param_name) = name.strip_prefix(BASE_PREFIX) else {
            continue;
        };
        let (_, tensor) = model
            .base_parameters()
            .iter()
            .find(|(n, _)| n == param_name)
            .ok_or_else(|| RunError::BadArtifact {
                path: artifact.path.clone(),
                reason: format!(
                    "tensor `{name}` names no parameter of the base model; the file was trained \
                     on another model"
                ),
            })?;
        copy_from(artifact, name, tensor)?;
    }
    Ok(())
}

/// Copies the artifact tensor `name` into `target` (same shape; any device), without
/// recording gradients.
pub fn copy_from(artifact: &Artifact, name: &str, target: &Tensor) -> Result<(), RunError> {
    let source = artifact.tensor(name)?.to_tch()?;
    if source.is_floating_point() && !bool::try_from(source.isfinite().all())? {
        return Err(RunError::BadArtifact {
            path: artifact.path.clone(),
            reason: format!(
                "tensor `{name}` holds NaN or infinite values (training diverged?); re-run \
                 `taso-train`, e.g. with a lower train.lr"
            ),
        });
    }
    if source.size() != target.size() {
        return Err(RunError::BadArtifact {
            path: artifact.path.clone(),
            reason: format!(
                "tensor `{name}` has shape {:?} but the model's is {:?}; the file belongs to \
                 another model or settings",
                source.size(),
                target.size()
            ),
        });
    }
    tch::no_grad(|| target.shallow_clone().f_copy_(&source))?;
    Ok(())
}

/// The method recorded in a trained artifact's `method` extra.
fn artifact_method(artifact: &Artifact) -> Result<Method, RunError> {
    let bad = |reason: String| RunError::BadArtifact {
        path: artifact.path.clone(),
        reason,
    };
    let name = artifact
        .meta
        .extra
        .get(METHOD)
        .ok_or_else(|| bad("has no `method` extra; re-run `taso-train`".to_string()))?;
    serde_json::from_value(serde_json::Value::String(name.clone()))
        .map_err(|_| bad(format!("unknown method `{name}`; re-run `taso-train`")))
}
