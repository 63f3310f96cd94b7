//! Predictions of a causal LM on a prompt split: the most likely candidate answer, or a greedy
//! generation cut at a stop string.

use serde::{Deserialize, Serialize};
use taso_data::{
    plan_eval_batches, restore_order, PromptPredictions, PromptSplit, PromptTaskSpec,
    PromptTokenizer,
};
use tch::{Device, Kind, Tensor};

use crate::decoder::{left_padded, CausalLm, DecoderInput, GreedySettings, KvCache};
use crate::error::Result;

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
    let scores = candidate_scores(model, split, batch_size)?;
    Ok(split.pick_candidates(&split.candidate_rows(), &scores))
}

/// The summed log-probability of every candidate given its prompt, over
/// [`PromptSplit::candidate_rows`], for candidates of any length: each batch of `batch_size`
/// prompts runs once; the log-softmax after each prompt scores the candidates' first tokens,
/// and where a candidate has more, the prompts' keys and values are copied to one row per
/// candidate and only the candidates' tokens run after them.
fn candidate_scores(model: &CausalLm, split: &PromptSplit, batch_size: usize) -> Result<Vec<f64>> {
    let lengths: Vec<usize> = split.encodings.iter().map(|e| e.prompt_ids.len()).collect();
    let plan = plan_eval_batches(&lengths, batch_size);
    let mut per_example = Vec::with_capacity(split.len());
    tch::no_grad(|| -> Result<()> {
        for indices in &plan {
            per_example.extend(batch_candidate_scores(model, split, indices)?);
        }
        Ok(())
    })?;
    Ok(restore_order(&plan, per_example).concat())
}

/// For each example of `indices`, the summed log-probability of each of its candidates.
fn batch_candidate_scores(
    model: &CausalLm,
    split: &PromptSplit,
    indices: &[usize],
) -> Result<Vec<Vec<f64>>> {
    let device = model.decoder.device();
    let ids = |tokens: &[u32]| -> Vec<i64> { tokens.iter().map(|&t| i64::from(t)).collect() };
    let prompts: Vec<Vec<i64>> = indices
        .iter()
        .map(|&i| ids(&split.encodings[i].prompt_ids))
        .collect();
    // One row per (example, candidate): which prompt it continues, and the candidate's ids.
    let (owners, answers): (Vec<i64>, Vec<Vec<i64>>) = indices
        .iter()
        .enumerate()
        .flat_map(|(row, &i)| {
            let answers = &split.encodings[i].answer_ids;
            answers.iter().map(move |a| (row as i64, ids(a)))
        })
        .unzip();
    let (prompt_ids, prompt_mask) = left_padded(&prompts, device);
    // The prompts' keys and values are kept only when a candidate continues past its first token.
    let continued = answers.iter().any(|a| a.len() > 1);
    let mut cache = KvCache::new();
    let hidden = match continued {
        true => model
            .decoder
            .forward_cached(&prompt_ids, &prompt_mask, &mut cache)?,
        false => {
            let input = DecoderInput {
                input_ids: &prompt_ids,
                attention_mask: &prompt_mask,
            };
            model.decoder.forward(&input, false)?
        }
    }
    .last_hidden_state;
    let first = model
        .logits(&hidden.select(1, -1))
        .log_softmax(-1, Kind::Float);
    let vocab = first.size()[1];
    let cells: Vec<i64> = owners
        .iter()
        .zip(&answers)
        .map(|(&owner, answer)| owner * vocab + answer[0])
        .collect();
    let mut sums = first
        .view([-1])
        .index_select(0, &Tensor::from_slice(&cells).to_device(device));
    if continued {
        // As many candidate rows at a time as the batch has prompts: the copies of the prompts'
        // keys and values stay the size of the cache itself.
        let chunk = indices.len();
        let rest = answers
            .chunks(chunk)
            .zip(owners.chunks(chunk))
            .map(|(answers, owners)| {
                let owners = Tensor::from_slice(owners).to_device(device);
                continuation_log_probs(model, answers, &prompt_mask, &owners, &cache)
            })
            .collect::<Result<Vec<Tensor>>>()?;
        sums += Tensor::cat(&rest, 0);
    }
    let sums = Vec::<f64>::try_from(sums.to_kind(Kind::Double).to_device(Device::Cpu))?;
    let mut sums = sums.into_iter();
    Ok(indices
        .iter()
        .map(|&i| {
            let count = split.encodings[i].answer_ids.len();
            sums.by_ref().take(count).collect()
        })
        .collect())
}

