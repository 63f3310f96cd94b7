//! Greedy generation for a batch of prompts, with or without the key/value cache.
//!
//! Prompts are left-padded so that every sequence's next token is at the last column; positions
//! count only real tokens, so padding does not shift them. The model crate knows no tokenizer:
//! stopping is by EOS id or by a caller's predicate on the generated ids (e.g. "the decoded text
//! contains a stop string").

use super::cache::KvCache;
use super::model::{CausalLm, DecoderInput};
use crate::error::{ModelError, Result};
use tch::{Device, Kind, Tensor};

/// How to decode.
#[derive(Debug, Clone)]
pub struct GreedySettings {
    /// Most tokens generated per prompt.
    pub max_new_tokens: usize,
    /// Generation of a sequence ends at any of these ids (not included in the output).
    pub eos_token_ids: Vec<i64>,
    /// Reuse keys and values across steps (`false` reruns the whole sequence each step; same
    /// tokens, much slower: a reference for tests).
    pub use_cache: bool,
}

/// Why the generation of a sequence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// An EOS id was generated.
    Eos,
    /// The stop predicate said so.
    Stop,
    /// `max_new_tokens` were generated.
    Length,
}

/// The continuation of one prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// Generated ids (without the EOS id; with the token that triggered the stop predicate).
    pub tokens: Vec<i64>,
    /// Why generation ended.
    pub finish: Finish,
}

impl CausalLm {
    /// Greedily continues every prompt (token ids, non-empty), without gradients. `stop` is asked
    /// after each token with the ids generated so far for that prompt.
    pub fn generate_greedy(
        &self,
        prompts: &[Vec<i64>],
        settings: &GreedySettings,
        stop: &dyn Fn(&[i64]) -> bool,
    ) -> Result<Vec<Generated>> {
        if let Some(index) = prompts.iter().position(Vec::is_empty) {
            return Err(ModelError::DecoderInput(format!(
                "prompt {index} is empty; a prompt needs at least one token (e.g. BOS)"
            )));
        }
        let mut outputs: Vec<Generated> = prompts
            .iter()
            .map(|_| Generated {
                tokens: Vec::new(),
                finish: Finish::Length,
            })
            .collect();
        if prompts.is_empty() || settings.max_new_tokens == 0 {
            return Ok(outputs);
        }
        tch::no_grad(|| self.decode(prompts, settings, stop, &mut outputs))?;
        Ok(outputs)
    }

    fn decode(
        &self,
        prompts: &[Vec<i64>],
        settings: &GreedySettings,
        stop: &dyn Fn(&[i64]) -> bool,
        outputs: &mut [Generated],
    ) -> Result<()> {
        let (mut ids, mut mask) = left_padded(prompts, self.decoder.device());
        let mut cache = settings.use_cache.then(KvCache::new);
        let mut step_ids = ids.shallow_clone();
        let mut running = vec![true; prompts.len()];
        for _ in 0..settings.max_new_tokens {
            let hidden = match cache.as_mut() {
                Some(cache) => self.decoder.forward_cached(&step_ids, &mask, cache)?,
                None => {
                    let input = DecoderInput {
                        input_ids: &ids,
                        attention_mask: &mask,
                    };
                    self.decoder.forward(&input, false)?
                }
            };
            let next = self
                .logits(&hidden.last_hidden_state.select(1, -1))
                .argmax(-1, false);
            let tokens = Vec::<i64>::try_from(&next).expect("argmax gives i64 ids");
            for ((output, running), token) in outputs.iter_mut().zip(&mut running).zip(tokens) {
                if *running {
                    *running = record(output, token, settings, stop);
                }
            }
            if !running.contains(&true) {
                break;
            }
            step_ids = next.unsqueeze(1);
            ids = Tensor::cat(&[&ids, &step_ids], 1);
            mask = Tensor::cat(&[&mask, &step_ids.ones_like()], 1);
        }
        Ok(())
    }
}

/// Adds `token` to a running sequence; returns whether it keeps running.
fn record(
    output: &mut Generated,
    token: i64,
    settings: &GreedySettings,
    stop: &dyn Fn(&[i64]) -> bool,
) -> bool {
    if settings.eos_token_ids.contains(&token) {
        output.finish = Finish::Eos;
        return false;
    }
    output.tokens.push(token);
    if stop(&output.tokens) {
        output.finish = Finish::Stop;
        return false;
    }
    true
}

/// The prompts left-padded with id 0 into `[batch, longest]` ids and attention mask.
pub(crate) fn left_padded(prompts: &[Vec<i64>], device: Device) -> (Tensor, Tensor) {
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(prompts.len() * longest);
    let mut mask = Vec::with_capacity(prompts.len() * longest);
    for prompt in prompts {
        let padding = longest - prompt.len();
        ids.extend(std::iter::repeat_n(0, padding).chain(prompt.iter().copied()));
        mask.extend(std::iter::repeat_n(0i64, padding).chain(std::iter::repeat_n(1, prompt.len())));
    }
    let shape = [prompts.len() as i64, longest as i64];
    let tensor = |values: &[i64]| {
        Tensor::from_slice(values)
            .view(shape)
            .to_kind(Kind::Int64)
            .to_device(device)
    };
    (tensor(&ids), tensor(&mask))
}
