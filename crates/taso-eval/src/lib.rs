//! Stage 5 of TASO: evaluation.
//!
//! Loads the base model with a trained adapter (or a merged model) and reports the task's
//! metric on its dev split, with a predictions file. See `../shared/docs/method.md`, stage 5.
//!
//! Status: the crate exists so the workspace has its final shape; evaluation lands with the
//! pipeline issue.
