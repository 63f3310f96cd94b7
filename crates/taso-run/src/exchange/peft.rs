//! Trained adapters to and from Hugging Face PEFT folders.

use std::path::{Path, PathBuf};

use taso_adapter::{AdapterError, AdapterSet, PeftAdapter, PeftOptions, PEFT_WEIGHTS};
use taso_artifact::{file_digest, ArtifactKind, ArtifactMeta, TensorData};
use taso_models::{SequenceClassifier, TaskModel};
use tch::{Device, Tensor};

use crate::context::RunContext;
use crate::error::RunError;
use crate::settings::Method;
use crate::trained::{TrainedModel, BASE_PREFIX, HEAD_PREFIX, METHOD};

/// Extra key of an imported `adapter` artifact: where it came from (`peft <digest of the
/// weights file>`).
pub const SOURCE: &str = "source";

/// Writes the adapter of `trained` to `dir`: `adapter_model.safetensors` and
/// `adapter_config.json`, loadable with `PeftModel.from_pretrained` on the base model
/// `base_model` (recorded as `base_model_name_or_path`). A classifier's task head goes along as
/// PEFT `modules_to_save` (`task_type` `SEQ_CLS`); a decoder's adapter alone (`CAUSAL_LM`,
/// modules `base_model.model.model.layers.…`). Refused for methods without a LoRA adapter.
pub fn export_peft(trained: &TrainedModel, dir: &Path, base_model: &Path) -> Result<(), RunError> {
    let adapters = trained
        .adapters
        .as_ref()
        .ok_or_else(|| RunError::NoAdapter {
            path: trained.artifact.path.clone(),
            method: trained.method,
        })?;
    let base = base_model.display().to_string();
    let model = match &trained.model {
        TaskModel::Classifier(model) => model,
        TaskModel::CausalLm(_) => {
            adapters.to_peft(dir, &PeftOptions::causal_lm(&base), &[])?;
            return Ok(());
        }
    };
    let prefix = model.encoder.config().arch().prefix();
    let mut options = PeftOptions::seq_cls(prefix, &base);
    options.modules_to_save = head_modules(model);
    let head: Vec<(String, Tensor)> = model
        .head_parameters()
        .iter()
        .map(|(name, tensor)| (name.clone(), tensor.shallow_clone()))
        .collect();
    adapters.to_peft(dir, &options, &head)?;
    Ok(())
}

/// The head's top-level modules (`classifier`), in order.
fn head_modules(model: &SequenceClassifier) -> Vec<String> {
    let mut modules: Vec<String> = Vec::new();
    for (name, _) in model.head_parameters() {
        let module = name.split('.').next().unwrap_or(name).to_string();
        if !modules.contains(&module) {
            modules.push(module);
        }
    }
    modules
}

/// What [`import_peft`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedPeft {
    /// The `adapter` artifact.
    pub path: PathBuf,
    /// Its digest.
    pub digest: String,
    /// The method recorded: `lora` when every matrix is adapted whole, else `taso`.
    pub method: Method,
    /// Adapted matrices.
    pub matrices: usize,
    /// Of those, the ones whose adapter covers only some rows or columns.
    pub sparse_matrices: usize,
    /// Free adapter parameters (`Σ r (|R| + |C|)`).
    pub params: usize,
    /// Tensors saved beside the adapter (`modules_to_save`: the head, other base modules).
    pub saved_tensors: usize,
}

/// Reads the PEFT LoRA folder `dir` (see [`AdapterSet::from_peft`]) for `ctx`'s model and task
/// and writes it to `out` as an `adapter` artifact, which `taso-eval --adapter` evaluates and
/// merges like a trained one. Every adapted matrix must exist in the model with its shape; the
/// `modules_to_save` tensors become the head (`head.<name>`) or trained base tensors
/// (`base.<name>`). A classifier's head must be among them (else it would be drawn at random).
pub fn import_peft(ctx: &RunContext, dir: &Path, out: &Path) -> Result<ImportedPeft, RunError> {
    let model = ctx.load_model()?;
    let prefix = match &model {
        TaskModel::Classifier(m) => m.encoder.config().arch().prefix(),
        TaskModel::CausalLm(_) => "",
    };
    let PeftAdapter {
        adapters,
        saved_tensors,
        config,
    } = AdapterSet::from_peft(dir, prefix, Device::Cpu)?;
    let adapters = adapters.in_model_order(&model);
    adapters.check_fits(&model)?;
    let weights = dir.join(PEFT_WEIGHTS);
    let tensors = saved_tensor_data(&model, prefix, saved_tensors, &weights)?;
    let sparse_matrices = adapters
        .matrices()
        .iter()
        .filter(|m| {
            let region = m.region();
            region.rows.len() < region.target.d_out || region.cols.len() < region.target.d_in
        })
        .count();
    let method = if sparse_matrices == 0 {
        Method::Lora
    } else {
        Method::Taso
    };
    let source = serde_json::json!({ "imported_from": dir, "adapter_config": config });
    let meta = ArtifactMeta::new(
        ArtifactKind::Adapter,
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        &ctx.fingerprint,
        ctx.task.name(),
        &source,
    )?
    .with_extra(METHOD, method.name())
    .with_extra(SOURCE, format!("peft {}", file_digest(&weights)?));
    let saved = tensors.len();
    let digest = adapters.write_with(out, meta, tensors)?;
    Ok(ImportedPeft {
        path: out.to_path_buf(),
        digest,
        method,
        matrices: adapters.matrices().len(),
        sparse_matrices,
        params: adapters.num_params(),
        saved_tensors: saved,
    })
}

/// The saved tensors named as a trained `adapter` artifact holds them: `head.<name>` for the
/// task head (which must be complete), `base.<name>` for base-model tensors.
fn saved_tensor_data(
    model: &TaskModel,
    prefix: &str,
    saved: Vec<(String, Tensor)>,
    weights: &Path,
) -> Result<Vec<(String, TensorData)>, RunError> {
    let refuse = |reason: String| {
        RunError::Adapter(AdapterError::BadPeft {
            path: weights.to_path_buf(),
            reason,
        })
    };
    let find = |params: &[(String, Tensor)], name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.size())
    };
    let mut tensors = Vec::new();
    for (name, tensor) in saved {
        let base_name = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or(&name);
        let (key, shape) = if let Some(shape) = find(model.head_parameters(), &name) {
            (format!("{HEAD_PREFIX}{name}"), shape)
        } else if let Some(shape) = find(model.base_parameters(), base_name) {
            (format!("{BASE_PREFIX}{base_name}"), shape)
        } else {
            return Err(refuse(format!(
                "saved tensor `{name}` is no parameter of this model's base or task head; the \
                 adapter was trained on another model (or saves a module taso cannot load, such \
                 as a decoder's lm_head)"
            )));
        };
        if tensor.size() != shape {
            return Err(refuse(format!(
                "saved tensor `{name}` is {:?} but the model's is {shape:?}; the adapter was \
                 trained on another model or for another number of labels",
                tensor.size()
            )));
        }
        tensors.push((key, TensorData::from_tch(&tensor)?));
    }
    if let Some((missing, _)) = model.head_parameters().iter().find(|(name, _)| {
        !tensors
            .iter()
            .any(|(k, _)| *k == format!("{HEAD_PREFIX}{name}"))
    }) {
        return Err(refuse(format!(
            "it has no trained `{missing}`: PEFT saves a classifier head only when it is in \
             modules_to_save (e.g. `modules_to_save=[\"classifier\"]`), and without it the head \
             would be drawn at random"
        )));
    }
    Ok(tensors)
}
