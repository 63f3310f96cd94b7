//! Sequence-classification and regression heads on top of an encoder, as Hugging Face's
//! `BertForSequenceClassification` and `RobertaForSequenceClassification` compute them.

use super::{open_builder, Encoder, EncoderArch, EncoderConfig, EncoderInput, Pooler};
use crate::dropout::dropout;
use crate::dtype::ComputeDtype;
use crate::error::Result;
use crate::layers::{Builder, FreshInit, Linear, LinearHost};
use std::path::Path;
use tch::{Device, Kind, Reduction, Tensor};

/// What the head predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadKind {
    /// `n` classes, cross-entropy loss.
    Classification(i64),
    /// One real value, mean-squared-error loss.
    Regression,
}

impl HeadKind {
    /// Number of head outputs.
    pub fn outputs(self) -> i64 {
        match self {
            Self::Classification(n) => n,
            Self::Regression => 1,
        }
    }
}

/// Where the head's weights come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadInit {
    /// From the checkpoint (a fine-tuned model); missing head tensors are an error.
    Checkpoint,
    /// Fresh, `N(0, initializer_range²)` weights and zero biases drawn from this seed; the same
    /// seed gives the same head on every run and device.
    Fresh {
        /// Seed of the draw.
        seed: u64,
    },
}

#[derive(Debug)]
enum Head {
    /// BERT: pooler (inside the encoder), dropout, `classifier`.
    Bert { classifier: Linear },
    /// RoBERTa: dropout, `classifier.dense`, tanh, dropout, `classifier.out_proj` on the first token.
    Roberta { dense: Linear, out_proj: Linear },
}

/// An encoder with a task head; module paths as in Hugging Face (`classifier`, `classifier.dense`, ...).
#[derive(Debug)]
pub struct SequenceClassifier {
    /// The encoder (base model).
    pub encoder: Encoder,
    head: Head,
    kind: HeadKind,
    head_params: Vec<(String, Tensor)>,
}

impl SequenceClassifier {
    /// Loads a Hugging Face folder and puts a head of `kind` on it, initialised per `init`;
    /// computes in f32.
    pub fn load(dir: &Path, kind: HeadKind, init: HeadInit, device: Device) -> Result<Self> {
        Self::load_as(dir, kind, init, device, ComputeDtype::F32)
    }

    /// As [`load`](Self::load), the encoder computing in `dtype`; the head is f32 whatever
    /// `dtype` is (it is trained, so it keeps master precision), and sees the encoder's output
    /// cast to f32.
    pub fn load_as(
        dir: &Path,
        kind: HeadKind,
        init: HeadInit,
        device: Device,
        dtype: ComputeDtype,
    ) -> Result<Self> {
        let config = EncoderConfig::from_dir(dir)?;
        let mut b = open_builder(dir, &config, device, dtype)?;
        let pooler_seed = match init {
            HeadInit::Fresh { seed } => layer_seed(seed, POOLER_POSITION),
            HeadInit::Checkpoint => 0,
        };
        let arch = config.arch();
        let (h, std) = (config.hidden_size, config.initializer_range);
        let pooler = if arch == EncoderArch::Bert {
            Pooler::Required(pooler_seed)
        } else {
            Pooler::IfPresent
        };
        let encoder = Encoder::build(config, &mut b, pooler)?;
        let encoder_params = b.take_params();
        b.set_kind(Kind::Float);
        let outputs = kind.outputs();
        let head = match arch {
            EncoderArch::Bert => Head::Bert {
                classifier: head_linear(&mut b, "classifier", h, outputs, init, 0, std)?,
            },
            EncoderArch::Roberta => Head::Roberta {
                dense: head_linear(&mut b, "classifier.dense", h, h, init, 0, std)?,
                out_proj: head_linear(&mut b, "classifier.out_proj", h, outputs, init, 1, std)?,
            },
        };
        let (head_params, leftover) = b.finish();
        tracing::debug!("unused checkpoint tensors: {leftover:?}");
        Ok(Self {
            encoder: encoder.with_params(encoder_params),
            head,
            kind,
            head_params,
        })
    }

