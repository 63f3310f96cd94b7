//! Test helpers (feature `testing`, for tests only): short training configs for the tiny run
//! folder of `taso_run::testing`.

use crate::TrainConfig;

/// A short training config: 3 epochs of 4 steps.
pub fn quick_config() -> TrainConfig {
    TrainConfig {
        epochs: 3,
        batch_size: 16,
        lr: 1e-2,
        warmup_ratio: 0.1,
        eval_batch_size: 32,
        log_every: 4,
        ..TrainConfig::default()
    }
}

/// A config that learns the tiny task (15 epochs of 4 steps, under a second).
pub fn learning_config() -> TrainConfig {
    TrainConfig {
        epochs: 15,
        lr: 2e-2,
        head_lr: Some(5e-2),
        ..quick_config()
    }
}
