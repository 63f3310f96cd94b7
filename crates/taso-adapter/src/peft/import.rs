//! Reading a PEFT LoRA folder back as a compact [`AdapterSet`].

use super::{PEFT_CONFIG, PEFT_PREFIX, PEFT_WEIGHTS};
use crate::config::{LoraForm, Scaling};
use crate::error::AdapterError;
use crate::matrix::MatrixAdapter;
use crate::set::AdapterSet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use taso_artifact::{MatrixRegion, SafetensorsFile, Target};
use tch::{Device, Kind, Tensor};

/// The fields of `adapter_config.json` that decide what the weights mean; the rest (dropout,
/// `inference_mode`, ...) do not change the adapted model and are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeftConfig {
    /// `LORA` (anything else is refused).
    pub peft_type: String,
    /// `SEQ_CLS`, `CAUSAL_LM`, ...
    #[serde(default)]
    pub task_type: Option<String>,
    /// The model the adapter was trained on.
    #[serde(default)]
    pub base_model_name_or_path: Option<String>,
    /// LoRA rank r.
    pub r: usize,
    /// LoRA α.
    pub lora_alpha: f64,
    /// Whether `s = α / √r` (else `α / r`).
    #[serde(default)]
    pub use_rslora: bool,
    /// Modules trained in full and saved beside the adapter (a classifier head).
    #[serde(default)]
    pub modules_to_save: Option<Vec<String>>,
    /// Conv1D-style transposed weights (GPT-2): refused.
    #[serde(default)]
    pub fan_in_fan_out: bool,
    /// DoRA: refused.
    #[serde(default)]
    pub use_dora: bool,
    /// Per-matrix ranks: refused unless every entry is `r`.
    #[serde(default)]
    pub rank_pattern: BTreeMap<String, serde_json::Value>,
    /// Per-matrix α: refused unless every entry is `lora_alpha`.
    #[serde(default)]
    pub alpha_pattern: BTreeMap<String, serde_json::Value>,
}

/// A PEFT folder read back: the adapter, compact, and every other tensor it saved.
#[derive(Debug)]
pub struct PeftAdapter {
    /// One compact matrix adapter per adapted module, ordered by name with layer numbers
    /// compared as numbers (reorder with [`AdapterSet::in_model_order`]). Kept rows are the
    /// rows of B that are not all zero and kept columns the columns of A that are not all
    /// zero; where a factor is all zero (an untrained B), every row or column is kept.
    pub adapters: AdapterSet,
    /// The other tensors (`modules_to_save`, e.g. `classifier.weight`), named by their path in
    /// the task model (PEFT's `base_model.model.` prefix removed), in f32.
    pub saved_tensors: Vec<(String, Tensor)>,
    /// The folder's `adapter_config.json`.
    pub config: PeftConfig,
}

