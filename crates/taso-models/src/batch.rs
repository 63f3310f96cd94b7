//! Turning a padded batch of the data crate into tensors.

use crate::encoder::EncoderInput;
use taso_data::{BatchLabels, PaddedBatch};
use tch::{Device, Tensor};

/// The tensors of one padded batch, on a device.
pub struct BatchTensors {
    /// Token ids `[batch, seq]`.
    pub input_ids: Tensor,
    /// Attention mask `[batch, seq]`.
    pub attention_mask: Tensor,
    /// Segment ids `[batch, seq]`.
    pub token_type_ids: Tensor,
    /// Class ids (i64) or scores (f32) `[batch]`, when the batch has labels.
    pub labels: Option<Tensor>,
}

impl BatchTensors {
    /// Copies a padded batch to `device` (one copy per field, no per-example work).
    pub fn new(batch: &PaddedBatch, device: Device) -> Self {
        let shape = [batch.batch_size as i64, batch.seq_len as i64];
        let field = |values: &[i64]| Tensor::from_slice(values).view(shape).to_device(device);
        let labels = batch.labels.as_ref().map(|labels| match labels {
            BatchLabels::Classes(ids) => Tensor::from_slice(ids).to_device(device),
            BatchLabels::Scores(scores) => Tensor::from_slice(scores).to_device(device),
        });
        Self {
            input_ids: field(&batch.input_ids),
            attention_mask: field(&batch.attention_mask),
            token_type_ids: field(&batch.token_type_ids),
            labels,
        }
    }

    /// The encoder's view of this batch.
    pub fn encoder_input(&self) -> EncoderInput<'_> {
        EncoderInput {
            input_ids: &self.input_ids,
            attention_mask: &self.attention_mask,
            token_type_ids: Some(&self.token_type_ids),
        }
    }
}
