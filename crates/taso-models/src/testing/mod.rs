//! A tiny world for tests, examples and smoke runs, built from nothing: a random BERT checkpoint,
//! a word-level `tokenizer.json`, and a generated two-class task whose label follows a planted
//! rule (does the text contain one of the first `planted` words?); and a tiny random LLaMA or
//! Qwen2 model folder ([`TinyDecoderSpec`]).
//!
//! Everything is seeded, so a test that writes the same world twice gets identical files.
//! [`run_captured`] runs a stage binary for the command-line tests.

use crate::error::{ModelError, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::process::Command;
use tch::{Kind, Tensor};

mod decoder;

pub use decoder::{TinyDecoderArch, TinyDecoderSpec};

/// Runs `command` (without backtraces in its errors) and returns whether it succeeded and its
/// standard output followed by its standard error.
///
/// # Panics
/// If the command cannot be started.
pub fn run_captured(command: &mut Command) -> (bool, String) {
    let out = command
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Sizes and rule of a tiny world.
#[derive(Debug, Clone)]
pub struct TinySpec {
    /// Ordinary words (`w0`, `w1`, …) besides the four special tokens.
    pub words: usize,
    /// Hidden size.
    pub hidden: i64,
    /// Transformer blocks.
    pub layers: i64,
    /// Attention heads.
    pub heads: i64,
    /// Feed-forward size.
    pub intermediate: i64,
    /// The label is 1 when the text contains one of the words `w0 … w{planted-1}`.
    pub planted: usize,
    /// Training examples.
    pub train: usize,
    /// Dev examples.
    pub dev: usize,
    /// Seed of weights and texts.
    pub seed: u64,
}

impl Default for TinySpec {
    fn default() -> Self {
        Self {
            words: 40,
            hidden: 32,
            layers: 2,
            heads: 4,
            intermediate: 64,
            planted: 2,
            train: 96,
            dev: 48,
            seed: 0,
        }
    }
}

/// Where a tiny world was written.
#[derive(Debug, Clone)]
pub struct TinyWorld {
    /// Model folder: `config.json`, `model.safetensors`, `tokenizer.json`.
    pub model_dir: PathBuf,
    /// Data folder holding `tiny/train.tsv` and `tiny/dev.tsv`.
    pub data_dir: PathBuf,
    /// The task file (`tiny.toml`), whose splits are relative to `data_dir`.
    pub task_file: PathBuf,
}

const SPECIALS: [&str; 4] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"];

impl TinySpec {
    /// Writes the world under `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> Result<TinyWorld> {
        let world = TinyWorld {
            model_dir: dir.join("model"),
            data_dir: dir.join("data"),
            task_file: dir.join("tiny.toml"),
        };
        create_dir(&world.data_dir.join("tiny"))?;
        create_dir(&world.model_dir)?;
        write(world.model_dir.join("config.json"), self.config_json())?;
        write(
            world.model_dir.join("tokenizer.json"),
            self.tokenizer_json(),
        )?;
        self.weights()
            .save(&world.model_dir.join("model.safetensors"))?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        write(
            world.data_dir.join("tiny/train.tsv"),
            self.split_tsv(self.train, &mut rng),
        )?;
        write(
            world.data_dir.join("tiny/dev.tsv"),
            self.split_tsv(self.dev, &mut rng),
        )?;
        write(world.task_file.clone(), TASK_TOML.to_string())?;
        Ok(world)
    }

    fn vocab_size(&self) -> i64 {
        (SPECIALS.len() + self.words) as i64
    }

    fn config_json(&self) -> String {
        serde_json::json!({
            "model_type": "bert", "architectures": ["BertModel"], "vocab_size": self.vocab_size(),
            "hidden_size": self.hidden, "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads, "intermediate_size": self.intermediate,
            "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": 64, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
            "pad_token_id": 0, "initializer_range": 0.02
        })
        .to_string()
    }

    fn tokenizer_json(&self) -> String {
        let words: Vec<String> = SPECIALS
            .iter()
            .map(|s| s.to_string())
            .chain((0..self.words).map(|i| format!("w{i}")))
            .collect();
        let special =
            |name: &str, id: usize| serde_json::json!({"id": name, "ids": [id], "tokens": [name]});
        let post_processor = serde_json::json!({"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": special("[CLS]", 2), "[SEP]": special("[SEP]", 3)}});
        word_level_tokenizer_json(&words, &SPECIALS, "[UNK]", post_processor)
    }

    /// Random BERT weights with Hugging Face's names (normal 0.02, LayerNorm 1/0, biases 0).
    fn weights(&self) -> TinyWeights {
        let (h, inner) = (self.hidden, self.intermediate);
        let mut w = TinyWeights {
            seed: self.seed,
            std: 0.02,
            tensors: Vec::new(),
        };
        w.normal("embeddings.word_embeddings.weight", &[self.vocab_size(), h]);
        w.normal("embeddings.position_embeddings.weight", &[64, h]);
        w.normal("embeddings.token_type_embeddings.weight", &[2, h]);
        w.layer_norm("embeddings.LayerNorm", h);
        for i in 0..self.layers {
            let p = format!("encoder.layer.{i}");
            for name in [
                "attention.self.query",
                "attention.self.key",
                "attention.self.value",
                "attention.output.dense",
            ] {
                w.linear(&format!("{p}.{name}"), h, h);
            }
            w.layer_norm(&format!("{p}.attention.output.LayerNorm"), h);
            w.linear(&format!("{p}.intermediate.dense"), h, inner);
            w.linear(&format!("{p}.output.dense"), inner, h);
            w.layer_norm(&format!("{p}.output.LayerNorm"), h);
        }
        w.linear("pooler.dense", h, h);
        w
    }

    /// `n` examples: 4–10 random words; label 1 iff one of the planted words occurs.
    fn split_tsv(&self, n: usize, rng: &mut ChaCha8Rng) -> String {
        let mut out = String::from("sentence\tlabel\n");
        for i in 0..n {
            let len = rng.random_range(4..=10);
            let mut words: Vec<usize> = (0..len)
                .map(|_| rng.random_range(self.planted..self.words))
                .collect();
            let positive = i % 2 == 0;
            if positive {
                let at = rng.random_range(0..len);
                words[at] = rng.random_range(0..self.planted);
            }
            let text: Vec<String> = words.iter().map(|w| format!("w{w}")).collect();
            out.push_str(&format!("{}\t{}\n", text.join(" "), u8::from(positive)));
        }
        out
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError {
    let path = path.to_path_buf();
    move |source| ModelError::Io { path, source }
}

fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(io_error(path))
}

fn write(path: PathBuf, text: String) -> Result<()> {
    std::fs::write(&path, text).map_err(io_error(&path))
}

/// A `tokenizer.json` with a word-level model over `words` (ids in order), the given special
/// tokens (which must be among `words`), whitespace pre-tokenization and an optional
/// post-processor.
fn word_level_tokenizer_json(
    words: &[String],
    specials: &[&str],
    unk: &str,
    post_processor: serde_json::Value,
) -> String {
    let vocab: serde_json::Map<String, serde_json::Value> = words
        .iter()
        .enumerate()
        .map(|(id, token)| (token.clone(), id.into()))
        .collect();
    let added: Vec<serde_json::Value> = specials
        .iter()
        .map(|s| {
            serde_json::json!({"id": vocab[*s], "content": s, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "normalizer": null, "decoder": null,
        "added_tokens": added, "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": post_processor,
        "model": {"type": "WordLevel", "unk_token": unk, "vocab": vocab}
    })
    .to_string()
}

const TASK_TOML: &str = r#"name = "tiny"
description = "generated: is one of the planted words in the text?"
format = "tsv"
text = "sentence"
label = "label"
labels = { kind = "classes", names = ["0", "1"] }
metrics = ["accuracy"]

[splits]
train = "tiny/train.tsv"
dev = "tiny/dev.tsv"
"#;

/// Named tensors of a tiny checkpoint, in insertion order; each random tensor gets its own
/// seed derived from the world's seed and its position.
struct TinyWeights {
    seed: u64,
    std: f64,
    tensors: Vec<(String, Tensor)>,
}

impl TinyWeights {
    fn normal(&mut self, name: &str, shape: &[i64]) {
        let seed = self
            .seed
            .wrapping_mul(1_000_003)
            .wrapping_add(self.tensors.len() as u64);
        let values =
            crate::init::seeded_normal(shape, self.std, seed, tch::Device::Cpu, Kind::Float);
        self.tensors.push((name.to_string(), values));
    }

    fn constant(&mut self, name: String, size: i64, value: f64) {
        self.tensors.push((
            name,
            Tensor::full([size], value, (Kind::Float, tch::Device::Cpu)),
        ));
    }

    fn linear(&mut self, prefix: &str, d_in: i64, d_out: i64) {
        self.normal(&format!("{prefix}.weight"), &[d_out, d_in]);
        self.constant(format!("{prefix}.bias"), d_out, 0.0);
    }

    fn layer_norm(&mut self, prefix: &str, size: i64) {
        self.constant(format!("{prefix}.weight"), size, 1.0);
        self.constant(format!("{prefix}.bias"), size, 0.0);
    }

    fn save(&self, path: &Path) -> Result<()> {
        Ok(Tensor::write_safetensors(&self.tensors, path)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Encoder, LinearHost};

    #[test]
    fn a_tiny_world_loads_and_its_task_reads() {
        let dir = tempfile::tempdir().unwrap();
        let world = TinySpec::default().write(dir.path()).unwrap();
        let encoder = Encoder::load(&world.model_dir, tch::Device::Cpu).unwrap();
        assert_eq!(encoder.linears().len(), 2 * 6 + 1);
        let task = taso_data::load_task(world.task_file.to_str().unwrap()).unwrap();
        let train = task
            .read_split(&world.data_dir, taso_data::Split::Train)
            .unwrap();
        assert_eq!(train.len(), 96);
        let tokenizer =
            taso_data::TextTokenizer::from_file(&world.model_dir.join("tokenizer.json"), 16)
                .unwrap();
        let encoded = tokenizer.encode(&train[..1]).unwrap();
        assert_eq!(encoded[0].input_ids[0], 2, "starts with [CLS]");
        assert!(encoded[0].input_ids.iter().all(|&id| id < 44));
    }

    #[test]
    fn the_same_seed_writes_the_same_world() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        TinySpec::default().write(a.path()).unwrap();
        TinySpec::default().write(b.path()).unwrap();
        for file in [
            "model/model.safetensors",
            "model/tokenizer.json",
            "data/tiny/train.tsv",
        ] {
            let same = std::fs::read(a.path().join(file)).unwrap()
                == std::fs::read(b.path().join(file)).unwrap();
            assert!(same, "{file} differs between two writes with the same seed");
        }
    }
}
