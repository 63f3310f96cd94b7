//! Hugging Face PEFT LoRA folders (`adapter_model.safetensors` and `adapter_config.json`):
//! export ([`AdapterSet::to_peft`]) and import ([`AdapterSet::from_peft`]).
//!
//! Both are lossless: a sparse adapter is a dense LoRA whose A is zero outside the kept columns
//! C and whose B is zero outside the kept rows R; that is what is written, and what is read back
//! is compacted again to the rows of B and columns of A that are not all zero.

mod export;
mod import;

pub use import::{PeftAdapter, PeftConfig};

#[cfg(doc)]
use crate::AdapterSet;

/// The adapter weights' file name in a PEFT folder.
pub const PEFT_WEIGHTS: &str = "adapter_model.safetensors";
/// The adapter config's file name in a PEFT folder.
pub const PEFT_CONFIG: &str = "adapter_config.json";
/// The prefix PEFT puts before every module path in its weights file.
const PEFT_PREFIX: &str = "base_model.model.";

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
    pub(crate) fn module_path(&self, name: &str) -> String {
        if self.base_model_prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.base_model_prefix)
        }
    }
}
