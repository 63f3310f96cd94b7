//! BERT-family encoders: BERT and RoBERTa with Hugging Face's module paths and numerics.

mod config;
mod head;

pub use config::{Activation, EncoderArch, EncoderConfig};
pub use head::{HeadInit, HeadKind, SequenceClassifier};

use crate::checkpoint::Stack;
use crate::dropout::dropout;
use crate::dtype::ComputeDtype;
use crate::error::Result;
use crate::layers::{Builder, FreshInit, LayerNorm, Linear, LinearHost};
use crate::weights::WeightMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// One padded batch of token ids, `[batch, seq]` each.
pub struct EncoderInput<'a> {
    /// Token ids (i64).
    pub input_ids: &'a Tensor,
    /// 1 for real tokens, 0 for padding (i64).
    pub attention_mask: &'a Tensor,
    /// Segment ids (i64); zeros when `None`.
    pub token_type_ids: Option<&'a Tensor>,
}

/// What the encoder returns.
pub struct EncoderOutput {
    /// Output of the last block, `[batch, seq, hidden]`.
    pub last_hidden_state: Tensor,
    /// Embedding output followed by every block's output, when asked for.
    pub hidden_states: Vec<Tensor>,
}

/// One transformer block, with Hugging Face's names.
#[derive(Debug)]
struct EncoderLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A BERT or RoBERTa encoder (embeddings, blocks, and the BERT pooler when the checkpoint has one).
#[derive(Debug)]
pub struct Encoder {
    config: EncoderConfig,
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    token_type_embeddings: Tensor,
    embeddings_norm: LayerNorm,
    layers: Vec<EncoderLayer>,
    pooler: Option<Linear>,
    params: Vec<(String, Tensor)>,
}

/// Whether to build the BERT pooler.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pooler {
    /// Only if the checkpoint has it.
    IfPresent,
    /// Always; initialised fresh from this seed when the checkpoint lacks it.
    Required(u64),
}

impl Encoder {
    /// Loads the base encoder of a Hugging Face folder onto `device`, computing in f32.
    pub fn load(dir: &Path, device: Device) -> Result<Self> {
        Self::load_as(dir, device, ComputeDtype::F32)
    }

    /// Loads the base encoder of a Hugging Face folder onto `device`, computing in `dtype`.
    pub fn load_as(dir: &Path, device: Device, dtype: ComputeDtype) -> Result<Self> {
        let config = EncoderConfig::from_dir(dir)?;
        let mut builder = open_builder(dir, &config, device, dtype)?;
        let encoder = Self::build(config, &mut builder, Pooler::IfPresent)?;
        let (params, leftover) = builder.finish();
        tracing::debug!("unused checkpoint tensors: {leftover:?}");
        Ok(encoder.with_params(params))
    }

