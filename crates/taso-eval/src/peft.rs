//! Exporting a trained adapter and its head in Hugging Face PEFT format.

use std::path::Path;

use taso_adapter::PeftOptions;
use taso_models::{SequenceClassifier, TaskModel};
use taso_run::TrainedModel;

use crate::error::EvalError;

/// Writes the adapter of `trained` to `dir`: `adapter_model.safetensors` and
/// `adapter_config.json`, loadable with `PeftModel.from_pretrained` on the base model
/// `base_model` (recorded as `base_model_name_or_path`). A classifier's task head goes along as
/// PEFT `modules_to_save` (`task_type` `SEQ_CLS`); a decoder's adapter alone (`CAUSAL_LM`,
/// modules `base_model.model.model.layers.…`). Refused for methods without a LoRA adapter.
pub fn export_peft(trained: &TrainedModel, dir: &Path, base_model: &Path) -> Result<(), EvalError> {
    let adapters = trained
        .adapters
        .as_ref()
        .ok_or_else(|| EvalError::no_adapter(trained.artifact.path.clone(), trained.method))?;
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
    let head: Vec<(String, tch::Tensor)> = model
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