/// Per row, the log-probability of its candidate's tokens after the first, given the prompt
/// `owners[row]` (whose keys and values `cache` holds, masked by `prompt_mask`) and the tokens
/// before: the candidates (all but their last token) run as one right-padded batch after a
/// copy of their prompts' cache (zeros when every candidate is one token).
fn continuation_log_probs(
    model: &CausalLm,
    answers: &[Vec<i64>],
    prompt_mask: &Tensor,
    owners: &Tensor,
    cache: &KvCache,
) -> Result<Tensor> {
    let device = prompt_mask.device();
    let width = answers.iter().map(Vec::len).max().unwrap_or(1) - 1;
    if width == 0 {
        return Ok(Tensor::zeros([answers.len() as i64], (Kind::Float, device)));
    }
    let (mut feed, mut mask) = (Vec::new(), Vec::new());
    let (mut places, mut targets, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    for (row, answer) in answers.iter().enumerate() {
        let fed = answer.len() - 1;
        feed.extend(
            answer[..fed]
                .iter()
                .copied()
                .chain(std::iter::repeat_n(0, width - fed)),
        );
        mask.extend((0..width).map(|j| i64::from(j < fed)));
        for (j, &target) in answer[1..].iter().enumerate() {
            places.push((row * width + j) as i64);
            targets.push(target);
            rows.push(row as i64);
        }
    }
    let shape = [answers.len() as i64, width as i64];
    let on_device = |values: &[i64]| Tensor::from_slice(values).to_device(device);
    let feed = on_device(&feed).view(shape);
    let mask = Tensor::cat(
        &[
            prompt_mask.index_select(0, owners),
            on_device(&mask).view(shape),
        ],
        1,
    );
    let mut cache = cache.select_rows(owners);
    let hidden = model
        .decoder
        .forward_cached(&feed, &mask, &mut cache)?
        .last_hidden_state;
    let states = hidden
        .view([-1, hidden.size()[2]])
        .index_select(0, &on_device(&places));
    let log_probs = model
        .logits(&states)
        .log_softmax(-1, Kind::Float)
        .gather(1, &on_device(&targets).unsqueeze(1), false)
        .squeeze_dim(1);
    Ok(
        Tensor::zeros([answers.len() as i64], (Kind::Float, device)).index_add(
            0,
            &on_device(&rows),
            &log_probs,
        ),
    )
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

    fn tiny_decoder() -> (tempfile::TempDir, CausalLm) {
        let dir = tempfile::tempdir().unwrap();
        crate::testing::TinyDecoderSpec::default()
            .write(dir.path())
            .unwrap();
        let model = CausalLm::load(dir.path(), Device::Cpu).unwrap();
        (dir, model)
    }

    fn split(examples: &[(&[u32], &[&[u32]])]) -> PromptSplit {
        let encodings = examples
            .iter()
            .map(|(prompt, answers)| taso_data::PromptEncoding {
                prompt_ids: prompt.to_vec(),
                answer_ids: answers.iter().map(|a| a.to_vec()).collect(),
                gold: Some(0),
                truncated: 0,
            })
            .collect();
        PromptSplit {
            encodings,
            pad_id: 0,
        }
    }

    /// The reference: every prompt + candidate as its own unpadded sequence through the plain
    /// forward, the candidate's log-probabilities summed; rows as [`PromptSplit::candidate_rows`].
    fn one_sequence_per_row(model: &CausalLm, split: &PromptSplit) -> Vec<f64> {
        let mut scores = Vec::new();
        for row in split.candidate_rows() {
            let e = &split.encodings[row.example];
            let answer = &e.answer_ids[row.candidate];
            let ids: Vec<i64> = e
                .prompt_ids
                .iter()
                .chain(answer)
                .map(|&t| i64::from(t))
                .collect();
            let ids = Tensor::from_slice(&ids).unsqueeze(0);
            let mask = ids.ones_like();
            let input = DecoderInput {
                input_ids: &ids,
                attention_mask: &mask,
            };
            let hidden = tch::no_grad(|| model.decoder.forward(&input, false))
                .unwrap()
                .last_hidden_state;
            let log_probs = model
                .logits(&hidden.squeeze_dim(0))
                .log_softmax(-1, Kind::Float);
            let start = e.prompt_ids.len() - 1;
            let score: f64 = answer
                .iter()
                .enumerate()
                .map(|(j, &t)| log_probs.double_value(&[(start + j) as i64, i64::from(t)]))
                .sum();
            scores.push(score);
        }
        scores
    }

    fn assert_close(reference: &[f64], ours: &[f64]) {
        assert_eq!(reference.len(), ours.len());
        for (a, b) in reference.iter().zip(ours) {
            assert!((a - b).abs() < 1e-4, "one sequence per row {a} vs ours {b}");
        }
        assert!(reference.iter().all(|&s| s < 0.0));
    }

    #[test]
    fn single_token_candidates_are_scored_from_one_forward_per_prompt() {
        let (_dir, model) = tiny_decoder();
        // Prompts of different lengths (padding inside a batch), 2 to 4 candidates each.
        let split = split(&[
            (&[2, 30, 31, 32, 33, 3], &[&[7], &[8]]),
            (&[2, 40], &[&[9], &[10], &[11], &[12]]),
            (&[2, 41, 42, 43], &[&[7], &[8], &[9]]),
            (&[2, 50, 51], &[&[8], &[7]]),
        ]);
        let reference = one_sequence_per_row(&model, &split);
        assert_close(&reference, &candidate_scores(&model, &split, 3).unwrap());
        let rows = split.candidate_rows();
        assert_eq!(
            split.pick_candidates(&rows, &reference),
            pick_candidates(&model, &split, 2).unwrap()
        );
    }

    #[test]
    fn candidates_of_several_tokens_continue_the_cached_prompt() {
        let (_dir, model) = tiny_decoder();
        // Candidates of 1 to 4 tokens beside each other, prompts of different lengths.
        let split = split(&[
            (&[2, 30, 31, 32, 33, 3], &[&[7, 8, 9], &[8]]),
            (&[2, 40], &[&[9, 10], &[10, 9], &[11, 12, 13, 14]]),
            (&[2, 41, 42, 43], &[&[7], &[8, 7]]),
            (&[2, 50, 51], &[&[8, 8, 8], &[7, 7, 7]]),
        ]);
        let reference = one_sequence_per_row(&model, &split);
        for batch_size in [1, 3, 4] {
            assert_close(
                &reference,
                &candidate_scores(&model, &split, batch_size).unwrap(),
            );
        }
        let rows = split.candidate_rows();
        assert_eq!(
            split.pick_candidates(&rows, &reference),
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
