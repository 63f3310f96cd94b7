//! Fuzzing the readers of untrusted input.
//!
//! Everything a user hands to taso passes through a few readers: safetensors artifacts and
//! weights ([`taso_artifact`]), GGUF files ([`taso_gguf`]), task TOML files and TSV/JSONL split
//! files ([`taso_data`]). This crate feeds them mutated inputs and watches for what must never
//! happen: a panic, an abort, a hang, or an allocation sized by what a header declares rather
//! than by the bytes that are there.
//!
//! - [`Target`] names a reader family and [`Scratch`] runs one input through it;
//! - [`Corpus`] holds the seed files of a target (`fuzz/corpus/<target>/`) and [`case`] makes the
//!   input number `n` of a campaign from them, deterministically;
//! - [`campaign`] drives worker processes, turns their deaths and stalls into [`Finding`]s and
//!   keeps the record of CPU time spent (`fuzz/campaign.tsv`).
//!
//! The `taso-fuzz` binary is the command line; `docs/reliability.md` says how to run it.

pub mod campaign;
mod corpus;
mod mutate;
mod target;

pub use campaign::{Finding, FindingKind};
pub use corpus::{case, Corpus};
pub use target::{Scratch, Target};
