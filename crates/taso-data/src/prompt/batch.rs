//! A prompt split tokenized once, cut into padded causal-LM batches.
//!
//! A training row is a prompt followed by its gold answer. Scoring pairs each example with every
//! candidate ([`PromptSplit::candidate_rows`]), so that a model's summed log-probability of each
//! candidate's tokens picks the prediction ([`PromptSplit::pick_candidates`]). Plans come from
//! the usual planners ([`crate::plan_batches`], [`crate::plan_eval_batches`]) over
//! [`PromptSplit::training_lengths`] or the prompts' lengths.

use super::read::PromptExample;
use super::spec::PromptTaskSpec;
use super::tokenize::{PromptEncoding, PromptTokenizer};
use crate::DataError;

/// The label id of positions that carry no loss (PyTorch's `ignore_index` default).
pub const IGNORE_INDEX: i64 = -100;

/// A right-padded batch for a causal LM: row-major `[batch_size, seq_len]` data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CausalBatch {
    /// Number of rows.
    pub batch_size: usize,
    /// Length of every row: the longest member's token count.
    pub seq_len: usize,
    /// Prompt then answer ids, pad id after each row's end.
    pub input_ids: Vec<i64>,
    /// 1 on real tokens, 0 on padding.
    pub attention_mask: Vec<i64>,
    /// 1 exactly on the answer's tokens (EOS included for a free-form answer), 0 elsewhere.
    pub loss_mask: Vec<i64>,
    /// The input id where `loss_mask` is 1, [`IGNORE_INDEX`] elsewhere (unshifted: position `t`
    /// is predicted from the logits at `t - 1`).
    pub label_ids: Vec<i64>,
}

/// The choice between candidate answers that the first answer token makes, for a batch of rows
/// (see [`PromptSplit::first_token_choices`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstTokenChoices {
    /// Candidates per row.
    pub candidates: usize,
    /// Every candidate's first token id, row by row (`rows × candidates`).
    pub ids: Vec<i64>,
    /// The gold candidate's place in its row.
    pub gold: Vec<i64>,
}

/// One scored pair: example `example` and its candidate `candidate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CandidateRow {
    /// Index of the example in the split.
    pub example: usize,
    /// Index of the candidate in the example's answers.
    pub candidate: usize,
}

/// The encodings of one prompt split, with the pad id to batch them.
#[derive(Debug, Clone)]
pub struct PromptSplit {
    /// Token ids per example.
    pub encodings: Vec<PromptEncoding>,
    /// Padding token id.
    pub pad_id: u32,
}

impl PromptSplit {
    /// Tokenizes `examples` of `task` with `tokenizer`.
    pub fn new(
        tokenizer: &PromptTokenizer,
        task: &PromptTaskSpec,
        examples: &[PromptExample],
    ) -> Result<Self, DataError> {
        Ok(PromptSplit {
            encodings: tokenizer.encode(task, examples)?,
            pad_id: tokenizer.pad_id(),
        })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.encodings.len()
    }

    /// Whether the split has no example.
    pub fn is_empty(&self) -> bool {
        self.encodings.is_empty()
    }

    /// The gold answer position of every example; fails on the first example without one.
    pub fn gold(&self) -> Result<Vec<usize>, DataError> {
        self.encodings
            .iter()
            .enumerate()
            .map(|(example, e)| {
                e.gold.ok_or(DataError::MissingAnswer {
                    what: "scoring",
                    example,
                })
            })
            .collect()
    }

    /// Prompt plus gold answer length of every example (for training plans); fails on a split
    /// without answers.
    pub fn training_lengths(&self) -> Result<Vec<usize>, DataError> {
        self.encodings
            .iter()
            .enumerate()
            .map(|(example, e)| {
                e.gold_ids()
                    .map(|gold| e.prompt_ids.len() + gold.len())
                    .ok_or(DataError::MissingAnswer {
                        what: "training",
                        example,
                    })
            })
            .collect()
    }

