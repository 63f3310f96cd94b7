//! Every section of a run config, known to every stage: each stage reads the whole file and
//! checks all of it — unknown sections and keys, value types, ranges — before any work, so a
//! typo in `[train]` stops `taso-score` at once rather than three stages later.
//!
//! The sections' types live here (and in the foundation crates whose formats record them:
//! [`ScoreConfig`] in `taso-artifact`, [`LoraConfig`] in `taso-adapter`, [`GenerationConfig`]
//! in `taso-models`); the stage crates re-export the ones they use.

pub mod eval;
pub mod regions;
pub mod train;

pub use eval::{AdapterChoice, EvalConfig};
pub use regions::RegionsConfig;
pub use taso_adapter::LoraConfig;
pub use taso_artifact::ScoreConfig;
pub use taso_models::GenerationConfig;
pub use train::TrainConfig;

use crate::error::ConfigError;
use crate::settings::RunSettings;

/// The sections a run config may have, in pipeline order.
pub const SECTION_NAMES: [&str; 7] = [
    "run", "score", "regions", "lora", "train", "eval", "generate",
];

/// A whole run config, every section read and checked; a missing section is its defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Sections {
    /// `[run]`: what every stage shares.
    pub run: RunSettings,
    /// `[score]`: stage 1.
    pub score: ScoreConfig,
    /// `[regions]`: stage 2.
    pub regions: RegionsConfig,
    /// `[lora]`: the adapter's rank, alpha and form (stages 3 and 4).
    pub lora: LoraConfig,
    /// `[train]`: stage 4.
    pub train: TrainConfig,
    /// `[eval]`: stage 5.
    pub eval: EvalConfig,
    /// `[generate]`: free-form answers of prompt tasks (stages 4 and 5).
    pub generate: GenerationConfig,
}

impl Sections {
    /// Checks every section's values (ranges, combinations).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |section: &str, message: String| ConfigError::Invalid {
            section: section.to_string(),
            message,
        };
        self.run.validate()?;
        self.score
            .validate()
            .map_err(|message| invalid("score", message))?;
        self.regions.validate()?;
        self.lora.validate().map_err(|e| match e {
            taso_adapter::AdapterError::InvalidConfig(message) => invalid("lora", message),
            other => invalid("lora", other.to_string()),
        })?;
        self.train.validate()?;
        self.eval.validate()
    }
}
