//! How importance scores are made: the `[score]` section of a run config, which an
//! `importance` artifact records as its config. It lives here, beside the [`Importance`]
//! format, so that the scorer library and every stage read and check it without the stage
//! that writes it.
//!
//! [`Importance`]: crate::Importance

use serde::{Deserialize, Serialize};

/// How per-batch gradients become one score matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Estimator {
    /// `S = Σ_b |W ⊙ ∂L_b/∂W|`: every batch's evidence counts, whatever its sign.
    #[default]
    SumAbs,
    /// `S = |W ⊙ Σ_b ∂L_b/∂W|`: gradients of opposite sign cancel first.
    AbsSum,
}

/// What each batch contributes per weight before the estimator combines batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signal {
    /// `W ⊙ ∂L/∂W`: the paper's importance, the first-order loss change of removing a weight.
    #[default]
    WeightGrad,
    /// `∂L/∂W` alone: how fast an additive update of the weight lowers the loss, whatever the
    /// weight's size (this project's variant, for placing an adapter rather than pruning).
    Grad,
}

/// The loss whose gradients are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreLoss {
    /// `Choice` where the task offers it (a prompt task whose candidate answers differ in their
    /// first token), `Answer` otherwise: free answers, regression, and classifier heads, whose
    /// training loss already is the cross-entropy over the classes. The importance artifact
    /// records which was scored (its extra `loss`).
    #[default]
    Auto,
    /// The run's training loss (for a decoder, the SFT loss on the answer tokens: the paper's).
    Answer,
    /// For a prompt task with candidate answers: cross-entropy over the candidates' first tokens
    /// alone, which leaves out learning the answer's form (which words answer at all) and keeps
    /// which candidate is right.
    Choice,
}

/// The importance artifact's extra that names the loss scored (`answer` or `choice`: `auto`
/// resolved for the task).
pub const SCORED_LOSS: &str = "loss";

impl ScoreLoss {
    /// The name a config writes (`auto`, `answer`, `choice`).
    pub fn name(self) -> &'static str {
        match self {
            ScoreLoss::Auto => "auto",
            ScoreLoss::Answer => "answer",
            ScoreLoss::Choice => "choice",
        }
    }

    /// The loss an importance artifact was scored on: its extra [`SCORED_LOSS`], else (a file
    /// from before `auto` existed, when `answer` was the default) its config's `loss`, `auto`
    /// read as `answer`. `None` when the extra names no loss.
    pub fn scored(extra: Option<&str>, configured: ScoreLoss) -> Option<ScoreLoss> {
        match extra {
            Some("answer") => Some(ScoreLoss::Answer),
            Some("choice") => Some(ScoreLoss::Choice),
            Some(_) => None,
            None if configured == ScoreLoss::Auto => Some(ScoreLoss::Answer),
            None => Some(configured),
        }
    }
}

/// What the input features' loudness counts for in a column's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputNorm {
    /// As measured (the paper's): a column's score grows with its input feature's activations.
    #[default]
    None,
    /// Each column's scores divided by its input feature's root mean square over the
    /// calibration tokens: as if every input feature ran equally loud, so that a few loud
    /// channels do not rank high in every matrix that reads them (this project's variant).
    Rms,
}

/// What the artifact keeps of the score matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Store {
    /// Full matrices plus row and column marginals.
    #[default]
    Full,
    /// Row and column marginals only (for models too large to keep full scores).
    Marginals,
}

/// Storage type of full score matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreDtype {
    /// 32-bit float.
    #[default]
    F32,
    /// 16-bit float.
    F16,
    /// bfloat16.
    Bf16,
}

/// One of `count` disjoint shards of the training split (examples `i` with `i % count == index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

