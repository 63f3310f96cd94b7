//! The decoder stack (`model.*`) and the causal language model on top of it (`lm_head`).

use super::cache::KvCache;
use super::config::DecoderConfig;
use super::rope::{Rope, RopeAngles};
use crate::checkpoint::Stack;
use crate::dtype::ComputeDtype;
use crate::error::{ModelError, Result};
use crate::layers::{Builder, Linear, LinearHost, RmsNorm};
use crate::weights::WeightMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// One right-padded batch, `[batch, seq]` each.
pub struct DecoderInput<'a> {
    /// Token ids (i64).
    pub input_ids: &'a Tensor,
    /// 1 for real tokens, 0 for padding (i64).
    pub attention_mask: &'a Tensor,
}

/// What the decoder returns.
pub struct DecoderOutput {
    /// Output of the final norm, `[batch, seq, hidden]`.
    pub last_hidden_state: Tensor,
    /// When asked for: the embeddings, the output of every block but the last, and
    /// `last_hidden_state` (as Hugging Face's `hidden_states`).
    pub hidden_states: Vec<Tensor>,
}

/// One decoder block, with Hugging Face's names.
#[derive(Debug)]
struct DecoderLayer {
    input_norm: RmsNorm,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    post_attention_norm: RmsNorm,
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl DecoderLayer {
    fn build(b: &mut Builder, config: &DecoderConfig, index: i64) -> Result<Self> {
        let p = format!("model.layers.{index}");
        let (h, inner, eps) = (
            config.hidden_size,
            config.intermediate_size,
            config.rms_norm_eps,
        );
        let q_width = config.num_attention_heads * config.head_dim;
        let kv_width = config.num_key_value_heads * config.head_dim;
        let attn = |b: &mut Builder, name: &str, d_in, d_out, bias| {
            b.linear(&format!("{p}.self_attn.{name}"), d_in, d_out, bias)
        };
        let mlp = |b: &mut Builder, name: &str, d_in, d_out| {
            b.linear(&format!("{p}.mlp.{name}"), d_in, d_out, config.mlp_bias)
        };
        Ok(Self {
            input_norm: b.rms_norm(&format!("{p}.input_layernorm"), h, eps)?,
            q_proj: attn(b, "q_proj", h, q_width, config.qkv_bias)?,
            k_proj: attn(b, "k_proj", h, kv_width, config.qkv_bias)?,
            v_proj: attn(b, "v_proj", h, kv_width, config.qkv_bias)?,
            o_proj: attn(b, "o_proj", q_width, h, config.o_bias)?,
            post_attention_norm: b.rms_norm(&format!("{p}.post_attention_layernorm"), h, eps)?,
            gate_proj: mlp(b, "gate_proj", h, inner)?,
            up_proj: mlp(b, "up_proj", h, inner)?,
            down_proj: mlp(b, "down_proj", inner, h)?,
        })
    }

    fn linears(&self) -> [&Linear; 7] {
        [
            &self.q_proj,
            &self.k_proj,
            &self.v_proj,
            &self.o_proj,
            &self.gate_proj,
            &self.up_proj,
            &self.down_proj,
        ]
    }

    fn linears_mut(&mut self) -> [&mut Linear; 7] {
        [
            &mut self.q_proj,
            &mut self.k_proj,
            &mut self.v_proj,
            &mut self.o_proj,
            &mut self.gate_proj,
            &mut self.up_proj,
            &mut self.down_proj,
        ]
    }

    /// SwiGLU: `down(silu(gate(x)) * up(x))`.
    fn mlp(&self, x: &Tensor) -> Tensor {
        self.down_proj
            .forward(&(self.gate_proj.forward(x).silu() * self.up_proj.forward(x)))
    }
}

/// What one forward pass needs besides the hidden states.
struct Step<'a> {
    angles: RopeAngles,
    mask: Tensor,
    cache: Option<&'a mut KvCache>,
}

/// A LLaMA-family decoder: token embeddings, blocks (RMSNorm, grouped-query attention with
/// RoPE, SwiGLU MLP) and the final norm; module paths `model.*` as in Hugging Face.
#[derive(Debug)]
pub struct Decoder {
    config: DecoderConfig,
    embed_tokens: Tensor,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    rope: Rope,
    params: Vec<(String, Tensor)>,
}

