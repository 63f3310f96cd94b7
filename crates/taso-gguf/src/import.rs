//! Importing a GGUF file into a Hugging Face folder: everything is checked first, then the
//! folder is built beside `OUT_DIR` and renamed into place, so a failed import leaves nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tokenizers::Tokenizer;

use crate::config::ModelConfig;
use crate::dequant::dequantize;
use crate::error::GgufError;
use crate::ggml_type::GgmlType;
use crate::names::{required_tensors, tensor_role, unpermute_rows, TensorRole};
use crate::output_dir::{check_output_dir, StagingDir};
use crate::reader::{GgufFile, TensorInfo};
use crate::safetensors_out::write_f32_safetensors;
use crate::tokenizer::Vocabulary;

/// What an import wrote.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    /// The folder written.
    pub out_dir: PathBuf,
    /// The model's hyperparameters.
    pub config: ModelConfig,
    /// Tensors written to `model.safetensors`.
    pub tensor_count: usize,
    /// Total number of values written.
    pub parameter_count: u64,
    /// How many source tensors had each ggml type.
    pub source_types: BTreeMap<&'static str, usize>,
    /// `sha256:<hex>` of the GGUF file.
    pub source_digest: String,
}

/// One tensor to write: where it comes from and what it becomes.
struct PlannedTensor<'a> {
    source: &'a TensorInfo,
    ty: GgmlType,
    hf_name: String,
    shape: Vec<usize>,
    unpermute_heads: Option<usize>,
}

/// Imports the GGUF file at `gguf_path` into `out_dir` (config.json, model.safetensors,
/// tokenizer.json, tokenizer_config.json, generation_config.json, taso-import.json).
/// An existing non-empty `out_dir` is refused unless `force`, in which case it is replaced
/// only once the new folder is complete.
pub fn import_gguf(
    gguf_path: &Path,
    out_dir: &Path,
    force: bool,
) -> Result<ImportSummary, GgufError> {
    check_output_dir(out_dir, force)?;
    let gguf = GgufFile::open(gguf_path)?;
    let vocabulary = Vocabulary::from_metadata(&gguf.metadata)?;
    let config = ModelConfig::from_metadata(
        &gguf.metadata,
        vocabulary.tokens.len() as u64,
        gguf.tensor("output.weight").is_some(),
    )?;
    let plan = plan_tensors(&gguf, &config)?;
    let tokenizer = vocabulary.to_tokenizer(config.special)?;

    let staging = StagingDir::create_beside(out_dir)?;
    write_weights(&staging, &gguf, &plan)?;
    write_tokenizer_files(&staging, &gguf, &vocabulary, &tokenizer, &config)?;
    staging.write_json("config.json", &config.to_hf_config())?;
    staging.write_json("generation_config.json", &config.to_generation_config())?;
    let summary = ImportSummary {
        out_dir: out_dir.to_path_buf(),
        tensor_count: plan.len(),
        parameter_count: plan.iter().map(|t| t.source.element_count()).sum(),
        source_types: source_types(&plan),
        source_digest: taso_artifact::file_digest(gguf_path)
            .map_err(|e| GgufError::io(gguf_path, std::io::Error::other(e)))?,
        config,
    };
    staging.write_json("taso-import.json", &provenance(&gguf, &summary))?;
    staging.replace(out_dir, force)?;
    Ok(summary)
}

/// `model.safetensors`: every planned tensor as f32, dequantised one at a time.
fn write_weights(
    staging: &StagingDir,
    gguf: &GgufFile,
    plan: &[PlannedTensor],
) -> Result<(), GgufError> {
    let path = staging.path().join("model.safetensors");
    write_f32_safetensors(&path, &tensor_list(plan), |index| {
        tensor_values(gguf, &plan[index])
    })
}

