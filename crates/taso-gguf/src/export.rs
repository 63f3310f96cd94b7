//! Exporting a Hugging Face llama/qwen2 folder as a GGUF file: everything is read and checked
//! first, then the file is written beside `OUT` one tensor at a time and renamed into place, so
//! that a failed export leaves nothing.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::config::ModelConfig;
use crate::error::GgufError;
use crate::ggml_type::GgmlType;
use crate::hf_tokenizer::HfTokenizer;
use crate::metadata::MetadataValue;
use crate::model_files::{read_json, SafetensorsFile};
use crate::names::{
    export_role, permute_rows, required_tensors, tensor_role, ExportRole, TensorRole,
};
use crate::output_dir::{check_output_file, StagingFile};
use crate::quantize::quantize;
use crate::writer::{GgufStream, TensorHeader};

/// The GGUF version written.
const GGUF_VERSION: u32 = 3;
/// `general.quantization_version`: ggml's `GGML_QNT_VERSION`, which llama.cpp writes always.
const QUANTIZATION_VERSION: u32 = 2;

/// The type of the weight matrices of an exported file (vectors stay F32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GgufOutType {
    /// 32-bit floats: an exact copy of F32 (and BF16, F16) weights.
    F32,
    /// IEEE half floats.
    F16,
    /// 8-bit blocks of 32 with an f16 scale (F16 for matrices whose rows do not split into 32).
    Q8_0,
}

impl GgufOutType {
    /// llama.cpp's `general.file_type` (`LLAMA_FTYPE_ALL_F32`, `MOSTLY_F16`, `MOSTLY_Q8_0`).
    pub fn file_type(self) -> u32 {
        match self {
            GgufOutType::F32 => 0,
            GgufOutType::F16 => 1,
            GgufOutType::Q8_0 => 7,
        }
    }

    /// The ggml type of the matrices.
    pub fn ggml_type(self) -> GgmlType {
        match self {
            GgufOutType::F32 => GgmlType::F32,
            GgufOutType::F16 => GgmlType::F16,
            GgufOutType::Q8_0 => GgmlType::Q8_0,
        }
    }

    /// The name on the command line: `f32`, `f16`, `q8_0`.
    pub fn name(self) -> &'static str {
        match self {
            GgufOutType::F32 => "f32",
            GgufOutType::F16 => "f16",
            GgufOutType::Q8_0 => "q8_0",
        }
    }
}

impl fmt::Display for GgufOutType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for GgufOutType {
    type Err = String;

    /// `f32`, `f16` or `q8_0`, in any case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [GgufOutType::F32, GgufOutType::F16, GgufOutType::Q8_0]
            .into_iter()
            .find(|ty| ty.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("unknown GGUF type '{text}'; use f16, q8_0 or f32"))
    }
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    /// The file written.
    pub out: PathBuf,
    /// The model's hyperparameters, special ids included.
    pub config: ModelConfig,
    /// The type asked for.
    pub out_type: GgufOutType,
    /// Tensors written.
    pub tensor_count: usize,
    /// Total number of values written.
    pub parameter_count: u64,
    /// How many tensors were written in each ggml type.
    pub tensor_types: BTreeMap<&'static str, usize>,
    /// Size of the file in bytes.
    pub file_bytes: u64,
}

/// One tensor to write: where it comes from and what it becomes.
struct PlannedTensor {
    hf_name: String,
    header: TensorHeader,
    ty: GgmlType,
    rows: usize,
    permute_heads: Option<usize>,
}

