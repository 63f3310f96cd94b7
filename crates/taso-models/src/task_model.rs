//! The model a run trains, whatever its family: an encoder classifier on a labelled task or a
//! causal LM on a prompt task, with one loss and one set of parameter groups for the stages.

use crate::batch::BatchTensors;
use crate::decoder::{CausalLm, DecoderInput};
use crate::encoder::SequenceClassifier;
use crate::error::{ModelError, Result};
use crate::layers::{Linear, LinearHost};
use taso_data::{CausalBatch, IGNORE_INDEX};
use tch::{Device, Kind, Tensor};

/// The tensors of one causal-LM batch, on a device (`[batch, seq]` each).
pub struct CausalTensors {
    /// Prompt then answer ids, right-padded.
    pub input_ids: Tensor,
    /// 1 on real tokens.
    pub attention_mask: Tensor,
    /// The answer's ids, [`IGNORE_INDEX`] elsewhere (unshifted).
    pub label_ids: Tensor,
}

impl CausalTensors {
    /// Copies `batch` to `device` (one copy per field).
    pub fn new(batch: &CausalBatch, device: Device) -> Self {
        let shape = [batch.batch_size as i64, batch.seq_len as i64];
        let field = |values: &[i64]| Tensor::from_slice(values).view(shape).to_device(device);
        Self {
            input_ids: field(&batch.input_ids),
            attention_mask: field(&batch.attention_mask),
            label_ids: field(&batch.label_ids),
        }
    }

    /// Rows in the batch.
    pub fn rows(&self) -> i64 {
        self.input_ids.size()[0]
    }

    /// The decoder's view of the batch.
    pub fn decoder_input(&self) -> DecoderInput<'_> {
        DecoderInput {
            input_ids: &self.input_ids,
            attention_mask: &self.attention_mask,
        }
    }
}

/// One batch of either kind.
pub enum TaskBatch {
    /// Encoder inputs with class ids or scores.
    Classification(BatchTensors),
    /// Prompt + answer rows with answer-only labels.
    Causal(CausalTensors),
}

impl TaskBatch {
    /// Rows in the batch.
    pub fn rows(&self) -> i64 {
        match self {
            TaskBatch::Classification(b) => b.input_ids.size()[0],
            TaskBatch::Causal(b) => b.rows(),
        }
    }

    /// 1 on real tokens, 0 on padding, `[rows, seq]`.
    pub fn attention_mask(&self) -> &Tensor {
        match self {
            TaskBatch::Classification(b) => &b.attention_mask,
            TaskBatch::Causal(b) => &b.attention_mask,
        }
    }

    /// How many terms the batch's loss is the mean of: rows of a classification batch, answer
    /// tokens of a causal one. Data-parallel training weighs each rank's share by it.
    pub fn loss_terms(&self) -> i64 {
        match self {
            TaskBatch::Classification(b) => b.input_ids.size()[0],
            TaskBatch::Causal(b) => b
                .label_ids
                .ne(IGNORE_INDEX)
                .sum(Kind::Int64)
                .int64_value(&[]),
        }
    }
}

/// A run's model: an encoder with its task head, or a decoder with its (frozen) LM head.
#[derive(Debug)]
pub enum TaskModel {
    /// BERT/RoBERTa with a classification or regression head.
    Classifier(SequenceClassifier),
    /// LLaMA/Mistral/Qwen2 with its language-modelling head.
    CausalLm(CausalLm),
}

impl TaskModel {
    /// The base model's parameters (encoder or decoder stack), by Hugging Face name.
    pub fn base_parameters(&self) -> &[(String, Tensor)] {
        match self {
            TaskModel::Classifier(m) => m.encoder.named_parameters(),
            TaskModel::CausalLm(m) => m.decoder.named_parameters(),
        }
    }

    /// The task head's trainable parameters: the classifier head; none for a causal LM, whose
    /// `lm_head` stays frozen.
    pub fn head_parameters(&self) -> &[(String, Tensor)] {
        match self {
            TaskModel::Classifier(m) => m.head_parameters(),
            TaskModel::CausalLm(_) => &[],
        }
    }

