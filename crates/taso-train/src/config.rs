//! What a trained artifact records as its config ([`StageConfig`]), and the settings that do
//! not change a run's result. The `[train]` section itself lives in the run layer (`taso-run`),
//! so that every stage validates the whole config before any work; it is re-exported here.

use serde::{Deserialize, Serialize};
use taso_adapter::LoraForm;
pub use taso_run::sections::TrainConfig;
use taso_run::{Method, RunSettings};

/// What a trained artifact (adapter, checkpoint) records as its config: the `[train]` section
/// and the run settings that decide the result. A checkpoint is resumed only under an equal one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// The method trained.
    pub method: Method,
    /// The run seed (data order, dropout, head).
    pub seed: u64,
    /// Truncation length in tokens.
    pub max_len: usize,
    /// Training examples held out to choose the best epoch (`run.holdout`); absent in
    /// artifacts from before it existed, which held none out.
    #[serde(default)]
    pub holdout: usize,
    /// How the adapter factors are stored while training (`[lora] form`).
    pub lora_form: LoraForm,
    /// The processes of a data-parallel run (1 otherwise): a checkpoint resumes only with as
    /// many. Absent in artifacts from before data-parallel training, which had one.
    #[serde(default = "one_process")]
    pub world_size: usize,
    /// The `[train]` section, with `resume` off (it does not change the result).
    pub train: TrainConfig,
}

/// Settings that do not change what a run trains (logging, checkpointing, resuming, CPU
/// threads): they may change between a checkpoint and its resumption, and between two runs of
/// one comparison.
pub const NEUTRAL_SETTINGS: &[&str] = &[
    "run.threads",
    "run.data_dir",
    "train.log_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.resume",
];

fn one_process() -> usize {
    1
}

impl StageConfig {
    /// The stage config of a run.
    pub fn new(
        run: &RunSettings,
        lora_form: LoraForm,
        train: &TrainConfig,
        world_size: usize,
    ) -> Self {
        Self {
            method: run.method,
            seed: run.seed,
            max_len: run.max_len,
            holdout: run.holdout,
            lora_form,
            world_size,
            train: TrainConfig {
                resume: false,
                ..train.clone()
            },
        }
    }

    /// The settings in which `self` and `other` differ, as `key: ours vs theirs` lines (empty
    /// when equal). Logging and checkpointing settings are ignored: they do not change the
    /// result.
    pub fn differences(&self, other: &StageConfig) -> Vec<String> {
        let flat = |config: &StageConfig| {
            let mut json = serde_json::to_value(config).expect("configs serialise");
            let train = json["train"].take();
            let mut map = json.as_object().cloned().unwrap_or_default();
            map.remove("train");
            for (key, value) in train.as_object().into_iter().flatten() {
                map.insert(format!("train.{key}"), value.clone());
            }
            for key in NEUTRAL_SETTINGS {
                map.remove(*key);
            }
            map
        };
        let (ours, theirs) = (flat(self), flat(other));
        ours.iter()
            .filter(|(key, value)| theirs.get(*key) != Some(value))
            .map(|(key, value)| {
                let other = theirs
                    .get(key)
                    .map_or("unset".to_string(), |v| v.to_string());
                format!("{key}: {value} now, {other} in the checkpoint")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_configs_name_their_differences_but_ignore_resume_and_logging() {
        let run = RunSettings::default();
        let train = TrainConfig::default();
        let ours = StageConfig::new(&run, LoraForm::Compact, &train, 1);
        let resumed = TrainConfig {
            resume: true,
            log_every: 1,
            ..train.clone()
        };
        let same = StageConfig::new(&run, LoraForm::Compact, &resumed, 1);
        assert!(ours.differences(&same).is_empty());
        let other = StageConfig::new(
            &RunSettings {
                seed: 3,
                holdout: 50,
                ..run
            },
            LoraForm::Compact,
            &TrainConfig { lr: 1e-3, ..train },
            2,
        );
        let differences = ours.differences(&other);
        assert_eq!(differences.len(), 4, "{differences:?}");
        assert!(differences
            .iter()
            .any(|d| d.starts_with("world_size: 1 now, 2")));
        assert!(differences.iter().any(|d| d.starts_with("seed: 0 now, 3")));
        assert!(differences
            .iter()
            .any(|d| d.starts_with("holdout: 0 now, 50")));
        assert!(differences.iter().any(|d| d.starts_with("train.lr")));
    }

    #[test]
    fn a_stage_config_from_before_the_holdout_and_data_parallel_reads_as_such() {
        let ours = StageConfig::new(
            &RunSettings::default(),
            LoraForm::Compact,
            &Default::default(),
            1,
        );
        let mut json = serde_json::to_value(&ours).unwrap();
        json.as_object_mut().unwrap().remove("holdout");
        json.as_object_mut().unwrap().remove("world_size");
        let old: StageConfig = serde_json::from_value(json).unwrap();
        assert!(ours.differences(&old).is_empty());
    }
}