impl Decoder {
    fn build(config: DecoderConfig, b: &mut Builder, device: Device) -> Result<Self> {
        let h = config.hidden_size;
        let embed_tokens = b.embedding("model.embed_tokens", config.vocab_size, h)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| DecoderLayer::build(b, &config, i))
            .collect::<Result<Vec<_>>>()?;
        let norm = b.rms_norm("model.norm", h, config.rms_norm_eps)?;
        Ok(Self {
            rope: Rope::new(&config, device),
            config,
            embed_tokens,
            layers,
            norm,
            params: Vec::new(),
        })
    }

    /// The checkpoint's configuration.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Every parameter of the stack with its Hugging Face name (`model.layers.0.mlp.up_proj.weight`).
    pub fn named_parameters(&self) -> &[(String, Tensor)] {
        &self.params
    }

    /// The token embedding matrix `[vocab, hidden]`.
    pub fn embed_tokens(&self) -> &Tensor {
        &self.embed_tokens
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.embed_tokens.device()
    }

    /// Runs a padded batch (causal attention, padding keys masked); `all_hidden_states` also
    /// returns the embeddings and every block's output.
    pub fn forward(&self, input: &DecoderInput, all_hidden_states: bool) -> Result<DecoderOutput> {
        self.run(
            input.input_ids,
            input.attention_mask,
            None,
            all_hidden_states,
        )
    }

    /// Runs `input_ids` (`[batch, new]`) after the tokens already in `cache`, and adds their keys
    /// and values to it. `attention_mask` (`[batch, cached + new]`) covers the cached tokens too;
    /// positions count only unmasked tokens, so left-padded prompts get the right positions.
    pub fn forward_cached(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        cache: &mut KvCache,
    ) -> Result<DecoderOutput> {
        self.run(input_ids, attention_mask, Some(cache), false)
    }

    fn run(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        cache: Option<&mut KvCache>,
        all_hidden_states: bool,
    ) -> Result<DecoderOutput> {
        let mut step = self.step(input_ids, attention_mask, cache)?;
        let mut hidden = self.embed(input_ids);
        let mut hidden_states = Vec::new();
        for (index, layer) in self.layers.iter().enumerate() {
            if all_hidden_states {
                hidden_states.push(hidden.shallow_clone());
            }
            hidden = self.block(index, layer, &hidden, &mut step);
        }
        let last_hidden_state = self.norm.forward(&hidden);
        if all_hidden_states {
            hidden_states.push(last_hidden_state.shallow_clone());
        }
        Ok(DecoderOutput {
            last_hidden_state,
            hidden_states,
        })
    }

    /// Back-propagates the loss `head` computes from the last hidden state (after the final
    /// norm) with activation checkpointing per block (see [`crate::checkpoint`]); returns the
    /// loss.
    pub(crate) fn checkpointed_backward(
        &self,
        input: &DecoderInput,
        scale: f64,
        head: impl FnOnce(&Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let mut step = self.step(input.input_ids, input.attention_mask, None)?;
        let stack = Stack {
            embed: || self.embed(input.input_ids),
            blocks: self.layers.len(),
            block: |index: usize, x: &Tensor| self.block(index, &self.layers[index], x, &mut step),
        };
        stack.backward(scale, |hidden| head(&self.norm.forward(hidden)))
    }

    fn embed(&self, input_ids: &Tensor) -> Tensor {
        Tensor::embedding(&self.embed_tokens, input_ids, -1, false, false)
    }

    /// Checks the shapes and the sliding window, and computes what every block of this pass
    /// shares: RoPE angles and the attention mask.
    fn step<'a>(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        cache: Option<&'a mut KvCache>,
    ) -> Result<Step<'a>> {
        let past = cache.as_ref().map_or(0, |c| c.len());
        let [batch, new] = input_ids.size()[..] else {
            return Err(ModelError::DecoderInput(format!(
                "input_ids must be [batch, seq], got {:?}",
                input_ids.size()
            )));
        };
        let total = past + new;
        if attention_mask.size() != [batch, total] {
            return Err(ModelError::DecoderInput(format!(
                "attention_mask is {:?} but {past} cached and {new} new tokens need [{batch}, {total}]",
                attention_mask.size()
            )));
        }
        if let Some(window) = self.config.sliding_window.filter(|&w| total > w) {
            return Err(ModelError::SlidingWindowExceeded {
                length: total,
                window,
            });
        }
        let positions = (attention_mask.cumsum(1, Kind::Int64) - 1)
            .clamp_min(0)
            .narrow(1, past, new);
        Ok(Step {
            angles: self.rope.angles(&positions, self.embed_tokens.kind()),
            mask: visible_keys_mask(attention_mask, past, new),
            cache,
        })
    }

    fn block(&self, index: usize, layer: &DecoderLayer, x: &Tensor, step: &mut Step) -> Tensor {
        let x = x + self.attention(index, layer, &layer.input_norm.forward(x), step);
        let mlp = layer.mlp(&layer.post_attention_norm.forward(&x));
        x + mlp
    }

    fn attention(&self, index: usize, layer: &DecoderLayer, x: &Tensor, step: &mut Step) -> Tensor {
        let (batch, seq) = (x.size()[0], x.size()[1]);
        let c = &self.config;
        let split = |t: Tensor, heads: i64| t.view([batch, seq, heads, c.head_dim]).transpose(1, 2);
        let q = step
            .angles
            .apply(&split(layer.q_proj.forward(x), c.num_attention_heads));
        let k = step
            .angles
            .apply(&split(layer.k_proj.forward(x), c.num_key_value_heads));
        let v = split(layer.v_proj.forward(x), c.num_key_value_heads);
        let (k, v) = match step.cache.as_deref_mut() {
            Some(cache) => cache.extend(index, k, v),
            None => (k, v),
        };
        let grouped = c.num_key_value_heads != c.num_attention_heads;
        let out = Tensor::scaled_dot_product_attention(
            &q,
            &k,
            &v,
            Some(&step.mask),
            0.0,
            false,
            None,
            grouped,
        );
        layer.o_proj.forward(&out.transpose(1, 2).reshape([
            batch,
            seq,
            c.num_attention_heads * c.head_dim,
        ]))
    }
}

