//! The choice loss of a causal LM on a prompt task with candidate answers: cross-entropy over
//! the candidates' first tokens only, at the first answer position. Unlike the SFT loss over the
//! whole vocabulary, it carries nothing of learning the answer's form (which words answer at
//! all), only which candidate is right; scoring uses it where the task offers it (`score.loss =
//! "auto"`, the default, or `"choice"`).

use taso_data::{FirstTokenChoices, IGNORE_INDEX};
use tch::{Device, Kind, Tensor};

use crate::decoder::CausalLm;
use crate::error::{ModelError, Result};
use crate::task_model::{CausalTensors, TaskBatch, TaskModel};

/// The candidates' first tokens of a batch's rows and the gold one's place, on a device.
pub struct ChoiceTensors {
    /// `[rows, candidates]` token ids.
    pub ids: Tensor,
    /// `[rows]` places of the gold candidate.
    pub gold: Tensor,
}

impl ChoiceTensors {
    /// Copies `choices` to `device`.
    pub fn new(choices: &FirstTokenChoices, device: Device) -> Self {
        let rows = choices.gold.len() as i64;
        Self {
            ids: Tensor::from_slice(&choices.ids)
                .view([rows, choices.candidates as i64])
                .to_device(device),
            gold: Tensor::from_slice(&choices.gold).to_device(device),
        }
    }
}

impl TaskModel {
    /// Back-propagates the batch's mean choice loss times `scale` (dropout off; block by block
    /// when `checkpointed`) and returns the loss. Causal LMs only: a classifier's loss already
    /// is a choice among its classes.
    pub fn choice_loss_backward(
        &self,
        batch: &TaskBatch,
        choices: &ChoiceTensors,
        checkpointed: bool,
        scale: f64,
    ) -> Result<Tensor> {
        let (TaskModel::CausalLm(model), TaskBatch::Causal(batch)) = (self, batch) else {
            return Err(ModelError::Batch(
                "the choice loss is a causal LM's on a prompt task with candidate answers".into(),
            ));
        };
        let loss = |hidden: &Tensor| Ok(choice_loss_at(model, batch, choices, hidden));
        if checkpointed {
            return model
                .decoder
                .checkpointed_backward(&batch.decoder_input(), scale, loss);
        }
        let hidden = model
            .decoder
            .forward(&batch.decoder_input(), false)?
            .last_hidden_state;
        let loss = loss(&hidden)?;
        (&loss * scale).f_backward()?;
        Ok(loss.detach())
    }
}

/// The mean choice loss from the decoder's last hidden state: each row's state before its first
/// answer token goes through `lm_head`, and the log-softmax runs over its candidates' logits.
fn choice_loss_at(
    model: &CausalLm,
    batch: &CausalTensors,
    choices: &ChoiceTensors,
    hidden: &Tensor,
) -> Tensor {
    let width = hidden.size()[2];
    // The first answer position of each row, and the position whose logits predict it.
    let first = batch
        .label_ids
        .ne(IGNORE_INDEX)
        .to_kind(Kind::Int64)
        .argmax(1, false);
    let before = (first - 1).view([-1, 1, 1]).expand([-1, 1, width], false);
    let states = hidden.gather(1, &before, false).squeeze_dim(1);
    let logits = model.logits(&states).to_kind(Kind::Float);
    let candidates = logits.gather(1, &choices.ids, false);
    candidates
        .log_softmax(-1, Kind::Float)
        .gather(1, &choices.gold.unsqueeze(1), false)
        .mean(Kind::Float)
        .neg()
}