    /// The training batch of examples `indices`: each prompt followed by its gold answer.
    ///
    /// # Panics
    /// If an index is out of range or its example has no gold answer (check with
    /// [`Self::training_lengths`]).
    pub fn training_batch(&self, indices: &[usize]) -> CausalBatch {
        pad_causal(
            indices.iter().map(|&i| {
                let e = &self.encodings[i];
                let gold = e.gold_ids().expect("training rows need a gold answer");
                (e.prompt_ids.as_slice(), gold)
            }),
            self.pad_id,
        )
    }

    /// The choice each example at `indices` poses by its first answer token: every candidate's
    /// first token (`[rows × candidates]`, row-major) and the gold candidate's place (`[rows]`).
    /// `None` unless every example has a gold answer and the same number (at least two) of
    /// candidates, whose first tokens all differ.
    pub fn first_token_choices(&self, indices: &[usize]) -> Option<FirstTokenChoices> {
        let candidates = self.encodings.get(*indices.first()?)?.answer_ids.len();
        let mut choices = FirstTokenChoices {
            candidates,
            ids: Vec::with_capacity(indices.len() * candidates),
            gold: Vec::with_capacity(indices.len()),
        };
        for &i in indices {
            let e = &self.encodings[i];
            let firsts: Vec<u32> = e
                .answer_ids
                .iter()
                .filter_map(|a| a.first().copied())
                .collect();
            let distinct = firsts
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            if candidates < 2 || firsts.len() != candidates || distinct != candidates {
                return None;
            }
            choices.ids.extend(firsts.into_iter().map(i64::from));
            choices.gold.push(e.gold? as i64);
        }
        Some(choices)
    }

    /// Every (example, candidate) pair, example by example.
    pub fn candidate_rows(&self) -> Vec<CandidateRow> {
        self.encodings
            .iter()
            .enumerate()
            .flat_map(|(example, e)| {
                (0..e.answer_ids.len()).map(move |candidate| CandidateRow { example, candidate })
            })
            .collect()
    }

    /// The predicted candidate of every example: the highest of its rows' `scores` (summed answer
    /// log-probabilities), the first on ties. `rows` and `scores` are parallel and must cover
    /// every candidate of every example (e.g. [`Self::candidate_rows`] in any order).
    ///
    /// # Panics
    /// If the lengths differ, or an example gets no score.
    pub fn pick_candidates(&self, rows: &[CandidateRow], scores: &[f64]) -> Vec<usize> {
        assert_eq!(
            rows.len(),
            scores.len(),
            "pick_candidates: one score per row"
        );
        let mut best: Vec<Option<(usize, f64)>> = vec![None; self.len()];
        for (row, &score) in rows.iter().zip(scores) {
            let slot = &mut best[row.example];
            let better = match *slot {
                None => true,
                Some((candidate, top)) => {
                    score > top || (score == top && row.candidate < candidate)
                }
            };
            if better {
                *slot = Some((row.candidate, score));
            }
        }
        best.into_iter()
            .enumerate()
            .map(|(example, slot)| {
                slot.unwrap_or_else(|| panic!("pick_candidates: example {example} has no score"))
                    .0
            })
            .collect()
    }
}

