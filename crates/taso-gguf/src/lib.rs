//! Reads llama-architecture GGUF files and writes a Hugging Face folder.
//!
//! [`import_gguf`] turns a GGUF file (versions 2 and 3) of architecture `llama` or `qwen2`
//! into `config.json`, an f32 `model.safetensors` with Hugging Face tensor names,
//! `tokenizer.json` (byte-level BPE built from the GGUF vocabulary and merges),
//! `tokenizer_config.json` (special tokens, chat template), `generation_config.json`, and
//! `taso-import.json` (source file name and sha256). Tensors of types F32, F16, BF16, Q8_0,
//! Q4_0, Q4_1, Q4_K and Q6_K are dequantised ([`dequantize`]); llama.cpp's rotary permutation
//! of the q/k rows is undone for `llama` ([`unpermute_rows`]). The folder is built beside the
//! output and renamed into place, so a failed import leaves nothing behind.
//!
//! [`export_gguf`] goes the other way: a Hugging Face `llama` or `qwen2` folder (config.json,
//! model.safetensors in F32, BF16 or F16, tokenizer.json, tokenizer_config.json) becomes a GGUF
//! v3 file that llama.cpp runs, written as llama.cpp's converter writes one: its tensor names,
//! the rotary permutation of the q/k rows re-applied for `llama` ([`permute_rows`]), vectors in
//! F32 and matrices in F32, F16 or Q8_0 ([`GgufOutType`]; [`quantize`] is llama.cpp's reference
//! quantiser), the hyperparameters and the byte-level BPE tokenizer (tokens, token types,
//! merges, pre-tokenizer name, special ids, chat template) as metadata. Whatever the importer
//! reads, the exporter writes, so that importing an exported F32 file gives the folder back.
//! The file is written beside its destination and renamed into place.
//!
//! [`GgufFile`] reads any GGUF header and tensor data; [`GgufStream`] writes one tensor at a
//! time and [`GgufWriter`] a small file held in memory; `testing` (feature `testing`) writes small
//! GGUF models for tests. The `taso-import-gguf` and `taso-export-gguf` binaries wrap
//! [`import_gguf`] and [`export_gguf`].
//!
//! ```
//! use taso_gguf::testing::{write_tiny_model, TinyModel};
//! use taso_gguf::GgufOutType;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let gguf = dir.path().join("tiny.gguf");
//! write_tiny_model(&gguf, &TinyModel::default())?;
//! let summary = taso_gguf::import_gguf(&gguf, &dir.path().join("tiny"), false)?;
//! assert_eq!(summary.config.num_hidden_layers, 2);
//! assert!(dir.path().join("tiny/model.safetensors").exists());
//!
//! let back = dir.path().join("tiny-q8_0.gguf");
//! let export = taso_gguf::export_gguf(&dir.path().join("tiny"), &back, GgufOutType::Q8_0, false)?;
//! assert_eq!(export.tensor_count, summary.tensor_count);
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "cli")]
pub mod cli;
mod config;
mod dequant;
mod error;
mod export;
mod ggml_type;
mod hf_tokenizer;
mod import;
mod metadata;
mod model_files;
mod names;
mod output_dir;
mod quantize;
mod reader;
mod safetensors_out;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod tokenizer;
mod writer;

pub use config::{Architecture, ModelConfig, SpecialIds};
pub use dequant::dequantize;
pub use error::GgufError;
pub use export::{export_gguf, ExportSummary, GgufOutType};
pub use ggml_type::{type_name, GgmlType};
pub use import::{import_gguf, ImportSummary};
pub use metadata::{Metadata, MetadataValue};
pub use names::{
    export_role, permute_rows, tensor_role, unpermute_rows, ExportRole, PermutedHeads, TensorRole,
};
pub use quantize::{quantize, Q8_0Block};
pub use reader::{GgufFile, TensorInfo};
pub use tokenizer::{PreTokenizerKind, Vocabulary};
pub use writer::{GgufStream, GgufWriter, RawTensor, TensorHeader};
