//! Export to a Hugging Face PEFT LoRA folder (`adapter_model.safetensors` and
//! `adapter_config.json`), loadable with `PeftModel.from_pretrained`.
//!
//! Lossless: a sparse adapter is a dense LoRA whose A is zero outside the kept columns C and
//! whose B is zero outside the kept rows R, and that is what is written.

use crate::error::AdapterError;
use crate::set::AdapterSet;
use std::path::Path;
use taso_artifact::write_atomic;
use tch::{Device, Tensor};

/// The adapter weights' file name in a PEFT folder.
pub const PEFT_WEIGHTS: &str = "adapter_model.safetensors";
/// The adapter config's file name in a PEFT folder.
pub const PEFT_CONFIG: &str = "adapter_config.json";

/// What a PEFT export needs to know besides the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeftOptions {
    /// The base model's module prefix inside the task model (`bert`, `roberta`); empty for none.
    pub base_model_prefix: String,
    /// `base_model_name_or_path`: the model the adapter is loaded onto.
    pub base_model_name_or_path: String,
    /// PEFT `task_type`, e.g. `SEQ_CLS`.
    pub task_type: String,
    /// PEFT `modules_to_save` (e.g. `classifier`); pass their tensors as extra tensors.
    pub modules_to_save: Vec<String>,
}

impl PeftOptions {
    /// Options for sequence classification (`task_type = SEQ_CLS`), no modules to save.
    pub fn seq_cls(base_model_prefix: &str, base_model_name_or_path: &str) -> Self {
        Self {
            base_model_prefix: base_model_prefix.to_string(),
            base_model_name_or_path: base_model_name_or_path.to_string(),
            task_type: "SEQ_CLS".to_string(),
            modules_to_save: Vec::new(),
        }
    }

    /// Options for a causal LM (`task_type = CAUSAL_LM`): module paths as they are
    /// (`model.layers.0.self_attn.q_proj`), no modules to save.
    pub fn causal_lm(base_model_name_or_path: &str) -> Self {
        Self {
            base_model_prefix: String::new(),
            base_model_name_or_path: base_model_name_or_path.to_string(),
            task_type: "CAUSAL_LM".to_string(),
            modules_to_save: Vec::new(),
        }
    }

    /// The module path in the task model: `<prefix>.<name>`.
    fn module_path(&self, name: &str) -> String {
        if self.base_model_prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.base_model_prefix)
        }
    }
}

impl AdapterSet {
    /// Writes a PEFT LoRA folder to `dir` (created if needed): per adapted matrix
    /// `base_model.model.<prefix>.<m>.lora_A.weight` `[r, d_in]` (zero outside C) and
    /// `.lora_B.weight` `[d_out, r]` (zero outside R), and each `(name, tensor)` of
    /// `extra_tensors` as `base_model.model.<name>` (e.g. `classifier.weight`, a path in the
    /// task model). `target_modules` lists the adapted matrices' full module paths, so PEFT
    /// adapts exactly those.
    pub fn to_peft(
        &self,
        dir: &Path,
        options: &PeftOptions,
        extra_tensors: &[(String, Tensor)],
    ) -> Result<(), AdapterError> {
        std::fs::create_dir_all(dir).map_err(|source| AdapterError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut tensors = Vec::new();
        for m in self.matrices() {
            let key = format!("base_model.model.{}", options.module_path(m.name()));
            let (a, b) = tch::no_grad(|| m.dense_factors());
            tensors.push((format!("{key}.lora_A.weight"), a));
            tensors.push((format!("{key}.lora_B.weight"), b));
        }
        for (name, tensor) in extra_tensors {
            tensors.push((format!("base_model.model.{name}"), tensor.detach()));
        }
        let tensors: Vec<(String, Tensor)> = tensors
            .into_iter()
            .map(|(key, t)| (key, t.to_device(Device::Cpu).contiguous()))
            .collect();
        Tensor::write_safetensors(&tensors, dir.join(PEFT_WEIGHTS))?;
        let path = dir.join(PEFT_CONFIG);
        let config = serde_json::to_string_pretty(&self.peft_config(options))
            .expect("a JSON value serialises");
        write_atomic(&path, config.as_bytes()).map_err(|source| AdapterError::Io { path, source })
    }

    /// The `adapter_config.json` content.
    fn peft_config(&self, options: &PeftOptions) -> serde_json::Value {
        let scaling = self.scaling();
        let target_modules: Vec<String> = self
            .matrices()
            .iter()
            .map(|m| options.module_path(m.name()))
            .collect();
        let modules_to_save =
            (!options.modules_to_save.is_empty()).then_some(&options.modules_to_save);
        serde_json::json!({
            "peft_type": "LORA",
            "task_type": options.task_type,
            "base_model_name_or_path": options.base_model_name_or_path,
            "r": scaling.rank,
            "lora_alpha": scaling.alpha,
            "use_rslora": scaling.rslora,
            "target_modules": target_modules,
            "modules_to_save": modules_to_save,
            "lora_dropout": 0.0,
            "bias": "none",
            "fan_in_fan_out": false,
            "init_lora_weights": true,
            "inference_mode": true,
            "rank_pattern": {},
            "alpha_pattern": {},
        })
    }
}