    pub(crate) fn build(config: EncoderConfig, b: &mut Builder, pooler: Pooler) -> Result<Self> {
        let (h, inner) = (config.hidden_size, config.intermediate_size);
        let eps = config.layer_norm_eps;
        let word_embeddings = b.embedding("embeddings.word_embeddings", config.vocab_size, h)?;
        let position_embeddings = b.embedding(
            "embeddings.position_embeddings",
            config.max_position_embeddings,
            h,
        )?;
        let token_type_embeddings = b.embedding(
            "embeddings.token_type_embeddings",
            config.type_vocab_size,
            h,
        )?;
        let embeddings_norm = b.layer_norm("embeddings.LayerNorm", h, eps)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(EncoderLayer {
                    query: b.linear(&format!("{p}.attention.self.query"), h, h, true)?,
                    key: b.linear(&format!("{p}.attention.self.key"), h, h, true)?,
                    value: b.linear(&format!("{p}.attention.self.value"), h, h, true)?,
                    attention_output: b.linear(
                        &format!("{p}.attention.output.dense"),
                        h,
                        h,
                        true,
                    )?,
                    attention_norm: b.layer_norm(
                        &format!("{p}.attention.output.LayerNorm"),
                        h,
                        eps,
                    )?,
                    intermediate: b.linear(&format!("{p}.intermediate.dense"), h, inner, true)?,
                    output: b.linear(&format!("{p}.output.dense"), inner, h, true)?,
                    output_norm: b.layer_norm(&format!("{p}.output.LayerNorm"), h, eps)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let pooler = match pooler {
            Pooler::IfPresent if b.has("pooler.dense.weight") => {
                Some(b.linear("pooler.dense", h, h, true)?)
            }
            Pooler::IfPresent => None,
            Pooler::Required(seed) => {
                let init = FreshInit {
                    seed,
                    std: config.initializer_range,
                };
                Some(b.linear_or_fresh("pooler.dense", h, h, init)?)
            }
        };
        Ok(Self {
            config,
            word_embeddings,
            position_embeddings,
            token_type_embeddings,
            embeddings_norm,
            layers,
            pooler,
            params: Vec::new(),
        })
    }

    pub(crate) fn with_params(mut self, params: Vec<(String, Tensor)>) -> Self {
        self.params = params;
        self
    }

    /// The checkpoint's configuration.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Every parameter with its Hugging Face name (without the `bert.`/`roberta.` prefix).
    pub fn named_parameters(&self) -> &[(String, Tensor)] {
        &self.params
    }

    /// The pooler (`tanh(dense(h[CLS]))`), when the model has one.
    pub fn pooler(&self) -> Option<&Linear> {
        self.pooler.as_ref()
    }

    /// Runs the encoder. `train` enables dropout; `all_hidden_states` also returns the embedding
    /// output and every block's output.
    pub fn forward(
        &self,
        input: &EncoderInput,
        train: bool,
        all_hidden_states: bool,
    ) -> EncoderOutput {
        let mut hidden = self.embed(input, train);
        let mut hidden_states = Vec::new();
        let mask = attention_mask(input);
        for layer in &self.layers {
            if all_hidden_states {
                hidden_states.push(hidden.shallow_clone());
            }
            hidden = self.block(layer, &hidden, &mask, train);
        }
        if all_hidden_states {
            hidden_states.push(hidden.shallow_clone());
        }
        EncoderOutput {
            last_hidden_state: hidden,
            hidden_states,
        }
    }

    /// Back-propagates the loss `head` computes from the last hidden state with activation
    /// checkpointing per block (see [`crate::checkpoint`]); returns the loss.
    pub(crate) fn checkpointed_backward(
        &self,
        input: &EncoderInput,
        train: bool,
        scale: f64,
        head: impl FnOnce(&Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let mask = attention_mask(input);
        let stack = Stack {
            embed: || self.embed(input, train),
            blocks: self.layers.len(),
            block: |index: usize, x: &Tensor| self.block(&self.layers[index], x, &mask, train),
        };
        stack.backward(scale, head)
    }

    /// `tanh(pooler(h[:, 0]))`, or `None` without a pooler.
    pub fn pool(&self, last_hidden_state: &Tensor) -> Option<Tensor> {
        let first = last_hidden_state.select(1, 0);
        self.pooler.as_ref().map(|p| p.forward(&first).tanh())
    }

    fn embed(&self, input: &EncoderInput, train: bool) -> Tensor {
        let ids = input.input_ids;
        let positions = self.position_ids(ids);
        let token_types = match input.token_type_ids {
            Some(t) => t.shallow_clone(),
            None => ids.zeros_like(),
        };
        let sum = Tensor::embedding(&self.word_embeddings, ids, -1, false, false)
            + Tensor::embedding(&self.position_embeddings, &positions, -1, false, false)
            + Tensor::embedding(&self.token_type_embeddings, &token_types, -1, false, false);
        dropout(
            &self.embeddings_norm.forward(&sum),
            self.config.hidden_dropout_prob,
            train,
        )
    }

    /// BERT counts positions from 0; RoBERTa from `pad + 1`, skipping padding tokens.
    fn position_ids(&self, ids: &Tensor) -> Tensor {
        match self.config.arch() {
            EncoderArch::Bert => {
                let seq = ids.size()[1];
                Tensor::arange(seq, (Kind::Int64, ids.device()))
                    .unsqueeze(0)
                    .expand_as(ids)
            }
            EncoderArch::Roberta => {
                let pad = self.config.pad_token_id;
                let real = ids.ne(pad).to_kind(Kind::Int64);
                real.cumsum(1, Kind::Int64) * &real + pad
            }
        }
    }

    fn block(&self, layer: &EncoderLayer, x: &Tensor, mask: &Tensor, train: bool) -> Tensor {
        let p = self.config.hidden_dropout_prob;
        let attention = self.attention(layer, x, mask, train);
        let x = layer
            .attention_norm
            .forward(&(dropout(&layer.attention_output.forward(&attention), p, train) + x));
        let inner = activate(self.config.hidden_act, &layer.intermediate.forward(&x));
        layer
            .output_norm
            .forward(&(dropout(&layer.output.forward(&inner), p, train) + &x))
    }

    fn attention(&self, layer: &EncoderLayer, x: &Tensor, mask: &Tensor, train: bool) -> Tensor {
        let (batch, seq) = (x.size()[0], x.size()[1]);
        let heads = self.config.num_attention_heads;
        let split = |t: Tensor| t.view([batch, seq, heads, -1]).transpose(1, 2);
        let (q, k, v) = (
            split(layer.query.forward(x)),
            split(layer.key.forward(x)),
            split(layer.value.forward(x)),
        );
        let p = match train {
            true => self.config.attention_probs_dropout_prob,
            false => 0.0,
        };
        let context = match p > 0.0 && x.device() == Device::Cpu {
            true => eager_attention(&q, &k, &v, mask, p),
            false => {
                Tensor::scaled_dot_product_attention(&q, &k, &v, Some(mask), p, false, None, false)
            }
        };
        context
            .transpose(1, 2)
            .reshape([batch, seq, self.config.hidden_size])
    }
}

/// Attention written out as Hugging Face's eager BERT computes it — `softmax(q kᵀ/√d + mask)`,
/// dropout, `· v` — for training with attention dropout on the CPU, so that the probabilities'
/// mask comes from [`dropout`] (libtorch's fused attention would draw its own, one element at a
/// time; docs/results.md, "Training against PyTorch + PEFT"). On a GPU the fused kernel keeps
/// its dropout. `mask` is the boolean key mask of [`attention_mask`].
fn eager_attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor, p: f64) -> Tensor {
    let kind = q.kind();
    let scale = (q.size()[3] as f64).sqrt().recip();
    let additive = Tensor::zeros(mask.size(), (kind, mask.device()))
        .masked_fill(&mask.logical_not(), f64::NEG_INFINITY);
    let scores = (q * scale).matmul(&k.transpose(-2, -1)) + additive;
    let probs = scores.softmax(-1, Kind::Float).to_kind(kind);
    dropout(&probs, p, true).matmul(v)
}

impl LinearHost for Encoder {
    /// The blocks' projections, then the pooler.
    fn linears(&self) -> Vec<&Linear> {
        let blocks = self.layers.iter().flat_map(|l| {
            [
                &l.query,
                &l.key,
                &l.value,
                &l.attention_output,
                &l.intermediate,
                &l.output,
            ]
        });
        blocks.chain(self.pooler.as_ref()).collect()
    }

    fn linears_mut(&mut self) -> Vec<&mut Linear> {
        let blocks = self.layers.iter_mut().flat_map(|l| {
            [
                &mut l.query,
                &mut l.key,
                &mut l.value,
                &mut l.attention_output,
                &mut l.intermediate,
                &mut l.output,
            ]
        });
        blocks.chain(self.pooler.as_mut()).collect()
    }
}

fn activate(act: Activation, x: &Tensor) -> Tensor {
    match act {
        Activation::Gelu => x.gelu("none"),
        Activation::GeluNew => x.gelu("tanh"),
        Activation::Relu => x.relu(),
        Activation::Silu => x.silu(),
    }
}

/// The boolean key mask `[batch, 1, 1, seq]`: true on real tokens.
fn attention_mask(input: &EncoderInput) -> Tensor {
    input
        .attention_mask
        .to_kind(Kind::Bool)
        .unsqueeze(1)
        .unsqueeze(1)
}

/// Reads the config's checkpoint into a builder (on `device`, taking weights as `dtype`).
pub(crate) fn open_builder(
    dir: &Path,
    config: &EncoderConfig,
    device: Device,
    dtype: ComputeDtype,
) -> Result<Builder> {
    let arch = config.arch();
    let weights = WeightMap::load(dir, arch.prefix(), &config.model_type, device)?;
    Ok(Builder::new(weights, dtype.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eager_attention_matches_the_fused_kernel_where_dropout_keeps_everything() {
        let shape = [2, 3, 5, 4];
        let draw = || Tensor::randn(shape, (Kind::Float, Device::Cpu));
        let (q, k, v) = (draw(), draw(), draw());
        // The second sequence has two padding keys.
        let mask = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 1, 1, 1, 0, 0]).view([2, 5]);
        let input = EncoderInput {
            input_ids: &mask,
            attention_mask: &mask,
            token_type_ids: None,
        };
        let mask = attention_mask(&input);
        let fused =
            Tensor::scaled_dot_product_attention(&q, &k, &v, Some(&mask), 0.0, false, None, false);
        // p = 1e-12 drops an element only on a 2^-32 draw: the mask is all kept, scaled by ~1.
        let eager = eager_attention(&q, &k, &v, &mask, 1e-12);
        let gap = (eager - fused).abs().max().double_value(&[]);
        assert!(gap < 1e-6, "{gap}");
    }
}
