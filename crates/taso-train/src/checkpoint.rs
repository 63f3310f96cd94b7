//! Resumable training states: `checkpoints/step-N.safetensors` (kind `checkpoint`).
//!
//! A checkpoint holds every trainable tensor under its artifact name, its AdamW moments under
//! `exp_avg.<name>` and `exp_avg_sq.<name>`, and, as extras, the optimizer's step count and the
//! loop's [`Progress`] (JSON). Nothing else is needed to continue exactly: the data order of
//! an epoch comes from `(seed, epoch)` and dropout is reseeded from `seed + step` before every
//! step, so a resumed run reaches the same weights as an uninterrupted one.

use std::path::{Path, PathBuf};

use taso_artifact::{Artifact, ArtifactMeta, Expect, TensorData};
use taso_run::copy_from;

use crate::config::StageConfig;
use crate::error::TrainError;
use crate::optimizer::{AdamW, Moments};
use crate::params::Trainable;
use crate::records::Progress;

const PROGRESS: &str = "progress";
const OPTIMIZER_STEPS: &str = "optimizer_steps";
const EXP_AVG: &str = "exp_avg.";
const EXP_AVG_SQ: &str = "exp_avg_sq.";

/// The checkpoint file of step `step` in `dir`.
pub fn checkpoint_path(dir: &Path, step: usize) -> PathBuf {
    dir.join(format!("step-{step}.safetensors"))
}

/// The checkpoints in `dir`, oldest (fewest steps) first; none when `dir` does not exist.
pub fn list_checkpoints(dir: &Path) -> Result<Vec<(usize, PathBuf)>, TrainError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::io(dir, e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| TrainError::io(dir, e))?.path();
        let step = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("step-")?.strip_suffix(".safetensors"))
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(step) = step {
            found.push((step, path));
        }
    }
    found.sort();
    Ok(found)
}

/// Writes the training state after `progress.step` steps atomically, then deletes all but the
/// newest `keep` checkpoints (`keep = 0` keeps all). `meta` is of kind `checkpoint`.
pub(crate) fn write_checkpoint(
    dir: &Path,
    meta: ArtifactMeta,
    trainable: &Trainable,
    optimizer: &AdamW,
    progress: &Progress,
    keep: usize,
) -> Result<PathBuf, TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let meta = meta
        .with_extra(OPTIMIZER_STEPS, optimizer.steps().to_string())
        .with_extra(
            PROGRESS,
            serde_json::to_string(progress).expect("progress serialises"),
        );
    let mut tensors = Vec::new();
    for (param, moments) in trainable.params().iter().zip(optimizer.moments()) {
        let data = |t: &tch::Tensor| TensorData::from_tch(&t.detach());
        tensors.push((param.name.clone(), data(&param.tensor)?));
        tensors.push((format!("{EXP_AVG}{}", param.name), data(&moments.exp_avg)?));
        tensors.push((
            format!("{EXP_AVG_SQ}{}", param.name),
            data(&moments.exp_avg_sq)?,
        ));
    }
    let path = checkpoint_path(dir, progress.step);
    taso_artifact::write_artifact(&path, &meta, &tensors)?;
    if keep > 0 {
        let all = list_checkpoints(dir)?;
        for (_, old) in all.iter().take(all.len().saturating_sub(keep)) {
            std::fs::remove_file(old).map_err(|e| TrainError::io(old, e))?;
        }
    }
    Ok(path)
}

/// Loads the checkpoint at `path` into `trainable` and `optimizer` and returns its progress.
///
/// `expect` checks kind, model and parent (the adapter-init it was trained from); `stage` must
/// equal the checkpoint's config, else the error lists the settings that differ.
pub(crate) fn restore_checkpoint(
    path: &Path,
    expect: &Expect,
    stage: &StageConfig,
    trainable: &Trainable,
    optimizer: &mut AdamW,
) -> Result<Progress, TrainError> {
    let artifact = Artifact::open(path, expect)?;
    let resume_error = |reason: String| TrainError::Resume {
        path: path.to_path_buf(),
        reason,
    };
    let saved: StageConfig = artifact
        .meta
        .config_as()
        .map_err(|e| resume_error(format!("its config does not parse ({e})")))?;
    let differences = stage.differences(&saved);
    if !differences.is_empty() {
        return Err(resume_error(format!(
            "the settings changed ({}); restore them, or train from scratch without --resume",
            differences.join("; ")
        )));
    }
    let extra = |key: &str| {
        artifact
            .meta
            .extra
            .get(key)
            .ok_or_else(|| resume_error(format!("the extra `{key}` is missing")))
    };
    let progress: Progress = serde_json::from_str(extra(PROGRESS)?)
        .map_err(|e| resume_error(format!("its progress does not parse ({e})")))?;
    let steps: usize = extra(OPTIMIZER_STEPS)?
        .parse()
        .map_err(|_| resume_error("its optimizer step count does not parse".to_string()))?;
    let mut moments = Vec::new();
    for param in trainable.params() {
        copy_from(&artifact, &param.name, &param.tensor)?;
        let moment = |prefix: &str| -> Result<tch::Tensor, TrainError> {
            let state = param.tensor.zeros_like().detach();
            copy_from(&artifact, &format!("{prefix}{}", param.name), &state)?;
            Ok(state)
        };
        moments.push(Moments {
            exp_avg: moment(EXP_AVG)?,
            exp_avg_sq: moment(EXP_AVG_SQ)?,
        });
    }
    optimizer.restore(steps, moments);
    Ok(progress)
}