    /// What the head predicts.
    pub fn head_kind(&self) -> HeadKind {
        self.kind
    }

    /// The head's parameters with their Hugging Face names (`classifier.weight`, ...).
    pub fn head_parameters(&self) -> &[(String, Tensor)] {
        &self.head_params
    }

    /// Logits `[batch, outputs]` (for regression, `[batch, 1]`). `train` enables dropout.
    pub fn forward(&self, input: &EncoderInput, train: bool) -> Tensor {
        let hidden = self.encoder.forward(input, train, false).last_hidden_state;
        self.head_logits(&hidden, train)
    }

    /// The mean loss of `labels`, back-propagated with activation checkpointing per encoder
    /// block (see [`crate::checkpoint`]); returns the loss.
    pub(crate) fn checkpointed_backward(
        &self,
        input: &EncoderInput,
        labels: &Tensor,
        train: bool,
        scale: f64,
    ) -> Result<Tensor> {
        self.encoder
            .checkpointed_backward(input, train, scale, |hidden| {
                Ok(self.loss(&self.head_logits(hidden, train), labels))
            })
    }

    /// The head on the encoder's last hidden state.
    fn head_logits(&self, hidden: &Tensor, train: bool) -> Tensor {
        let config = self.encoder.config();
        let p = config
            .classifier_dropout
            .unwrap_or(config.hidden_dropout_prob);
        match &self.head {
            Head::Bert { classifier } => {
                let pooled = self
                    .encoder
                    .pool(hidden)
                    .expect("a BERT classifier always has a pooler")
                    .to_kind(Kind::Float);
                classifier.forward(&dropout(&pooled, p, train))
            }
            Head::Roberta { dense, out_proj } => {
                let first = dropout(&hidden.select(1, 0).to_kind(Kind::Float), p, train);
                out_proj.forward(&dropout(&dense.forward(&first).tanh(), p, train))
            }
        }
    }

    /// Mean loss of `logits` against `labels`: cross-entropy on class ids (i64) for
    /// classification, mean squared error on scores (f32) for regression.
    pub fn loss(&self, logits: &Tensor, labels: &Tensor) -> Tensor {
        match self.kind {
            HeadKind::Classification(_) => logits.cross_entropy_for_logits(labels),
            HeadKind::Regression => logits
                .squeeze_dim(-1)
                .mse_loss(&labels.to_kind(Kind::Float), Reduction::Mean),
        }
    }
}

/// Position of the BERT pooler among the fresh layers, for [`layer_seed`].
const POOLER_POSITION: u64 = 999;

/// The seed of one fresh layer: derived from the head seed and the layer's position, so layers
/// differ from each other and each is reproducible.
fn layer_seed(seed: u64, position: u64) -> u64 {
    seed.wrapping_mul(1000).wrapping_add(position)
}

impl LinearHost for SequenceClassifier {
    /// The encoder's linear layers, then the head's.
    fn linears(&self) -> Vec<&Linear> {
        let head: Vec<&Linear> = match &self.head {
            Head::Bert { classifier } => vec![classifier],
            Head::Roberta { dense, out_proj } => vec![dense, out_proj],
        };
        self.encoder.linears().into_iter().chain(head).collect()
    }

    fn linears_mut(&mut self) -> Vec<&mut Linear> {
        let head: Vec<&mut Linear> = match &mut self.head {
            Head::Bert { classifier } => vec![classifier],
            Head::Roberta { dense, out_proj } => vec![dense, out_proj],
        };
        self.encoder.linears_mut().into_iter().chain(head).collect()
    }
}

/// One head layer: from the checkpoint, or fresh with a seed derived from the head seed and the
/// layer's position in the head.
fn head_linear(
    b: &mut Builder,
    name: &str,
    d_in: i64,
    d_out: i64,
    init: HeadInit,
    position: u64,
    std: f64,
) -> Result<Linear> {
    match init {
        HeadInit::Checkpoint => b.linear(name, d_in, d_out, true),
        HeadInit::Fresh { seed } => b.fresh_linear(
            name,
            d_in,
            d_out,
            FreshInit {
                seed: layer_seed(seed, position),
                std,
            },
        ),
    }
}
