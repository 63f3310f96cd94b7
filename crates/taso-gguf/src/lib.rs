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
//! [`GgufFile`] reads any GGUF header and tensor data; `testing` (feature `testing`) writes small GGUF files
//! for tests. The `taso-import-gguf` binary wraps [`import_gguf`].
//!
//! ```
//! use taso_gguf::testing::{write_tiny_model, TinyModel};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let gguf = dir.path().join("tiny.gguf");
//! write_tiny_model(&gguf, &TinyModel::default())?;
//! let summary = taso_gguf::import_gguf(&gguf, &dir.path().join("tiny"), false)?;
//! assert_eq!(summary.config.num_hidden_layers, 2);
//! assert!(dir.path().join("tiny/model.safetensors").exists());
//! # Ok(())
//! # }
//! ```

mod config;
mod dequant;
mod error;
mod ggml_type;
mod import;
mod metadata;
mod names;
mod output_dir;
mod reader;
mod safetensors_out;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod tokenizer;

pub use config::{Architecture, ModelConfig, SpecialIds};
pub use dequant::dequantize;
pub use error::GgufError;
pub use ggml_type::{type_name, GgmlType};
pub use import::{import_gguf, ImportSummary};
pub use metadata::{Metadata, MetadataValue};
pub use names::{tensor_role, unpermute_rows, PermutedHeads, TensorRole};
pub use reader::{GgufFile, TensorInfo};
pub use tokenizer::{PreTokenizerKind, Vocabulary};