impl AdapterSet {
    /// Reads the PEFT LoRA folder `dir` (`adapter_config.json` and
    /// `adapter_model.safetensors`, as `PeftModel.save_pretrained` writes them; f32, f16 or
    /// bf16) onto `device`. `base_model_prefix` (`bert`, `roberta`; empty for decoders) is
    /// removed from the module paths, so matrices are named as in taso's models — the same
    /// rule as [`to_peft`](Self::to_peft), which this inverts exactly: an exported adapter
    /// reads back with the same regions and factors, bit for bit.
    ///
    /// Refused with one line naming the file: a missing or malformed file, a PEFT type other
    /// than LoRA, DoRA, embedding LoRA, transposed (`fan_in_fan_out`) weights, per-matrix ranks
    /// or α, factors whose rank is not `r`, a module with one factor, NaN or infinite values.
    pub fn from_peft(
        dir: &Path,
        base_model_prefix: &str,
        device: Device,
    ) -> Result<PeftAdapter, AdapterError> {
        let config = read_config(dir)?;
        let weights = dir.join(PEFT_WEIGHTS);
        let file = SafetensorsFile::open(&weights).map_err(|e| {
            bad(
                &weights,
                format!("{e}; write it with `PeftModel.save_pretrained`"),
            )
        })?;
        let mut factors: BTreeMap<String, [Option<Tensor>; 2]> = BTreeMap::new();
        let mut saved_tensors = Vec::new();
        for key in file.tensor_names() {
            let path = key.strip_prefix(PEFT_PREFIX).ok_or_else(|| {
                bad(&weights, format!("tensor `{key}` does not start with `{PEFT_PREFIX}`, so it is not a PEFT weight"))
            })?;
            let tensor = read_f32(&file, key)?;
            match factor_of(path) {
                Some((module, slot)) => {
                    let module = strip_prefix(module, base_model_prefix);
                    factors.entry(module.to_string()).or_default()[slot] = Some(tensor);
                }
                None if is_unsupported(path) => {
                    return Err(bad(
                        &weights,
                        format!(
                        "tensor `{key}` belongs to a LoRA variant taso does not read (embedding \
                         LoRA, DoRA, LoRA biases); adapt linear layers only"
                    ),
                    ))
                }
                None => saved_tensors.push((path.to_string(), tensor)),
            }
        }
        let mut matrices = factors
            .into_iter()
            .map(|(module, [a, b])| compact_matrix(&weights, &config, module, a, b, device))
            .collect::<Result<Vec<_>, _>>()?;
        matrices.sort_by_cached_key(|m| natural_key(m.name()));
        let scaling = Scaling {
            rank: config.r,
            alpha: config.lora_alpha,
            rslora: config.use_rslora,
        };
        let adapters = AdapterSet::new(scaling, LoraForm::Compact, matrices)
            .map_err(|e| bad(&weights, e.to_string()))?;
        Ok(PeftAdapter {
            adapters,
            saved_tensors,
            config,
        })
    }
}

/// Reads and checks `adapter_config.json`.
fn read_config(dir: &Path) -> Result<PeftConfig, AdapterError> {
    let path = dir.join(PEFT_CONFIG);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        bad(
            &path,
            format!(
            "cannot read it ({e}); a PEFT LoRA folder holds {PEFT_CONFIG} and {PEFT_WEIGHTS}, as \
             `PeftModel.save_pretrained` writes them"
        ),
        )
    })?;
    let config: PeftConfig = serde_json::from_str(&text)
        .map_err(|e| bad(&path, format!("not a PEFT adapter config: {e}")))?;
    let refuse = |reason: &str| Err(bad(&path, reason.to_string()));
    if config.peft_type != "LORA" {
        return refuse(&format!(
            "peft_type is `{}`; only LoRA adapters (`LORA`) can be imported",
            config.peft_type
        ));
    }
    if config.use_dora {
        return refuse("use_dora is true; DoRA adapters cannot be imported, only plain LoRA");
    }
    if config.fan_in_fan_out {
        return refuse(
            "fan_in_fan_out is true (Conv1D weights, GPT-2 style); taso's models use nn.Linear",
        );
    }
    if config.r == 0 || !config.lora_alpha.is_finite() {
        return refuse("r must be positive and lora_alpha finite");
    }
    let differs = |pattern: &BTreeMap<String, serde_json::Value>, value: f64| {
        pattern.values().any(|v| v.as_f64() != Some(value))
    };
    if differs(&config.rank_pattern, config.r as f64)
        || differs(&config.alpha_pattern, config.lora_alpha)
    {
        return refuse(
            "rank_pattern or alpha_pattern gives matrices their own rank or α; a taso adapter has \
             one rank and α for all matrices",
        );
    }
    Ok(config)
}

/// `(module, 0)` for `<module>.lora_A.weight`, `(module, 1)` for `.lora_B.weight`.
fn factor_of(path: &str) -> Option<(&str, usize)> {
    [".lora_A.weight", ".lora_B.weight"]
        .iter()
        .enumerate()
        .find_map(|(slot, suffix)| path.strip_suffix(suffix).map(|module| (module, slot)))
}

