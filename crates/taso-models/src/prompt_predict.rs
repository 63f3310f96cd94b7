//! Predictions of a causal LM on a prompt split: the most likely candidate answer, or a greedy
//! generation cut at a stop string.

use serde::{Deserialize, Serialize};
use taso_data::{
    plan_eval_batches, restore_order, CandidateRow, PromptPredictions, PromptSplit, PromptTaskSpec,
    PromptTokenizer,
};
use tch::{Device, Kind, Tensor};

use crate::decoder::{CausalLm, DecoderInput, GreedySettings};
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
    let scores = if split.candidates_are_single_tokens() {
        single_token_scores(model, split, batch_size)?
    } else {
        row_scores(model, split, &rows, batch_size)?
    };
    Ok(split.pick_candidates(&rows, &scores))
}

/// The summed answer log-probability of every row, one forward per row (any candidate lengths).
fn row_scores(
    model: &CausalLm,
    split: &PromptSplit,
    rows: &[CandidateRow],
    batch_size: usize,
) -> Result<Vec<f64>> {
    let plan = plan_eval_batches(&split.candidate_lengths(rows), batch_size);
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
            for (&index, sum) in indices.iter().zip(Vec::<f64>::try_from(&sums)?) {
                scores[index] = sum;
            }
        }
        Ok(())
    })?;
    Ok(scores)
}

/// The same scores as [`row_scores`] over [`PromptSplit::candidate_rows`] when every candidate
/// is one token, from one forward per example: the log-softmax after the prompt's last token.
fn single_token_scores(
    model: &CausalLm,
    split: &PromptSplit,
    batch_size: usize,
) -> Result<Vec<f64>> {
    let lengths: Vec<usize> = split.encodings.iter().map(|e| e.prompt_ids.len()).collect();
    let plan = plan_eval_batches(&lengths, batch_size);
    let device = model.decoder.device();
    let mut per_example = Vec::with_capacity(split.len());
    tch::no_grad(|| -> Result<()> {
        for indices in &plan {
            let batch = CausalTensors::new(&split.prompt_batch(indices), device);
            let log_probs = next_token_log_probs(model, &batch)?;
            let vocab = log_probs.size()[1];
            let cells: Vec<i64> = indices
                .iter()
                .enumerate()
                .flat_map(|(row, &example)| {
                    let answers = &split.encodings[example].answer_ids;
                    answers
                        .iter()
                        .map(move |answer| row as i64 * vocab + i64::from(answer[0]))
                })
                .collect();
            let picked = log_probs
                .view([-1])
                .index_select(0, &Tensor::from_slice(&cells).to_device(device))
                .to_kind(Kind::Double)
                .to_device(Device::Cpu);
            let mut picked = Vec::<f64>::try_from(&picked)?.into_iter();
            for &example in indices {
                let count = split.encodings[example].answer_ids.len();
                per_example.push(picked.by_ref().take(count).collect::<Vec<f64>>());
            }
        }
        Ok(())
    })?;
    Ok(restore_order(&plan, per_example).concat())
}

/// The log-softmax over the vocabulary after each row's last real token (`[rows, vocab]`) of a
/// right-padded batch.
fn next_token_log_probs(model: &CausalLm, batch: &CausalTensors) -> Result<Tensor> {
    let input = DecoderInput {
        input_ids: &batch.input_ids,
        attention_mask: &batch.attention_mask,
    };
    let hidden = model.decoder.forward(&input, false)?.last_hidden_state;
    let width = hidden.size()[2];
    let last = (batch.attention_mask.sum_dim_intlist(1, false, Kind::Int64) - 1)
        .view([-1, 1, 1])
        .expand([-1, 1, width], false);
    let states = hidden.gather(1, &last, false).squeeze_dim(1);
    Ok(model.logits(&states).log_softmax(-1, Kind::Float))
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
    fn one_forward_per_prompt_scores_single_token_candidates_as_one_per_row() {
        let dir = tempfile::tempdir().unwrap();
        crate::testing::TinyDecoderSpec::default()
            .write(dir.path())
            .unwrap();
        let model = CausalLm::load(dir.path(), Device::Cpu).unwrap();
        let encoding = |prompt: &[u32], answers: &[u32]| taso_data::PromptEncoding {
            prompt_ids: prompt.to_vec(),
            answer_ids: answers.iter().map(|&a| vec![a]).collect(),
            gold: Some(0),
            truncated: 0,
        };
        // Prompts of different lengths (padding inside a batch), 2 to 4 candidates each.
        let split = PromptSplit {
            encodings: vec![
                encoding(&[2, 30, 31, 32, 33, 3], &[7, 8]),
                encoding(&[2, 40], &[9, 10, 11, 12]),
                encoding(&[2, 41, 42, 43], &[7, 8, 9]),
                encoding(&[2, 50, 51], &[8, 7]),
            ],
            pad_id: 0,
        };
        assert!(split.candidates_are_single_tokens());
        let rows = split.candidate_rows();
        let per_row = row_scores(&model, &split, &rows, 3).unwrap();
        let shared = single_token_scores(&model, &split, 3).unwrap();
        assert_eq!(per_row.len(), shared.len());
        for (a, b) in per_row.iter().zip(&shared) {
            assert!((a - b).abs() < 1e-5, "per-row {a} vs shared-prompt {b}");
        }
        assert!(per_row.iter().all(|&s| s < 0.0));
        assert_eq!(
            split.pick_candidates(&rows, &per_row),
            pick_candidates(&model, &split, 2).unwrap()
        );
    }

    #[test]
    fn text_is_cut_before_the_first_stop_string() {
        let stop = ["\nQuestion:".to_string(), "###".to_string()];
        assert_eq!(cut_at_stop("#### 5\nQuestion: more", &stop[..1]), "#### 5");
        assert_eq!(cut_at_stop("a ### b\nQuestion:", &stop), "a ");
        assert_eq!(cut_at_stop("plain", &stop), "plain");
    }
}
