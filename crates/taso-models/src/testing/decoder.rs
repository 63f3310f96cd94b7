//! A tiny random decoder folder for tests: `config.json`, `model.safetensors`, a word-level
//! `tokenizer.json` and a `tokenizer_config.json` with a ChatML-like chat template.

use super::{create_dir, word_level_tokenizer_json, write, TinyWeights};
use crate::error::Result;
use std::path::Path;

/// Which Hugging Face architecture the tiny decoder imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TinyDecoderArch {
    /// `llama`: no biases.
    Llama,
    /// `qwen2`: q/k/v biases.
    Qwen2,
}

/// Sizes of a tiny random decoder.
///
/// Vocabulary: `<pad>` (0), `<unk>` (1), `<|im_start|>` (2), `<|im_end|>` (3, the EOS), the role
/// words `system user assistant`, the answer words `yes no A B C D`, the digits `0`–`9`, then
/// `w0`, `w1`, … Weights are `N(0, std²)` (0.2 by default, so that logits are O(1) and greedy
/// choices are clear-cut), norms 1, biases 0.
#[derive(Debug, Clone)]
pub struct TinyDecoderSpec {
    /// Architecture.
    pub arch: TinyDecoderArch,
    /// Ordinary words `w0 … w{words-1}` besides the fixed vocabulary.
    pub words: usize,
    /// Hidden size.
    pub hidden: i64,
    /// Decoder blocks.
    pub layers: i64,
    /// Query heads.
    pub heads: i64,
    /// Key/value heads (fewer than `heads` for grouped-query attention).
    pub kv_heads: i64,
    /// SwiGLU inner size.
    pub intermediate: i64,
    /// Whether `lm_head` is the embedding matrix.
    pub tie_embeddings: bool,
    /// Standard deviation of the random weights.
    pub std: f64,
    /// Seed of the weights.
    pub seed: u64,
}

impl Default for TinyDecoderSpec {
    fn default() -> Self {
        Self {
            arch: TinyDecoderArch::Llama,
            words: 40,
            hidden: 32,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            intermediate: 64,
            tie_embeddings: true,
            std: 0.2,
            seed: 0,
        }
    }
}

const SPECIALS: [&str; 4] = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"];
const FIXED_WORDS: [&str; 19] = [
    "system",
    "user",
    "assistant",
    "yes",
    "no",
    "A",
    "B",
    "C",
    "D",
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
];
const EOS_ID: i64 = 3;

/// ChatML-like: `<|im_start|> role content <|im_end|>` per message (word-level tokens are
/// space-separated), then `<|im_start|> assistant` when a generation prompt is asked for.
const CHAT_TEMPLATE: &str = "{% for message in messages %}<|im_start|> {{ message['role'] }} {{ message['content'] }} <|im_end|> {% endfor %}{% if add_generation_prompt %}<|im_start|> assistant {% endif %}";