    /// The mean loss of `batch`: cross-entropy or MSE of the classifier (dropout when `train`),
    /// or the mean next-token cross-entropy over exactly the answer tokens of a causal LM.
    pub fn loss(&self, batch: &TaskBatch, train: bool) -> Result<Tensor> {
        match (self, batch) {
            (TaskModel::Classifier(m), TaskBatch::Classification(b)) => {
                Ok(m.loss(&m.forward(&b.encoder_input(), train), labels_of(b)?))
            }
            (TaskModel::CausalLm(m), TaskBatch::Causal(b)) => {
                Ok(answer_log_probs(m, b)?.0.mean(Kind::Float).neg())
            }
            _ => Err(other_family()),
        }
    }

    /// Runs [`loss`](Self::loss) and back-propagates it times `scale` (1, or a
    /// [`LossScale`](crate::LossScale)'s factor under f16), into every tensor that records
    /// gradients; returns the loss (detached, unscaled). With `checkpointed`, each transformer
    /// block keeps only its input and is recomputed during the backward pass (see
    /// [`crate::checkpoint`]): the same gradients for far less activation memory, for one more
    /// forward pass.
    pub fn loss_backward(
        &self,
        batch: &TaskBatch,
        train: bool,
        checkpointed: bool,
        scale: f64,
    ) -> Result<Tensor> {
        if !checkpointed {
            let loss = self.loss(batch, train)?;
            (&loss * scale).f_backward()?;
            return Ok(loss.detach());
        }
        match (self, batch) {
            (TaskModel::Classifier(m), TaskBatch::Classification(b)) => {
                m.checkpointed_backward(&b.encoder_input(), labels_of(b)?, train, scale)
            }
            (TaskModel::CausalLm(m), TaskBatch::Causal(b)) => {
                m.decoder
                    .checkpointed_backward(&b.decoder_input(), scale, |hidden| {
                        Ok(answer_log_probs_at(m, b, hidden).0.mean(Kind::Float).neg())
                    })
            }
            _ => Err(other_family()),
        }
    }
}

fn labels_of(batch: &BatchTensors) -> Result<&Tensor> {
    batch.labels.as_ref().ok_or_else(|| {
        ModelError::Batch(
            "a classification batch without labels gives no loss; train and score on labelled splits".into(),
        )
    })
}

fn other_family() -> ModelError {
    ModelError::Batch("the batch is of the other model family (classification vs prompt)".into())
}

/// The log-probability of every answer token of `batch` given what precedes it, and the row it
/// belongs to (`[answer tokens]` each). Only answer positions go through `lm_head`.
pub fn answer_log_probs(model: &CausalLm, batch: &CausalTensors) -> Result<(Tensor, Tensor)> {
    let hidden = model
        .decoder
        .forward(&batch.decoder_input(), false)?
        .last_hidden_state;
    Ok(answer_log_probs_at(model, batch, &hidden))
}

/// [`answer_log_probs`] from the decoder's last hidden state.
fn answer_log_probs_at(
    model: &CausalLm,
    batch: &CausalTensors,
    hidden: &Tensor,
) -> (Tensor, Tensor) {
    let (seq, width) = {
        let size = hidden.size();
        (size[1], size[2])
    };
    // Position t predicts token t + 1.
    let predicted = batch.label_ids.narrow(1, 1, seq - 1).reshape([-1]);
    let at = predicted.ne(IGNORE_INDEX).nonzero().squeeze_dim(1);
    let states = hidden
        .narrow(1, 0, seq - 1)
        .reshape([-1, width])
        .index_select(0, &at);
    let targets = predicted.index_select(0, &at);
    let log_probs = model
        .logits(&states)
        .log_softmax(-1, Kind::Float)
        .gather(1, &targets.unsqueeze(1), false)
        .squeeze_dim(1);
    (log_probs, at.floor_divide_scalar(seq - 1))
}

impl LinearHost for TaskModel {
    fn linears(&self) -> Vec<&Linear> {
        match self {
            TaskModel::Classifier(m) => m.linears(),
            TaskModel::CausalLm(m) => m.linears(),
        }
    }

    fn linears_mut(&mut self) -> Vec<&mut Linear> {
        match self {
            TaskModel::Classifier(m) => m.linears_mut(),
            TaskModel::CausalLm(m) => m.linears_mut(),
        }
    }
}
