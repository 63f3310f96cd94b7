//! The `[eval]` section of a run config.

use crate::error::ConfigError;
use crate::settings::RunPaths;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use taso_data::Split;

/// Which of the trainer's adapter files to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdapterChoice {
    /// `adapter-best.safetensors`: the epoch with the best main dev metric.
    #[default]
    Best,
    /// `adapter.safetensors`: the end of training.
    Last,
    /// No adapter: the base model as it is (a decoder's zero-shot baseline; refused for an
    /// encoder, whose classification head only exists once trained).
    None,
}

impl AdapterChoice {
    /// The file of this choice in a run folder; `None` for [`AdapterChoice::None`].
    pub fn path(self, paths: &RunPaths) -> Option<PathBuf> {
        match self {
            Self::Best => Some(paths.adapter_best()),
            Self::Last => Some(paths.adapter()),
            Self::None => None,
        }
    }
}

/// Evaluation settings (`[eval]`); every key is optional.
///
/// ```toml
/// [eval]
/// adapter = "best"   # or "last", or "none" (a decoder's base model: zero-shot)
/// split = "dev"      # "train", "dev" or "test" (unlabeled: predictions only)
/// batch_size = 64
/// merged = false     # merge the adapter into the base weights first
/// max_examples = 200 # the first 200 examples only (default: all)
/// allow_incomplete = false  # true: evaluate an unfinished training's last adapter
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// Which adapter file of the run folder (default `best`); `--adapter PATH` overrides it.
    pub adapter: AdapterChoice,
    /// The split to predict (default `dev`).
    pub split: Split,
    /// Examples per forward pass (default 64).
    pub batch_size: usize,
    /// Merge the adapter into the base weights (`W[R, C] += s·B A`) and evaluate the plain
    /// model (default false); gives the same predictions as the attached adapter.
    pub merged: bool,
    /// Evaluate the first N examples of the split only (documented subsets: generation is slow
    /// on a CPU); default all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_examples: Option<usize>,
    /// Evaluate the run folder's adapter even though its training did not finish (killed or
    /// failed: `training.incomplete` is in the folder); default false, which refuses it.
    pub allow_incomplete: bool,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            adapter: AdapterChoice::Best,
            split: Split::Dev,
            batch_size: 64,
            merged: false,
            max_examples: None,
            allow_incomplete: false,
        }
    }
}

impl EvalConfig {
    /// Checks the values before any work starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: &str| {
            Err(ConfigError::Invalid {
                section: "eval".to_string(),
                message: message.to_string(),
            })
        };
        if self.batch_size == 0 {
            return invalid("`batch_size` must be at least 1");
        }
        if self.merged && self.adapter == AdapterChoice::None {
            return invalid(
                "`merged = true` needs an adapter to merge; `adapter = \"none\"` has none",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ResolvedConfig;
    use std::path::Path;

    #[test]
    fn the_section_parses_with_defaults_and_refuses_unknown_keys() {
        let config = ResolvedConfig::parse(
            "[eval]\nadapter = \"last\"\nmerged = true\n",
            Path::new("x.toml"),
        )
        .unwrap();
        let eval: EvalConfig = config.section("eval").unwrap();
        assert_eq!(
            (eval.adapter, eval.split, eval.merged),
            (AdapterChoice::Last, Split::Dev, true)
        );
        eval.validate().unwrap();
        let config = ResolvedConfig::parse("[eval]\nmerge = true\n", Path::new("x.toml")).unwrap();
        let err = config
            .section::<EvalConfig>("eval")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[eval]") && err.contains("merge"), "{err}");
        let refusals = [
            (
                EvalConfig {
                    batch_size: 0,
                    ..EvalConfig::default()
                },
                "batch_size",
            ),
            (
                EvalConfig {
                    adapter: AdapterChoice::None,
                    merged: true,
                    ..EvalConfig::default()
                },
                "needs an adapter to merge",
            ),
        ];
        for (config, expected) in refusals {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }
}