/// Settings of importance scoring (method.md, stage 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreConfig {
    /// `sum-abs` (default) or `abs-sum`.
    pub estimator: Estimator,
    /// `weight-grad` (default, `|W ⊙ ∂L/∂W|`) or `grad` (`|∂L/∂W|`).
    pub signal: Signal,
    /// `auto` (default: `choice` where the task has candidate answers, else `answer`), `answer`
    /// (the training loss, the paper's) or `choice` (prompt tasks with candidates).
    pub loss: ScoreLoss,
    /// `none` (default) or `rms` (columns divided by their input feature's RMS).
    pub input_norm: InputNorm,
    /// Number of calibration batches drawn from the training split.
    pub batches: usize,
    /// Examples per calibration batch (`batches × batch_size` ≈ 512 by default).
    pub batch_size: usize,
    /// Steps of head-only training before scoring, so gradients carry task signal (0: none).
    pub head_warmup_steps: usize,
    /// Learning rate of the head warm-up (plain SGD).
    pub head_warmup_lr: f64,
    /// `full` (default) or `marginals`.
    pub store: Store,
    /// Storage type of the full matrices.
    pub dtype: ScoreDtype,
    /// Score one shard of the training split (merge the shards with `taso-score merge`).
    pub shard: Option<Shard>,
    /// Recompute each transformer block during the backward pass instead of keeping its
    /// activations (default false): the same scores for far less memory.
    pub checkpoint_activations: bool,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            estimator: Estimator::SumAbs,
            signal: Signal::WeightGrad,
            loss: ScoreLoss::Auto,
            input_norm: InputNorm::None,
            batches: 16,
            batch_size: 32,
            head_warmup_steps: 0,
            head_warmup_lr: 1e-2,
            store: Store::Full,
            dtype: ScoreDtype::F32,
            shard: None,
            checkpoint_activations: false,
        }
    }
}

impl ScoreConfig {
    /// Checks the values before any work starts; the error says which key is wrong and why.
    pub fn validate(&self) -> Result<(), String> {
        let invalid = |message: String| Err(message);
        if self.batches == 0 || self.batch_size == 0 {
            return invalid("`batches` and `batch_size` must be at least 1".into());
        }
        if !(self.head_warmup_lr.is_finite() && self.head_warmup_lr > 0.0) {
            return invalid(format!(
                "`head_warmup_lr` = {} must be a positive number",
                self.head_warmup_lr
            ));
        }
        if let Some(shard) = self.shard {
            if shard.count == 0 || shard.index >= shard.count {
                return invalid(format!(
                    "`shard` index {} is not in 0..{}",
                    shard.index, shard.count
                ));
            }
        }
        if self.input_norm == InputNorm::Rms {
            if self.store == Store::Marginals {
                return invalid(
                    "`input_norm = \"rms\"` needs `store = \"full\"`: dividing columns changes \
                     every row's sum, which marginals alone cannot give"
                        .into(),
                );
            }
            if self.shard.is_some() {
                return invalid(
                    "`input_norm = \"rms\"` cannot score a `shard`: each shard would divide by \
                     its own loudness and the merged scores would not be one measurement"
                        .into(),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_scored_is_read_from_the_extra_else_from_the_config_of_its_time() {
        use ScoreLoss::*;
        assert_eq!(ScoreLoss::scored(Some("choice"), Auto), Some(Choice));
        assert_eq!(ScoreLoss::scored(Some("answer"), Choice), Some(Answer));
        assert_eq!(ScoreLoss::scored(Some("auto"), Auto), None);
        // No extra: written before `auto` existed, when the training loss was the default.
        assert_eq!(ScoreLoss::scored(None, Auto), Some(Answer));
        assert_eq!(ScoreLoss::scored(None, Choice), Some(Choice));
        assert_eq!(ScoreConfig::default().loss, Auto);
        assert_eq!(
            [Auto, Answer, Choice].map(ScoreLoss::name),
            ["auto", "answer", "choice"]
        );
    }

    #[test]
    fn rms_input_norm_needs_full_scores_of_the_whole_split() {
        let rms = ScoreConfig {
            input_norm: InputNorm::Rms,
            ..Default::default()
        };
        assert_eq!(rms.validate(), Ok(()));
        let marginals = ScoreConfig {
            store: Store::Marginals,
            ..rms.clone()
        };
        assert!(marginals
            .validate()
            .unwrap_err()
            .contains("store = \"full\""));
        let shard = ScoreConfig {
            shard: Some(Shard { index: 0, count: 2 }),
            ..rms
        };
        assert!(shard.validate().unwrap_err().contains("shard"));
        // Read by its kebab-case name; the default is the paper's.
        let parsed: ScoreConfig = serde_json::from_str(r#"{"input_norm": "rms"}"#).unwrap();
        assert_eq!(parsed.input_norm, InputNorm::Rms);
        assert_eq!(ScoreConfig::default().input_norm, InputNorm::None);
    }
}
