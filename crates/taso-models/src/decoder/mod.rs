//! LLaMA-family decoders: LLaMA, Mistral and Qwen2 with Hugging Face's module paths and numerics,
//! a key/value cache and greedy generation.

mod cache;
mod config;
mod generate;
mod model;
mod rope;

pub use cache::KvCache;
pub use config::{DecoderArch, DecoderConfig, Llama3RopeScaling};
pub(crate) use generate::left_padded;
pub use generate::{Finish, Generated, GreedySettings};
pub use model::{CausalLm, Decoder, DecoderInput, DecoderOutput};