impl TinyDecoderSpec {
    /// Writes the model folder into `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> Result<()> {
        create_dir(dir)?;
        write(dir.join("config.json"), self.config_json())?;
        write(dir.join("tokenizer.json"), self.tokenizer_json())?;
        write(dir.join("tokenizer_config.json"), tokenizer_config_json())?;
        self.weights().save(&dir.join("model.safetensors"))
    }

    fn words(&self) -> Vec<String> {
        SPECIALS
            .iter()
            .chain(&FIXED_WORDS)
            .map(|w| w.to_string())
            .chain((0..self.words).map(|i| format!("w{i}")))
            .collect()
    }

    fn vocab_size(&self) -> i64 {
        (SPECIALS.len() + FIXED_WORDS.len() + self.words) as i64
    }

    fn config_json(&self) -> String {
        let (model_type, architecture) = match self.arch {
            TinyDecoderArch::Llama => ("llama", "LlamaForCausalLM"),
            TinyDecoderArch::Qwen2 => ("qwen2", "Qwen2ForCausalLM"),
        };
        serde_json::json!({
            "model_type": model_type, "architectures": [architecture],
            "vocab_size": self.vocab_size(), "hidden_size": self.hidden,
            "intermediate_size": self.intermediate, "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads, "num_key_value_heads": self.kv_heads,
            "hidden_act": "silu", "max_position_embeddings": 256, "rms_norm_eps": 1e-6,
            "rope_theta": 10000.0, "tie_word_embeddings": self.tie_embeddings,
            "bos_token_id": null, "eos_token_id": EOS_ID, "pad_token_id": 0,
            "initializer_range": self.std
        })
        .to_string()
    }

    fn tokenizer_json(&self) -> String {
        word_level_tokenizer_json(&self.words(), &SPECIALS, "<unk>", serde_json::Value::Null)
    }

    fn weights(&self) -> TinyWeights {
        let (h, inner, vocab) = (self.hidden, self.intermediate, self.vocab_size());
        let head_dim = h / self.heads;
        let (q_width, kv_width) = (self.heads * head_dim, self.kv_heads * head_dim);
        let qkv_bias = self.arch == TinyDecoderArch::Qwen2;
        let mut w = TinyWeights {
            seed: self.seed,
            std: self.std,
            tensors: Vec::new(),
        };
        w.normal("model.embed_tokens.weight", &[vocab, h]);
        for i in 0..self.layers {
            let p = format!("model.layers.{i}");
            w.constant(format!("{p}.input_layernorm.weight"), h, 1.0);
            for (name, d_out) in [
                ("q_proj", q_width),
                ("k_proj", kv_width),
                ("v_proj", kv_width),
            ] {
                let prefix = format!("{p}.self_attn.{name}");
                w.normal(&format!("{prefix}.weight"), &[d_out, h]);
                if qkv_bias {
                    w.constant(format!("{prefix}.bias"), d_out, 0.0);
                }
            }
            w.normal(&format!("{p}.self_attn.o_proj.weight"), &[h, q_width]);
            w.constant(format!("{p}.post_attention_layernorm.weight"), h, 1.0);
            w.normal(&format!("{p}.mlp.gate_proj.weight"), &[inner, h]);
            w.normal(&format!("{p}.mlp.up_proj.weight"), &[inner, h]);
            w.normal(&format!("{p}.mlp.down_proj.weight"), &[h, inner]);
        }
        w.constant("model.norm.weight".to_string(), h, 1.0);
        if !self.tie_embeddings {
            w.normal("lm_head.weight", &[vocab, h]);
        }
        w
    }
}

fn tokenizer_config_json() -> String {
    serde_json::json!({
        "chat_template": CHAT_TEMPLATE, "bos_token": null, "eos_token": SPECIALS[3],
        "pad_token": SPECIALS[0], "unk_token": SPECIALS[1],
        "tokenizer_class": "PreTrainedTokenizerFast"
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CausalLm, DecoderArch, LinearHost};
    use taso_data::{Example, TextTokenizer};

    #[test]
    fn a_tiny_decoder_loads_and_its_tokenizer_knows_the_chat_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let spec = TinyDecoderSpec {
            arch: TinyDecoderArch::Qwen2,
            tie_embeddings: false,
            ..TinyDecoderSpec::default()
        };
        spec.write(dir.path()).unwrap();
        let model = CausalLm::load(dir.path(), tch::Device::Cpu).unwrap();
        assert_eq!(model.config().arch, DecoderArch::Qwen2);
        assert_eq!(model.config().eos_token_ids, [EOS_ID]);
        assert_eq!(model.linears().len(), 2 * 7 + 1);
        assert_eq!(model.head_parameters().len(), 1, "untied lm_head");
        let tokenizer = TextTokenizer::from_file(&dir.path().join("tokenizer.json"), 32).unwrap();
        let text = "<|im_start|> user w0 w1 yes 7 <|im_end|> <|im_start|> assistant";
        let example = Example {
            text: text.to_string(),
            pair: None,
            label: None,
        };
        let ids = &tokenizer.encode(&[example]).unwrap()[0].input_ids;
        assert_eq!(ids, &[2, 5, 23, 24, 7, 20, 3, 2, 6]);
        assert_eq!(tokenizer.pad_id(), 0);
    }
}
