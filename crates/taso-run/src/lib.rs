//! The TASO run layer: what every stage does around its own job.
//!
//! - [`ResolvedConfig`]: a run's TOML config with `--set section.key=value` overrides applied;
//!   every stage checks the whole of it before any work ([`sections`]: every section's serde
//!   struct, unknown sections and keys refused with the key and line named). [`RunSettings`] is
//!   the shared `[run]` section, [`Method`] the method a run trains, [`RunPaths`] the files of a run folder.
//! - [`RunContext`]: a run's settings with the task, tokenizer, device and model fingerprint
//!   loaded; reads splits and loads the base model with its seeded head.
//! - [`TrainedModel`]: the base model with a trained `adapter` artifact applied (attached or
//!   merged); [`evaluate`]: predictions and metrics on a split. The trainer uses both every
//!   epoch and the evaluation stage once, so neither stage depends on the other.
//! - [`import_peft`], [`export_peft`] and [`export_merged`]: a run's adapter from and to a
//!   PEFT LoRA folder, and merged into a Hugging Face model folder (`taso-import-peft`,
//!   `taso-export`).
//! - [`DataParallel`]: this process's place in a data-parallel run launched by `torchrun`
//!   (joined once, through `taso-dist`): which batches are this rank's, sums over the ranks,
//!   [`evaluate`] sharded over them.
//! - [`set_metrics_entry`] and [`write_report_section`]: a run's `metrics.json` and
//!   `report.md`, which several stages write into.
//! - `cli` (feature `cli`, on by default; libraries turn it off): the binaries' shared shell —
//!   `StageArgs` (`--config`, `--set`), logging, one `main` body. The `taso-inspect` binary
//!   prints any artifact.
//!
//! Stage crates depend on this crate and on the other foundation crates (`taso-artifact`,
//! `taso-data`, `taso-models`, `taso-adapter`), never on each other.

#[cfg(feature = "cli")]
pub mod cli;
mod config;
mod context;
mod error;
mod evaluate;
mod exchange;
mod parallel;
mod records;
pub mod sections;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;
mod trained;

pub use config::ResolvedConfig;
pub use context::{RunContext, RunTokenizer};
pub use error::{ConfigError, RunError};
pub use evaluate::{evaluate, Evaluation, TaskPredictions};
pub use exchange::{
    export_merged, export_peft, import_peft, ImportedPeft, MergedExport, EXPORT_RECORD,
    MERGED_WEIGHTS, SOURCE,
};
pub use parallel::{data_parallel, DataParallel};
pub use records::{format_scores, read_metrics, set_metrics_entry, write_report_section, Scores};
pub use sections::Sections;
pub use settings::{Method, RunPaths, RunSettings};
pub use trained::{
    copy_from, write_trained, TrainedModel, TrainedState, BASE_PREFIX, EPOCH, HEAD_PREFIX, METHOD,
    METRIC, STEP,
};
