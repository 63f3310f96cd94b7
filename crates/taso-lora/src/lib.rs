//! Stage 3 of TASO: sparse LoRA construction.
//!
//! Builds, from a `regions` artifact, LoRA factors that exist only on the kept rows and columns
//! (`ΔW[R, C] = s · B A`) in a compact gather/scatter form, and writes the initial adapter.
//! See `../shared/docs/method.md`, stage 3.
//!
//! Status: the crate exists so the workspace has its final shape; the adapters land with the
//! pipeline issue.