/// Tensors of LoRA variants an [`AdapterSet`] cannot hold.
fn is_unsupported(path: &str) -> bool {
    [
        "lora_embedding_A",
        "lora_embedding_B",
        "lora_magnitude_vector",
        "lora_A.",
        "lora_B.",
    ]
    .iter()
    .any(|part| path.contains(part))
}

fn strip_prefix<'a>(module: &'a str, prefix: &str) -> &'a str {
    if prefix.is_empty() {
        return module;
    }
    module
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(module)
}

/// One module's factors as a compact adapter on the rows of B and columns of A that are not
/// all zero.
fn compact_matrix(
    weights: &Path,
    config: &PeftConfig,
    module: String,
    a: Option<Tensor>,
    b: Option<Tensor>,
    device: Device,
) -> Result<MatrixAdapter, AdapterError> {
    let (Some(a), Some(b)) = (a, b) else {
        return Err(bad(
            weights,
            format!("`{module}` has only one of lora_A and lora_B"),
        ));
    };
    let (a_size, b_size) = (a.size(), b.size());
    let rank = config.r as i64;
    if a_size.len() != 2 || b_size.len() != 2 || a_size[0] != rank || b_size[1] != rank {
        return Err(bad(
            weights,
            format!(
                "`{module}` has lora_A {a_size:?} and lora_B {b_size:?}, not the [r, d_in] and \
             [d_out, r] of r = {rank} that {PEFT_CONFIG} says"
            ),
        ));
    }
    let rows = nonzero(&b, 1);
    let cols = nonzero(&a, 0);
    let target = Target {
        name: module,
        d_out: b_size[0] as usize,
        d_in: a_size[1] as usize,
    };
    let a = a
        .index_select(1, &Tensor::from_slice(&cols))
        .to_device(device);
    let b = b
        .index_select(0, &Tensor::from_slice(&rows))
        .to_device(device);
    let region = MatrixRegion { target, rows, cols };
    MatrixAdapter::new(region, LoraForm::Compact, config.r, a, b)
}

/// The indices along the other axis than `reduce` whose slice has a non-zero entry; all of
/// them when every entry is zero.
fn nonzero(factor: &Tensor, reduce: i64) -> Vec<i64> {
    let any = factor.ne(0.0).any_dim(reduce, false);
    let kept: Vec<i64> = Vec::try_from(any.nonzero().view([-1])).unwrap_or_default();
    if kept.is_empty() {
        (0..any.size()[0]).collect()
    } else {
        kept
    }
}

/// A tensor of the file as f32, refusing NaN and infinities.
fn read_f32(file: &SafetensorsFile, key: &str) -> Result<Tensor, AdapterError> {
    let tensor = file.tensor(key)?.to_tch()?;
    if !tensor.is_floating_point() {
        return Err(bad(
            file.path(),
            format!("tensor `{key}` is {:?}, not floating point", tensor.kind()),
        ));
    }
    let tensor = tensor.to_kind(Kind::Float);
    if !bool::try_from(tensor.isfinite().all())? {
        return Err(bad(
            file.path(),
            format!("tensor `{key}` holds NaN or infinite values"),
        ));
    }
    Ok(tensor)
}

/// A sort key that compares the numbers in a module path as numbers (`layer.2` before
/// `layer.10`).
fn natural_key(name: &str) -> Vec<(u64, String)> {
    name.split('.')
        .map(|part| match part.parse::<u64>() {
            Ok(n) => (n, String::new()),
            Err(_) => (u64::MAX, part.to_string()),
        })
        .collect()
}

fn bad(path: &Path, reason: String) -> AdapterError {
    AdapterError::BadPeft {
        path: PathBuf::from(path),
        reason,
    }
}
