//! Predictions of a causal LM on a prompt split: the most likely candidate answer, or a greedy
//! generation cut at a stop string.

use serde::{Deserialize, Serialize};
use taso_data::{
    plan_eval_batches, restore_order, PromptPredictions, PromptSplit, PromptTaskSpec,
    PromptTokenizer,
};
use tch::{Device, Kind, Tensor};

use crate::decoder::{CausalLm, GreedySettings};
use crate::error::Result;
use crate::task_model::{answer_log_probs, CausalTensors};

/// How free-form answers are generated (`[generate]`); every key is optional.
///
/// ```toml
/// [generate]
/// max_new_tokens = 256
/// stop = ["\nQuestion:"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationConfig {
    /// Most tokens generated per example (default 256).
    pub max_new_tokens: usize,
    /// Generation ends once the text contains one of these, and the text is cut before it
    /// (default: a new "Question:" line). EOS always ends it.
    pub stop: Vec<String>,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        Self {
            max_new_tokens: 256,
            stop: vec!["\nQuestion:".to_string()],
        }
    }
}

/// Predicts every example of `split` (no gradients): for a task with candidates, the one with
/// the highest summed log-probability given the prompt; else the greedy continuation (KV cache)
/// of the prompt, cut at a stop string. Batches of `batch_size` rows, sorted by length.
pub fn predict_prompts(
    model: &CausalLm,
    task: &PromptTaskSpec,
    split: &PromptSplit,
    tokenizer: &PromptTokenizer,
    batch_size: usize,
    generation: &GenerationConfig,
) -> Result<PromptPredictions> {
    if task.answer.has_candidates() {
        pick_candidates(model, split, batch_size).map(PromptPredictions::Choices)
    } else {
        generate(model, split, tokenizer, batch_size, generation)
            .map(PromptPredictions::Generations)
    }
}

fn pick_candidates(model: &CausalLm, split: &PromptSplit, batch_size: usize) -> Result<Vec<usize>> {
    let rows = split.candidate_rows();
    let plan = plan_eval_batches(&split.candidate_lengths(&rows), batch_size);
    let device = model.decoder.device();
    let mut scores = vec![0.0; rows.len()];
    tch::no_grad(|| -> Result<()> {
        for indices in &plan {
            let batch_rows: Vec<_> = indices.iter().map(|&i| rows[i]).collect();
            let batch = CausalTensors::new(&split.candidate_batch(&batch_rows), device);
            let (log_probs, row) = answer_log_probs(model, &batch)?;
            let sums = Tensor::zeros([batch.rows()], (Kind::Float, device))
                .index_add(0, &row, &log_probs)
                .to_kind(Kind::Double)
                .to_device(Device::Cpu);
            let sums = Vec::<f64>::try_from(&sums)?;
            for (&index, sum) in indices.iter().zip(sums) {
                scores[index] = sum;
            }
        }
        Ok(())
    })?;
    Ok(split.pick_candidates(&rows, &scores))
}

fn generate(
    model: &CausalLm,
    split: &PromptSplit,
    tokenizer: &PromptTokenizer,
    batch_size: usize,
    generation: &GenerationConfig,
) -> Result<Vec<String>> {
    let lengths: Vec<usize> = split.encodings.iter().map(|e| e.prompt_ids.len()).collect();
    let plan = plan_eval_batches(&lengths, batch_size);
    let settings = GreedySettings {
        max_new_tokens: generation.max_new_tokens,
        eos_token_ids: model.config().eos_token_ids.clone(),
        use_cache: true,
    };
    let text = |ids: &[i64]| {
        let ids: Vec<u32> = ids.iter().map(|&id| id as u32).collect();
        tokenizer.decode(&ids)
    };
    let stopped = |ids: &[i64]| {
        text(ids).is_ok_and(|t| generation.stop.iter().any(|s| t.contains(s.as_str())))
    };
    let mut texts = Vec::with_capacity(split.len());
    for (done, indices) in plan.iter().enumerate() {
        let prompts: Vec<Vec<i64>> = indices
            .iter()
            .map(|&i| {
                split.encodings[i]
                    .prompt_ids
                    .iter()
                    .map(|&id| i64::from(id))
                    .collect()
            })
            .collect();
        for generated in model.generate_greedy(&prompts, &settings, &stopped)? {
            texts.push(cut_at_stop(&text(&generated.tokens)?, &generation.stop));
        }
        tracing::info!("generated {}/{} batches", done + 1, plan.len());
    }
    Ok(restore_order(&plan, texts))
}

/// `text` up to the first stop string.
fn cut_at_stop(text: &str, stop: &[String]) -> String {
    let end = stop
        .iter()
        .filter_map(|s| text.find(s.as_str()))
        .min()
        .unwrap_or(text.len());
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_before_the_first_stop_string() {
        let stop = ["\nQuestion:".to_string(), "###".to_string()];
        assert_eq!(cut_at_stop("#### 5\nQuestion: more", &stop[..1]), "#### 5");
        assert_eq!(cut_at_stop("a ### b\nQuestion:", &stop), "a ");
        assert_eq!(cut_at_stop("plain", &stop), "plain");
    }
}
