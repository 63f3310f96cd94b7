//! A trained adapter merged into its base model, written as a Hugging Face model folder that
//! `from_pretrained` loads (and `taso-export-gguf` turns into GGUF for decoders).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use taso_artifact::{write_safetensors, StagingDir, TensorData};
use taso_data::{AnyTask, LabelSpec};
use taso_models::{ComputeDtype, TaskModel};
use tch::Tensor;

use crate::context::RunContext;
use crate::error::RunError;
use crate::trained::TrainedModel;

/// The weights file of an exported folder.
pub const MERGED_WEIGHTS: &str = "model.safetensors";
/// The provenance file of an exported folder.
pub const EXPORT_RECORD: &str = "taso-export.json";

/// Files of the base model folder copied as they are: tokenizer, chat template and generation
/// settings.
const CARRIED_FILES: [&str; 14] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "chat_template.jinja",
    "chat_template.json",
    "generation_config.json",
    "taso-import.json",
];

/// What [`export_merged`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedExport {
    /// The folder.
    pub dir: PathBuf,
    /// Tensors in `model.safetensors`.
    pub tensors: usize,
    /// Parameters in `model.safetensors`.
    pub params: usize,
    /// The files written, in order.
    pub files: Vec<String>,
}

/// Loads `ctx`'s base model with the trained `adapter` file merged into its weights
/// (`W[R, C] += s·B A`, as `taso-eval --set eval.merged=true` evaluates it) and writes the whole
/// model to `out` as a Hugging Face folder: `config.json`, `model.safetensors` (in the run's
/// compute dtype), the tokenizer and generation files of the base folder, and
/// `taso-export.json` (what was merged). An encoder's folder is a
/// `BertForSequenceClassification` / `RobertaForSequenceClassification` with the trained head
/// and the task's label names (`id2label`; `problem_type` regression for regression tasks);
/// a decoder's keeps its `*ForCausalLM` config. The folder is built beside `out` and renamed into
/// place when complete; an `out` that holds anything is refused unless `force`.
pub fn export_merged(
    ctx: &RunContext,
    adapter: &Path,
    out: &Path,
    force: bool,
) -> Result<MergedExport, RunError> {
    if !force && !taso_artifact::is_absent_or_empty(out).map_err(|e| RunError::io(out, e))? {
        return Err(RunError::OutputExists(out.to_path_buf()));
    }
    let trained = TrainedModel::load(ctx, adapter, true)?;
    let staging = StagingDir::create_beside(out, "export").map_err(|e| RunError::io(out, e))?;
    let dir = staging.path();
    let weights = model_tensors(&trained.model)?;
    let params = weights
        .iter()
        .map(|(_, t)| t.shape.iter().product::<usize>())
        .sum();
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    write_safetensors(&dir.join(MERGED_WEIGHTS), metadata, &weights)?;
    let mut files = vec![MERGED_WEIGHTS.to_string()];
    let config = exported_config(ctx, &trained.model)?;
    write_json(&dir.join("config.json"), &config)?;
    files.push("config.json".to_string());
    for name in CARRIED_FILES {
        let source = ctx.run.model.join(name);
        if source.is_file() {
            fs::copy(&source, dir.join(name)).map_err(|e| RunError::io(&source, e))?;
            files.push(name.to_string());
        }
    }
    let record = json!({
        "base_model": ctx.run.model,
        "base_fingerprint": ctx.fingerprint,
        "adapter": adapter,
        "adapter_digest": trained.artifact.digest,
        "method": trained.method,
        "task": ctx.task.name(),
        "merged_matrices": trained.adapters.as_ref().map_or(0, |a| a.matrices().len()),
        "dtype": ctx.run.dtype,
        "producer": concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION")),
    });
    write_json(&dir.join(EXPORT_RECORD), &record)?;
    files.push(EXPORT_RECORD.to_string());
    staging.replace(out, force).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => RunError::OutputExists(out.to_path_buf()),
        _ => RunError::io(out, e),
    })?;
    Ok(MergedExport {
        dir: out.to_path_buf(),
        tensors: weights.len(),
        params,
        files,
    })
}

/// Every parameter of the (merged) model under its Hugging Face name: the encoder's with the
/// task model's prefix (`bert.`) and the head's, or the decoder's and an untied `lm_head`.
fn model_tensors(model: &TaskModel) -> Result<Vec<(String, TensorData)>, RunError> {
    let named: Vec<(String, &Tensor)> = match model {
        TaskModel::Classifier(m) => {
            let prefix = m.encoder.config().arch().prefix();
            let encoder = m.encoder.named_parameters().iter();
            encoder
                .map(|(name, t)| (format!("{prefix}.{name}"), t))
                .chain(
                    m.head_parameters()
                        .iter()
                        .map(|(name, t)| (name.clone(), t)),
                )
                .collect()
        }
        TaskModel::CausalLm(m) => m
            .decoder
            .named_parameters()
            .iter()
            .chain(m.head_parameters())
            .map(|(name, t)| (name.clone(), t))
            .collect(),
    };
    named
        .into_iter()
        .map(|(name, tensor)| Ok((name, TensorData::from_tch(&tensor.detach())?)))
        .collect()
}

/// The base folder's `config.json`, made a sequence classifier of the task's labels for an
/// encoder; `torch_dtype` says what the weights file holds.
fn exported_config(ctx: &RunContext, model: &TaskModel) -> Result<Value, RunError> {
    let path = ctx.run.model.join("config.json");
    let text = fs::read_to_string(&path).map_err(|e| RunError::io(&path, e))?;
    let mut config: Value = serde_json::from_str(&text).map_err(|e| RunError::BadArtifact {
        path: path.clone(),
        reason: format!("not JSON ({e}); restore the model folder"),
    })?;
    config["torch_dtype"] = json!(torch_name(ctx.run.dtype));
    if let (TaskModel::Classifier(m), AnyTask::Classification(task)) = (model, &ctx.task) {
        let architecture = match m.encoder.config().arch().prefix() {
            "roberta" => "RobertaForSequenceClassification",
            _ => "BertForSequenceClassification",
        };
        config["architectures"] = json!([architecture]);
        let names: Vec<String> = match &task.labels {
            LabelSpec::Classes { names } => names.clone(),
            LabelSpec::Regression => vec!["score".to_string()],
        };
        let id2label: serde_json::Map<String, Value> = names
            .iter()
            .enumerate()
            .map(|(id, name)| (id.to_string(), json!(name)))
            .collect();
        let label2id: serde_json::Map<String, Value> = names
            .iter()
            .enumerate()
            .map(|(id, name)| (name.clone(), json!(id)))
            .collect();
        config["id2label"] = Value::Object(id2label);
        config["label2id"] = Value::Object(label2id);
        config["problem_type"] = json!(if task.labels.is_regression() {
            "regression"
        } else {
            "single_label_classification"
        });
    }
    Ok(config)
}

/// PyTorch's name of a compute dtype, as `config.json` spells it.
fn torch_name(dtype: ComputeDtype) -> &'static str {
    match dtype {
        ComputeDtype::F32 => "float32",
        ComputeDtype::Bf16 => "bfloat16",
        ComputeDtype::F16 => "float16",
    }
}

fn write_json(path: &Path, value: &Value) -> Result<(), RunError> {
    let mut text = serde_json::to_string_pretty(value).expect("a JSON value serialises");
    text.push('\n');
    fs::write(path, text).map_err(|e| RunError::io(path, e))
}