/// Exports the Hugging Face folder `model_dir` (config.json, model.safetensors in F32, BF16 or
/// F16, tokenizer.json, tokenizer_config.json) of a llama or qwen2 model as the GGUF v3 file
/// `out`, matrices in `out_type`. An existing `out` is refused unless `force`, in which case it
/// is replaced only once the new file is complete.
pub fn export_gguf(
    model_dir: &Path,
    out: &Path,
    out_type: GgufOutType,
    force: bool,
) -> Result<ExportSummary, GgufError> {
    check_output_file(out, force)?;
    let config_path = model_dir.join("config.json");
    let hf_config = read_json(&config_path)?;
    let mut config = ModelConfig::from_hf_config(&hf_config, &config_path)?;
    let tokenizer = HfTokenizer::read(model_dir, &hf_config, config.vocab_size)?;
    config.special = tokenizer.special;
    let weights = SafetensorsFile::open(&model_dir.join("model.safetensors"))?;
    let plan = plan_tensors(&weights, &config, out_type)?;
    let mut metadata = general_metadata(model_dir, &config, out_type);
    metadata.extend(config.to_gguf_metadata());
    metadata.extend(tokenizer.to_metadata());

    let staging = StagingFile::create_beside(out)?;
    write_gguf(&staging, &metadata, &weights, &plan)?;
    let file_bytes = staging
        .file()
        .metadata()
        .map_err(|e| GgufError::io(staging.path(), e))?
        .len();
    staging.persist(out, force)?;
    Ok(ExportSummary {
        out: out.to_path_buf(),
        config,
        out_type,
        tensor_count: plan.len(),
        parameter_count: plan
            .iter()
            .map(|t| t.header.dims.iter().product::<u64>())
            .sum(),
        tensor_types: tensor_types(&plan),
        file_bytes,
    })
}