/// Pads rows of (prompt, answer) to the longest row; the loss mask marks the answers.
fn pad_causal<'a>(
    rows: impl ExactSizeIterator<Item = (&'a [u32], &'a [u32])> + Clone,
    pad_id: u32,
) -> CausalBatch {
    let batch_size = rows.len();
    let seq_len = rows
        .clone()
        .map(|(prompt, answer)| prompt.len() + answer.len())
        .max()
        .unwrap_or(0);
    let cells = batch_size * seq_len;
    let mut batch = CausalBatch {
        batch_size,
        seq_len,
        input_ids: vec![i64::from(pad_id); cells],
        attention_mask: vec![0; cells],
        loss_mask: vec![0; cells],
        label_ids: vec![IGNORE_INDEX; cells],
    };
    for (row, (prompt, answer)) in rows.enumerate() {
        let start = row * seq_len;
        let answer_start = start + prompt.len();
        for (offset, &id) in prompt.iter().chain(answer).enumerate() {
            batch.input_ids[start + offset] = i64::from(id);
            batch.attention_mask[start + offset] = 1;
        }
        for (offset, &id) in answer.iter().enumerate() {
            batch.loss_mask[answer_start + offset] = 1;
            batch.label_ids[answer_start + offset] = i64::from(id);
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoding(prompt: &[u32], answers: &[&[u32]], gold: Option<usize>) -> PromptEncoding {
        PromptEncoding {
            prompt_ids: prompt.to_vec(),
            answer_ids: answers.iter().map(|a| a.to_vec()).collect(),
            gold,
            truncated: 0,
        }
    }

    fn split() -> PromptSplit {
        PromptSplit {
            encodings: vec![
                encoding(&[1, 10, 11], &[&[20], &[21, 22]], Some(1)),
                encoding(&[1, 12], &[&[20], &[21, 22], &[23]], Some(0)),
            ],
            pad_id: 0,
        }
    }

    #[test]
    fn first_token_choices_need_distinct_first_tokens_and_one_candidate_count() {
        let split = PromptSplit {
            encodings: vec![
                encoding(&[1], &[&[20], &[21, 22]], Some(1)),
                encoding(&[1, 2], &[&[20, 5], &[21]], Some(0)),
                encoding(&[1], &[&[20], &[20, 22]], Some(0)),
            ],
            pad_id: 0,
        };
        let choices = split
            .first_token_choices(&[1, 0])
            .expect("two candidates each");
        assert_eq!(choices.candidates, 2);
        assert_eq!(choices.ids, [20, 21, 20, 21]);
        assert_eq!(choices.gold, [0, 1]);
        assert!(
            split.first_token_choices(&[0, 2]).is_none(),
            "same first token"
        );
        assert!(
            self::split().first_token_choices(&[0, 1]).is_none(),
            "2 and 3 candidates"
        );
        assert!(split.first_token_choices(&[]).is_none());
    }

    #[test]
    fn training_batch_masks_exactly_the_gold_answer() {
        let split = split();
        assert_eq!(split.training_lengths().unwrap(), [5, 3]);
        let batch = split.training_batch(&[0, 1]);
        assert_eq!((batch.batch_size, batch.seq_len), (2, 5));
        assert_eq!(batch.input_ids, [1, 10, 11, 21, 22, 1, 12, 20, 0, 0]);
        assert_eq!(batch.attention_mask, [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
        assert_eq!(batch.loss_mask, [0, 0, 0, 1, 1, 0, 0, 1, 0, 0]);
        assert_eq!(
            batch.label_ids,
            [-100, -100, -100, 21, 22, -100, -100, 20, -100, -100]
        );
    }

    #[test]
    fn candidate_rows_cover_every_candidate_and_pick_the_best() {
        let split = split();
        let rows = split.candidate_rows();
        assert_eq!(rows.len(), 5, "2 + 3 candidates");
        assert_eq!((rows[3].example, rows[3].candidate), (1, 1));
        // Scores in a shuffled row order; example 1 ties its candidates 0 and 2: the first wins.
        let order = [4, 1, 2, 0, 3];
        let shuffled: Vec<CandidateRow> = order.iter().map(|&i| rows[i]).collect();
        let scores = [-1.0, -0.5, -1.0, -2.0, -3.0];
        assert_eq!(split.pick_candidates(&shuffled, &scores), [1, 0]);
        assert_eq!(split.gold().unwrap(), [1, 0]);
    }

    #[test]
    fn unlabeled_examples_are_refused_for_training() {
        let split = PromptSplit {
            encodings: vec![
                encoding(&[1], &[&[2], &[3]], Some(0)),
                encoding(&[1], &[&[2], &[3]], None),
            ],
            pad_id: 0,
        };
        let err = split.training_lengths().unwrap_err().to_string();
        assert!(
            err.contains("training") && err.contains("example 1"),
            "{err}"
        );
        assert!(split.gold().is_err());
    }
}
