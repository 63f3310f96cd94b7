//! Writing an [`AdapterSet`] as a PEFT LoRA folder.

use super::{PeftOptions, PEFT_CONFIG, PEFT_PREFIX, PEFT_WEIGHTS};
use crate::error::AdapterError;
use crate::set::AdapterSet;
use std::path::Path;
use taso_artifact::write_atomic;
use tch::{Device, Tensor};

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
            let key = format!("{PEFT_PREFIX}{}", options.module_path(m.name()));
            let (a, b) = tch::no_grad(|| m.dense_factors());
            tensors.push((format!("{key}.lora_A.weight"), a));
            tensors.push((format!("{key}.lora_B.weight"), b));
        }
        for (name, tensor) in extra_tensors {
            tensors.push((format!("{PEFT_PREFIX}{name}"), tensor.detach()));
        }
        let tensors: Vec<(String, Tensor)> = tensors
            .into_iter()
            .map(|(key, t)| (key, t.to_device(Device::Cpu).contiguous()))
            .collect();
        // Written beside and renamed into place, so a crash leaves no half-written weights.
        let weights = dir.join(PEFT_WEIGHTS);
        let partial = dir.join(format!(".{PEFT_WEIGHTS}.partial"));
        Tensor::write_safetensors(&tensors, &partial)?;
        std::fs::rename(&partial, &weights).map_err(|source| AdapterError::Io {
            path: weights,
            source,
        })?;
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
