//! Stage 4 of TASO: the masked trainer.
//!
//! Trains a sparse (or dense) LoRA adapter and the task head with AdamW, warm-up and linear
//! decay, clipping and sparsity-aware learning-rate scaling, evaluating every epoch.
//! See `../shared/docs/method.md`, stage 4.
//!
//! Status: the crate exists so the workspace has its final shape; training lands with the
//! pipeline issue.
