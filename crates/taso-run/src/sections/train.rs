//! The `[train]` section of a run config.

use serde::{Deserialize, Serialize};
use taso_data::BatchStrategy;

use crate::error::ConfigError;

/// Training settings (`[train]`); every key is optional and defaults as documented.
///
/// ```toml
/// [train]
/// epochs = 3
/// batch_size = 32
/// lr = 5e-4            # base lr: adapter (before scaling) and base parameters
/// head_lr = 1e-3       # default: lr
/// gamma = 0.5          # sparsity-aware lr scaling exponent, 0 = off
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training data (default 3).
    pub epochs: usize,
    /// Examples per optimizer step (default 32).
    pub batch_size: usize,
    /// Peak learning rate (default 5e-4). The adapter group uses `lr` times the sparsity-aware
    /// factor, bitfit/full base parameters use `lr` as is.
    pub lr: f64,
    /// Peak learning rate of the task head (default: `lr`).
    pub head_lr: Option<f64>,
    /// Decoupled (AdamW) weight decay, applied to every trainable tensor (default 0).
    pub weight_decay: f64,
    /// Fraction of the steps spent warming the learning rate up linearly from 0 (default 0.06);
    /// it then decays linearly to 0 at the last step.
    pub warmup_ratio: f64,
    /// Global gradient-norm clipping threshold (default 1.0; 0 = off).
    pub clip_norm: f64,
    /// Exponent γ of the sparsity-aware scaling `lr_adapter = lr · (P_dense(r) / P_sparse)^γ`
    /// (default 0.5; 0 = off; dense LoRA has ratio 1).
    pub gamma: f64,
    /// How training batches are formed: `bucketed` (default: similar lengths, little padding),
    /// `random`, or `sequential` (file order, for debugging).
    pub batching: BatchStrategy,
    /// Evaluate on the dev split after every epoch (default true); the end of training is
    /// always evaluated.
    pub eval_every_epoch: bool,
    /// Write a checkpoint every this many steps (default 0 = off).
    pub checkpoint_every: usize,
    /// How many of the newest checkpoints to keep (default 1; 0 = keep all).
    pub keep_checkpoints: usize,
    /// Continue from the newest checkpoint in the run folder (default false; `--resume` on the
    /// command line sets it).
    pub resume: bool,
    /// Stop after this many optimizer steps (smoke runs); the schedule spans the capped total.
    pub max_steps: Option<usize>,
    /// Train on the first N training examples only (documented subsets).
    pub train_subset: Option<usize>,
    /// Evaluate on the first N dev examples only (documented subsets; generation is slow).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev_subset: Option<usize>,
    /// Batch size of dev-set evaluation (default 64).
    pub eval_batch_size: usize,
    /// Log progress every this many steps (default 10).
    pub log_every: usize,
    /// Keep only each transformer block's input during the forward pass and recompute the
    /// block for its backward pass (default false): far less activation memory for one more
    /// forward pass per step; the same gradients (dropout masks are drawn per block).
    pub checkpoint_activations: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 3,
            batch_size: 32,
            lr: 5e-4,
            head_lr: None,
            weight_decay: 0.0,
            warmup_ratio: 0.06,
            clip_norm: 1.0,
            gamma: 0.5,
            batching: BatchStrategy::Bucketed,
            eval_every_epoch: true,
            checkpoint_every: 0,
            keep_checkpoints: 1,
            resume: false,
            max_steps: None,
            train_subset: None,
            dev_subset: None,
            eval_batch_size: 64,
            log_every: 10,
            checkpoint_activations: false,
        }
    }
}

impl TrainConfig {
    /// The head's learning rate: `head_lr`, else `lr`.
    pub fn head_lr(&self) -> f64 {
        self.head_lr.unwrap_or(self.lr)
    }

    /// Checks every value before any work starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| {
            Err(ConfigError::Invalid {
                section: "train".to_string(),
                message,
            })
        };
        if self.epochs == 0 {
            return invalid("`epochs` must be at least 1".into());
        }
        if self.batch_size == 0 || self.eval_batch_size == 0 {
            return invalid("`batch_size` and `eval_batch_size` must be at least 1".into());
        }
        for (name, value) in [("lr", self.lr), ("head_lr", self.head_lr())] {
            if !(value.is_finite() && value > 0.0) {
                return invalid(format!("`{name}` = {value} must be a positive number"));
            }
        }
        for (name, value) in [
            ("weight_decay", self.weight_decay),
            ("clip_norm", self.clip_norm),
            ("gamma", self.gamma),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return invalid(format!("`{name}` = {value} must be 0 or more"));
            }
        }
        if !(0.0..1.0).contains(&self.warmup_ratio) {
            return invalid(format!(
                "`warmup_ratio` = {} must be in [0, 1)",
                self.warmup_ratio
            ));
        }
        if self.max_steps == Some(0) || self.train_subset == Some(0) || self.dev_subset == Some(0) {
            return invalid(
                "`max_steps`, `train_subset` and `dev_subset` must be at least 1 when set".into(),
            );
        }
        if self.log_every == 0 {
            return invalid("`log_every` must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_head_lr_falls_back_to_lr() {
        let config = TrainConfig::default();
        config.validate().unwrap();
        assert_eq!(config.head_lr(), 5e-4);
    }

    #[test]
    fn bad_values_are_refused_with_the_key_named() {
        let cases = [
            (
                TrainConfig {
                    epochs: 0,
                    ..TrainConfig::default()
                },
                "epochs",
            ),
            (
                TrainConfig {
                    lr: -1.0,
                    ..TrainConfig::default()
                },
                "`lr`",
            ),
            (
                TrainConfig {
                    head_lr: Some(f64::NAN),
                    ..TrainConfig::default()
                },
                "head_lr",
            ),
            (
                TrainConfig {
                    warmup_ratio: 1.0,
                    ..TrainConfig::default()
                },
                "warmup_ratio",
            ),
            (
                TrainConfig {
                    max_steps: Some(0),
                    ..TrainConfig::default()
                },
                "max_steps",
            ),
        ];
        for (config, key) in cases {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("[train]") && err.contains(key), "{err}");
        }
    }
}