/// `tokenizer.json` and `tokenizer_config.json`.
fn write_tokenizer_files(
    staging: &StagingDir,
    gguf: &GgufFile,
    vocabulary: &Vocabulary,
    tokenizer: &Tokenizer,
    config: &ModelConfig,
) -> Result<(), GgufError> {
    let json = tokenizer
        .to_string(false)
        .map_err(|e| GgufError::Tokenizer {
            reason: e.to_string(),
        })?;
    staging.write("tokenizer.json", json.as_bytes())?;
    let chat_template = gguf.metadata.opt_str("tokenizer.chat_template")?;
    let tokenizer_config = vocabulary.tokenizer_config(
        config.special,
        chat_template,
        config.max_position_embeddings,
    );
    staging.write_json("tokenizer_config.json", &tokenizer_config)
}

/// Maps every tensor, checks its type and the presence of every tensor the model needs.
fn plan_tensors<'a>(
    gguf: &'a GgufFile,
    config: &ModelConfig,
) -> Result<Vec<PlannedTensor<'a>>, GgufError> {
    let architecture = config.architecture.name();
    let mut plan = Vec::new();
    for source in &gguf.tensors {
        let (hf_name, unpermute_heads) =
            match tensor_role(&source.name, architecture, config.permuted_heads())? {
                TensorRole::Copy(name) => (name, None),
                TensorRole::Unpermute(name, heads) => (name, Some(heads)),
                TensorRole::Skip => continue,
            };
        plan.push(PlannedTensor {
            source,
            ty: source.ggml_type()?,
            hf_name,
            shape: source.row_major_shape(),
            unpermute_heads,
        });
    }
    check_required_tensors(gguf, config)?;
    check_embedding_shape(gguf, config)?;
    plan.sort_by(|a, b| a.hf_name.cmp(&b.hf_name));
    Ok(plan)
}

/// The token embedding must be `[vocab_size, hidden_size]`.
fn check_embedding_shape(gguf: &GgufFile, config: &ModelConfig) -> Result<(), GgufError> {
    let embedding = gguf
        .tensor("token_embd.weight")
        .expect("checked as required");
    let expected = [config.vocab_size as usize, config.hidden_size as usize];
    if embedding.row_major_shape() != expected {
        return Err(GgufError::BadShape {
            tensor: embedding.name.clone(),
            reason: format!(
                "it is {:?}, but the metadata says vocab_size × hidden_size = {expected:?}",
                embedding.row_major_shape()
            ),
        });
    }
    Ok(())
}

/// Fails on the first GGUF tensor the model cannot do without that the file lacks.
fn check_required_tensors(gguf: &GgufFile, config: &ModelConfig) -> Result<(), GgufError> {
    match required_tensors(config.architecture, config.num_hidden_layers)
        .find(|name| gguf.tensor(name).is_none())
    {
        Some(name) => Err(GgufError::MissingTensor { name }),
        None => Ok(()),
    }
}

/// The Hugging Face names and shapes of the planned tensors, in order.
fn tensor_list(plan: &[PlannedTensor]) -> Vec<(String, Vec<usize>)> {
    plan.iter()
        .map(|t| (t.hf_name.clone(), t.shape.clone()))
        .collect()
}

/// The f32 values of one planned tensor, in Hugging Face layout.
fn tensor_values(gguf: &GgufFile, tensor: &PlannedTensor) -> Result<Vec<f32>, GgufError> {
    let values = dequantize(tensor.ty, &gguf.tensor_bytes(tensor.source)?);
    match tensor.unpermute_heads {
        Some(heads) => unpermute_rows(&values, tensor.shape[0], heads, &tensor.source.name),
        None => Ok(values),
    }
}

fn source_types(plan: &[PlannedTensor]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for tensor in plan {
        *counts.entry(tensor.ty.name()).or_insert(0) += 1;
    }
    counts
}

/// `taso-import.json`: where the folder came from.
fn provenance(gguf: &GgufFile, summary: &ImportSummary) -> Value {
    let file_name = gguf
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    json!({
        "importer": concat!("taso-import-gguf ", env!("CARGO_PKG_VERSION")),
        "source_file": file_name,
        "source_sha256": summary.source_digest.trim_start_matches("sha256:"),
        "gguf_version": gguf.version,
        "architecture": summary.config.architecture.name(),
        "source_tensor_types": summary.source_types,
        "tensor_count": summary.tensor_count,
        "parameter_count": summary.parameter_count,
    })
}
