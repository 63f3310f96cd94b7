//! Transformer models for taso, in tch (libtorch), loaded from Hugging Face folders.
//!
//! - [`CausalLm`]: LLaMA, Mistral and Qwen2 decoders ([`Decoder`]) with their language-model
//!   head, a key/value cache and greedy generation.
//! - [`Encoder`]: BERT and RoBERTa base models; [`SequenceClassifier`] adds Hugging Face's
//!   classification or regression head (fresh and seeded, or from a fine-tuned checkpoint).
//! - Module paths are Hugging Face's (`encoder.layer.0.attention.self.query`), so adapters map
//!   one to one to PEFT names.
//! - The adapter seam: every [`Linear`] can carry a [`LinearAdapter`] and can be asked to
//!   compute its weight gradient, without this crate knowing anything about TASO.
//! - [`TaskData`] and [`TaskModel`]: a task's tokenized split and a model of either family,
//!   with one loss for the stages (answer tokens only for a causal LM).
//! - [`parse_device`] understands `auto|cpu|cuda:N` and registers the CUDA backend when present;
//!   [`ComputeDtype`] is what the frozen base computes in (`load_as`: f32, bf16 or f16), while
//!   heads and adapters stay f32.
//!
//! ```no_run
//! use taso_models::{Encoder, EncoderInput, parse_device};
//! # fn main() -> Result<(), taso_models::ModelError> {
//! let device = parse_device("auto")?;
//! let encoder = Encoder::load("models/all-MiniLM-L6-v2".as_ref(), device)?;
//! let ids = tch::Tensor::from_slice(&[101i64, 7592, 102]).view([1, 3]).to_device(device);
//! let mask = ids.ones_like();
//! let input = EncoderInput { input_ids: &ids, attention_mask: &mask, token_type_ids: None };
//! let hidden = tch::no_grad(|| encoder.forward(&input, false, false).last_hidden_state);
//! assert_eq!(hidden.size(), [1, 3, 384]);
//! # Ok(()) }
//! ```
//!
//! A decoder, greedily continuing two prompts of different lengths:
//!
//! ```no_run
//! use taso_models::{CausalLm, GreedySettings, parse_device};
//! # fn main() -> Result<(), taso_models::ModelError> {
//! let model = CausalLm::load("models/SmolLM2-135M-Instruct".as_ref(), parse_device("auto")?)?;
//! let settings = GreedySettings {
//!     max_new_tokens: 32,
//!     eos_token_ids: model.config().eos_token_ids.clone(),
//!     use_cache: true,
//! };
//! let prompts = vec![vec![1i64, 504, 3458], vec![1i64, 9]];
//! let out = model.generate_greedy(&prompts, &settings, &|ids| ids.len() >= 3 && ids.ends_with(&[198, 198]))?;
//! println!("{:?} ({:?})", out[0].tokens, out[0].finish);
//! # Ok(()) }
//! ```

mod batch;
mod checkpoint;
mod choice_loss;
mod decoder;
mod device;
mod dropout;
mod dtype;
mod encoder;
mod error;
mod family;
pub mod forward;
pub mod init;
mod layers;
mod memory;
mod prompt_predict;
mod task;
mod task_data;
mod task_model;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod weights;

pub use batch::BatchTensors;
pub use choice_loss::ChoiceTensors;
pub use decoder::{
    CausalLm, Decoder, DecoderArch, DecoderConfig, DecoderInput, DecoderOutput, Finish, Generated,
    GreedySettings, KvCache, Llama3RopeScaling,
};
pub use device::{parse_device, register_cuda_backend, set_threads};
pub use dtype::{ComputeDtype, LossScale};
pub use encoder::{
    Activation, Encoder, EncoderArch, EncoderConfig, EncoderInput, EncoderOutput, HeadInit,
    HeadKind, SequenceClassifier,
};
pub use error::{ModelError, Result};
pub use family::ModelFamily;
pub use layers::{FreshInit, LayerNorm, Linear, LinearAdapter, LinearHost, RmsNorm};
pub use memory::{
    available_memory, process_memory, release_free_memory, tensor_bytes, MemoryEstimate,
    ProcessMemory,
};
pub use prompt_predict::{predict_prompts, GenerationConfig};
pub use task::{head_kind_for, predict};
pub use task_data::{PromptData, TaskData};
pub use task_model::{answer_log_probs, CausalTensors, TaskBatch, TaskModel};
pub use weights::{weight_files, WeightMap};
