//! Adding up the scores of runs on disjoint shards of the training split.

use crate::error::ScoreError;
use crate::{ScoreConfig, ScoreLoss};
use taso_artifact::scoring::SCORED_LOSS;
use taso_artifact::{Artifact, TensorData};
use taso_artifact::{Importance, MatrixScores};

/// Sums the importance of several artifacts made for the same model, task and targets with the
/// same estimator, signal and loss scored.
/// Full matrices are summed in f32 and stored in the first artifact's dtype; if any input keeps
/// only marginals, so does the result.
pub fn merge(artifacts: &[Artifact]) -> Result<Importance, ScoreError> {
    let (first, rest) = artifacts.split_first().ok_or_else(|| ScoreError::Merge {
        path: "-".into(),
        reason: "no artifact given; pass two or more importance files".into(),
    })?;
    let mut total = Importance::from_artifact(first)?;
    let settings = scoring(first)?;
    for artifact in rest {
        check_compatible(first, &settings, artifact)?;
        let other = Importance::from_artifact(artifact)?;
        let same_targets = total
            .matrices
            .iter()
            .map(|m| &m.target)
            .eq(other.matrices.iter().map(|m| &m.target));
        if !same_targets {
            return Err(incompatible(artifact, "its target matrices differ"));
        }
        for (sum, part) in total.matrices.iter_mut().zip(other.matrices) {
            add(sum, part)?;
        }
        total.examples += other.examples;
    }
    Ok(total)
}

fn incompatible(artifact: &Artifact, reason: &str) -> ScoreError {
    ScoreError::Merge {
        path: artifact.path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn check_compatible(
    first: &Artifact,
    settings: &ScoreConfig,
    other: &Artifact,
) -> Result<(), ScoreError> {
    if other.meta.model_fingerprint != first.meta.model_fingerprint {
        return Err(incompatible(other, "it was scored on another base model"));
    }
    if other.meta.task != first.meta.task {
        return Err(incompatible(other, "it was scored on another task"));
    }
    let theirs = scoring(other)?;
    let same = [
        ("estimator", theirs.estimator == settings.estimator),
        ("signal", theirs.signal == settings.signal),
        (
            "loss",
            scored_loss(other, &theirs)? == scored_loss(first, settings)?,
        ),
    ];
    for (key, same) in same {
        if !same {
            let reason = format!("it was scored with another `score.{key}`");
            return Err(incompatible(other, &reason));
        }
    }
    Ok(())
}

/// The `[score]` settings an artifact was made with. Settings added since it was written read
/// as their defaults, which is what it was scored with (a file from before `score.signal`
/// existed scored the default `weight-grad`).
fn scoring(artifact: &Artifact) -> Result<ScoreConfig, ScoreError> {
    artifact.meta.config_as::<ScoreConfig>().map_err(|e| {
        let reason = format!("its [score] settings do not read ({e}); score that shard again");
        incompatible(artifact, &reason)
    })
}

/// The loss `artifact` was scored on (`settings`: its `[score]` settings).
fn scored_loss(artifact: &Artifact, settings: &ScoreConfig) -> Result<ScoreLoss, ScoreError> {
    let extra = artifact.meta.extra.get(SCORED_LOSS).map(String::as_str);
    ScoreLoss::scored(extra, settings.loss).ok_or_else(|| {
        let reason = format!("its extra `{SCORED_LOSS}` names no loss; score that shard again");
        incompatible(artifact, &reason)
    })
}

fn add(sum: &mut MatrixScores, part: MatrixScores) -> Result<(), ScoreError> {
    for (a, b) in sum.row.iter_mut().zip(&part.row) {
        *a += b;
    }
    for (a, b) in sum.col.iter_mut().zip(&part.col) {
        *a += b;
    }
    sum.scores = match (
        sum.scores_f32().transpose()?,
        part.scores_f32().transpose()?,
        &sum.scores,
    ) {
        (Some(a), Some(b), Some(stored)) => {
            let added: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
            let shape = [sum.target.d_out as i64, sum.target.d_in as i64];
            let tensor = tch::Tensor::from_slice(&added)
                .view(shape)
                .to_kind(tch_kind(stored.dtype));
            Some(TensorData::from_tch(&tensor)?)
        }
        _ => None,
    };
    Ok(())
}

fn tch_kind(dtype: taso_artifact::Dtype) -> tch::Kind {
    match dtype {
        taso_artifact::Dtype::F16 => tch::Kind::Half,
        taso_artifact::Dtype::BF16 => tch::Kind::BFloat16,
        _ => tch::Kind::Float,
    }
}