/// The boolean attention mask `[batch, 1, new, past + new]`: a query sees the unpadded keys at
/// or before its own place, and always itself (so a padding query has a finite output).
fn visible_keys_mask(attention_mask: &Tensor, past: i64, new: i64) -> Tensor {
    let (batch, total) = (attention_mask.size()[0], past + new);
    let device = attention_mask.device();
    let queries = Tensor::arange_start(past, total, (Kind::Int64, device)).view([1, 1, new, 1]);
    let keys = Tensor::arange(total, (Kind::Int64, device)).view([1, 1, 1, total]);
    let unpadded = attention_mask
        .to_kind(Kind::Bool)
        .view([batch, 1, 1, total]);
    unpadded
        .logical_and(&keys.le_tensor(&queries))
        .logical_or(&keys.eq_tensor(&queries))
}

impl LinearHost for Decoder {
    /// Per block: q, k, v, o, gate, up, down projections.
    fn linears(&self) -> Vec<&Linear> {
        self.layers.iter().flat_map(DecoderLayer::linears).collect()
    }

    fn linears_mut(&mut self) -> Vec<&mut Linear> {
        self.layers
            .iter_mut()
            .flat_map(DecoderLayer::linears_mut)
            .collect()
    }
}

/// A decoder with its language-modelling head (`lm_head`, tied to the embeddings or not), as
/// Hugging Face's `LlamaForCausalLM` / `MistralForCausalLM` / `Qwen2ForCausalLM`.
#[derive(Debug)]
pub struct CausalLm {
    /// The decoder stack.
    pub decoder: Decoder,
    lm_head: Linear,
    head_params: Vec<(String, Tensor)>,
}

impl CausalLm {
    /// Loads a Hugging Face folder (single or sharded safetensors, any float dtype) onto
    /// `device`, computing in f32.
    pub fn load(dir: &Path, device: Device) -> Result<Self> {
        Self::load_as(dir, device, ComputeDtype::F32)
    }

    /// As [`load`](Self::load), computing in `dtype` (weights, activations and logits; the
    /// loss's log-softmax and RMSNorm's statistics are f32).
    pub fn load_as(dir: &Path, device: Device, dtype: ComputeDtype) -> Result<Self> {
        let config = DecoderConfig::from_dir(dir)?;
        let arch = format!("{:?}", config.arch).to_lowercase();
        let weights = WeightMap::load(dir, "", &arch, device)?;
        let mut b = Builder::new(weights, dtype.kind());
        let tied = config.tie_word_embeddings;
        let (h, vocab) = (config.hidden_size, config.vocab_size);
        let decoder = Decoder::build(config, &mut b, device)?;
        let decoder_params = b.take_params();
        let lm_head = if tied {
            Linear::new("lm_head", decoder.embed_tokens.shallow_clone(), None)
        } else {
            b.linear("lm_head", h, vocab, false)?
        };
        let (head_params, leftover) = b.finish();
        tracing::debug!("unused checkpoint tensors: {leftover:?}");
        Ok(Self {
            decoder: Decoder {
                params: decoder_params,
                ..decoder
            },
            lm_head,
            head_params,
        })
    }

    /// The config of the decoder.
    pub fn config(&self) -> &DecoderConfig {
        self.decoder.config()
    }

    /// `lm_head`'s own parameters (none when tied to the embeddings).
    pub fn head_parameters(&self) -> &[(String, Tensor)] {
        &self.head_params
    }

    /// Next-token logits `[batch, seq, vocab]` of a padded batch.
    pub fn forward(&self, input: &DecoderInput) -> Result<Tensor> {
        let hidden = self.decoder.forward(input, false)?.last_hidden_state;
        Ok(self.logits(&hidden))
    }

    /// Logits of decoder hidden states (`[.., hidden]` → `[.., vocab]`).
    pub fn logits(&self, hidden: &Tensor) -> Tensor {
        self.lm_head.forward(hidden)
    }
}

impl LinearHost for CausalLm {
    /// The decoder's projections, then `lm_head`.
    fn linears(&self) -> Vec<&Linear> {
        let mut linears = self.decoder.linears();
        linears.push(&self.lm_head);
        linears
    }

    fn linears_mut(&mut self) -> Vec<&mut Linear> {
        let mut linears = self.decoder.linears_mut();
        linears.push(&mut self.lm_head);
        linears
    }
}