/// `general.*`: architecture, name (the folder's), file type, quantisation version.
fn general_metadata(
    model_dir: &Path,
    config: &ModelConfig,
    out_type: GgufOutType,
) -> Vec<(String, MetadataValue)> {
    let name = model_dir
        .canonicalize()
        .ok()
        .and_then(|dir| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".to_string());
    [
        (
            "general.architecture",
            MetadataValue::String(config.architecture.name().to_string()),
        ),
        ("general.name", MetadataValue::String(name)),
        (
            "general.file_type",
            MetadataValue::U32(out_type.file_type()),
        ),
        (
            "general.quantization_version",
            MetadataValue::U32(QUANTIZATION_VERSION),
        ),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect()
}

/// Maps every tensor of the safetensors file, checks the presence of every tensor the model
/// needs, and orders them as llama.cpp lists them.
fn plan_tensors(
    weights: &SafetensorsFile,
    config: &ModelConfig,
    out_type: GgufOutType,
) -> Result<Vec<PlannedTensor>, GgufError> {
    let mut plan = Vec::new();
    for (hf_name, shape) in weights.tensors() {
        plan.extend(plan_tensor(
            weights.path(),
            hf_name,
            shape,
            config,
            out_type,
        )?);
    }
    check_required_tensors(&plan, config).map_err(|reason| GgufError::InvalidModelFile {
        path: weights.path().to_path_buf(),
        reason,
    })?;
    plan.sort_by(|a, b| order_key(&a.header.name).cmp(&order_key(&b.header.name)));
    Ok(plan)
}

/// The plan for Hugging Face tensor `hf_name` of `shape` in the safetensors file `path`:
/// `None` for a tensor llama.cpp does without, an error for one it has no name for or whose
/// shape does not fit the config.
fn plan_tensor(
    path: &Path,
    hf_name: &str,
    shape: &[usize],
    config: &ModelConfig,
    out_type: GgufOutType,
) -> Result<Option<PlannedTensor>, GgufError> {
    let (gguf_name, permute_heads) = match export_role(hf_name, config.permuted_heads()) {
        Some(ExportRole::Copy(name)) => (name, None),
        Some(ExportRole::Permute(name, heads)) => (name, Some(heads)),
        Some(ExportRole::Skip) => return Ok(None),
        None => {
            return Err(GgufError::UnknownTensor {
                path: path.to_path_buf(),
                name: hf_name.to_string(),
            })
        }
    };
    if gguf_name == "output.weight" && config.tie_word_embeddings {
        tracing::info!("{hf_name} left out: config.json ties it to the token embedding");
        return Ok(None);
    }
    let invalid = |reason: String| GgufError::InvalidModelFile {
        path: path.to_path_buf(),
        reason: format!("tensor '{hf_name}' {reason}"),
    };
    let expected = expected_shape(&gguf_name, config)
        .map_err(|reason| invalid(format!("does not fit config.json: {reason}")))?;
    if shape != expected {
        return Err(invalid(format!(
            "is {shape:?}, but config.json makes it {expected:?}; the config and the weights disagree"
        )));
    }
    let ty = stored_type(hf_name, shape, out_type);
    let values = shape.iter().product::<usize>();
    Ok(Some(PlannedTensor {
        hf_name: hf_name.to_string(),
        header: TensorHeader {
            name: gguf_name,
            dims: shape.iter().rev().map(|&d| d as u64).collect(),
            type_id: ty.id(),
            byte_len: (values / ty.block_size() * ty.block_bytes()) as u64,
        },
        ty,
        rows: shape[0],
        permute_heads,
    }))
}

/// The row-major shape `config` gives GGUF tensor `name`, or why the name does not fit it.
fn expected_shape(name: &str, config: &ModelConfig) -> Result<Vec<usize>, String> {
    let size = |v: u64| v as usize;
    let (hidden, ffn) = (size(config.hidden_size), size(config.intermediate_size));
    let q = size(config.num_attention_heads.saturating_mul(config.head_dim));
    let kv = size(config.num_key_value_heads.saturating_mul(config.head_dim));
    let suffix = match name
        .strip_prefix("blk.")
        .and_then(|rest| rest.split_once('.'))
    {
        None => name,
        Some((layer, suffix)) => {
            let layer: u64 = layer.parse().map_err(|_| format!("bad layer in {name}"))?;
            if layer >= config.num_hidden_layers {
                return Err(format!(
                    "it belongs to layer {layer}, but num_hidden_layers is {}",
                    config.num_hidden_layers
                ));
            }
            suffix
        }
    };
    Ok(match suffix {
        "token_embd.weight" | "output.weight" => vec![size(config.vocab_size), hidden],
        "output_norm.weight" | "attn_norm.weight" | "ffn_norm.weight" => vec![hidden],
        "attn_q.weight" => vec![q, hidden],
        "attn_k.weight" | "attn_v.weight" => vec![kv, hidden],
        "attn_output.weight" => vec![hidden, q],
        "ffn_gate.weight" | "ffn_up.weight" => vec![ffn, hidden],
        "ffn_down.weight" => vec![hidden, ffn],
        "attn_q.bias" => vec![q],
        "attn_k.bias" | "attn_v.bias" => vec![kv],
        other => return Err(format!("no shape is known for '{other}'")),
    })
}

/// F32 for vectors, as llama.cpp's converter keeps them; `out_type` for matrices, except Q8_0
/// for rows whose length is not a multiple of 32, which become F16.
fn stored_type(hf_name: &str, shape: &[usize], out_type: GgufOutType) -> GgmlType {
    let ty = out_type.ggml_type();
    match shape {
        [] | [_] => GgmlType::F32,
        [.., cols] if !cols.is_multiple_of(ty.block_size()) => {
            tracing::info!(
                "{hf_name}: rows of {cols} values do not split into {} blocks of {}; stored as F16",
                ty.name(),
                ty.block_size()
            );
            GgmlType::F16
        }
        _ => ty,
    }
}

/// Why the plan lacks a tensor the model needs, naming its Hugging Face name.
fn check_required_tensors(plan: &[PlannedTensor], config: &ModelConfig) -> Result<(), String> {
    let present: HashSet<&str> = plan.iter().map(|t| t.header.name.as_str()).collect();
    let output = (!config.tie_word_embeddings).then(|| "output.weight".to_string());
    let missing = required_tensors(config.architecture, config.num_hidden_layers)
        .chain(output)
        .find(|name| !present.contains(name.as_str()));
    let Some(missing) = missing else {
        return Ok(());
    };
    let hf_name = match tensor_role(&missing, config.architecture.name(), None) {
        Ok(TensorRole::Copy(name)) => name,
        _ => missing,
    };
    Err(format!(
        "it has no tensor '{hf_name}', which a {} model of {} layers{} needs",
        config.architecture.name(),
        config.num_hidden_layers,
        if config.tie_word_embeddings {
            ""
        } else {
            " with untied embeddings"
        }
    ))
}

/// token_embd, the layers in order, output_norm, output.
fn order_key(gguf_name: &str) -> (u8, u64, &str) {
    match gguf_name {
        "token_embd.weight" => (0, 0, gguf_name),
        "output_norm.weight" => (2, 0, gguf_name),
        "output.weight" => (3, 0, gguf_name),
        _ => {
            let rest = gguf_name.strip_prefix("blk.").unwrap_or(gguf_name);
            let (layer, suffix) = rest.split_once('.').unwrap_or(("0", rest));
            (1, layer.parse().unwrap_or(0), suffix)
        }
    }
}

/// Writes the GGUF file into `staging`: the header, then each tensor read, permuted and
/// encoded in turn.
fn write_gguf(
    staging: &StagingFile,
    metadata: &[(String, MetadataValue)],
    weights: &SafetensorsFile,
    plan: &[PlannedTensor],
) -> Result<(), GgufError> {
    let io_error = |e| GgufError::io(staging.path(), e);
    let headers: Vec<TensorHeader> = plan.iter().map(|t| t.header.clone()).collect();
    let out = BufWriter::new(staging.file());
    let mut stream = GgufStream::start(out, GGUF_VERSION, metadata, &headers).map_err(io_error)?;
    for tensor in plan {
        let values = weights.read_f32(&tensor.hf_name)?;
        let values = match tensor.permute_heads {
            Some(heads) => permute_rows(&values, tensor.rows, heads, &tensor.hf_name)?,
            None => values,
        };
        let bytes = quantize(tensor.ty, &values).expect("type chosen to fit the shape");
        stream.tensor_data(&bytes).map_err(io_error)?;
    }
    stream
        .finish()
        .and_then(|mut out| out.flush())
        .map_err(io_error)
}

fn tensor_types(plan: &[PlannedTensor]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for tensor in plan {
        *counts.entry(tensor.ty.name()).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_types_parse_and_name_llama_cpp_file_types() {
        for (text, ty, file_type) in [
            ("f32", GgufOutType::F32, 0),
            ("F16", GgufOutType::F16, 1),
            ("q8_0", GgufOutType::Q8_0, 7),
        ] {
            let parsed: GgufOutType = text.parse().unwrap();
            assert_eq!((parsed, parsed.file_type()), (ty, file_type));
        }
        let err = "q4_k".parse::<GgufOutType>().unwrap_err();
        assert!(err.contains("f16, q8_0 or f32"), "{err}");
    }

    #[test]
    fn vectors_stay_f32_and_q8_0_falls_back_to_f16_for_short_rows() {
        let q8 = GgufOutType::Q8_0;
        assert_eq!(stored_type("n", &[64], q8), GgmlType::F32);
        assert_eq!(stored_type("w", &[3, 64], q8), GgmlType::Q8_0);
        assert_eq!(stored_type("w", &[64, 48], q8), GgmlType::F16);
        assert_eq!(stored_type("w", &[64, 48], GgufOutType::F32), GgmlType::F32);
    }

    #[test]
    fn tensors_are_ordered_as_llama_cpp_lists_them() {
        let mut names = [
            "output.weight",
            "blk.10.attn_q.weight",
            "output_norm.weight",
            "blk.2.ffn_up.weight",
            "token_embd.weight",
            "blk.2.attn_k.weight",
        ];
        names.sort_by_key(|n| order_key(n));
        assert_eq!(
            names,
            [
                "token_embd.weight",
                "blk.2.attn_k.weight",
                "blk.2.ffn_up.weight",
                "blk.10.attn_q.weight",
                "output_norm.weight",
                "output.weight"
            ]
        );
    }
}
