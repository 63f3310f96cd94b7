//! The `importance` artifact (see `docs/artifacts.md`): per target matrix its row and column
//! marginals and, unless only marginals are stored, the full score matrix.

use crate::{write_artifact, Artifact, ArtifactError, ArtifactMeta, Dtype, TensorData};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A target matrix: its Hugging Face module path and shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Module path, e.g. `encoder.layer.0.attention.self.query`.
    pub name: String,
    /// Output features (rows of W).
    pub d_out: usize,
    /// Input features (columns of W).
    pub d_in: usize,
}

/// The scores of one target matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixScores {
    /// Which matrix.
    pub target: Target,
    /// Row marginals `Σ_j S[i, j]`, `[d_out]`.
    pub row: Vec<f32>,
    /// Column marginals `Σ_i S[i, j]`, `[d_in]`.
    pub col: Vec<f32>,
    /// The full `[d_out, d_in]` score matrix (f32, f16 or bf16), if stored.
    pub scores: Option<TensorData>,
}

/// Everything an `importance` artifact holds besides its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Importance {
    /// One entry per target matrix, in model order.
    pub matrices: Vec<MatrixScores>,
    /// Number of calibration examples that were scored.
    pub examples: usize,
}

const TARGETS: &str = "targets";
const EXAMPLES: &str = "examples";

impl Importance {
    /// The sum of every score of every matrix (from the row marginals).
    pub fn total(&self) -> f64 {
        self.matrices
            .iter()
            .flat_map(|m| m.row.iter())
            .map(|&v| f64::from(v))
            .sum()
    }

    /// Writes the artifact atomically; returns its digest. `meta` must be of kind `importance`.
    pub fn write(&self, path: &Path, meta: ArtifactMeta) -> Result<String, ArtifactError> {
        let targets: Vec<&Target> = self.matrices.iter().map(|m| &m.target).collect();
        let meta = meta
            .with_extra(
                TARGETS,
                serde_json::to_string(&targets).expect("targets serialise"),
            )
            .with_extra(EXAMPLES, self.examples.to_string());
        let mut tensors = Vec::new();
        for m in &self.matrices {
            let name = &m.target.name;
            tensors.push((
                format!("{name}.row"),
                TensorData::from_f32([m.target.d_out], &m.row)?,
            ));
            tensors.push((
                format!("{name}.col"),
                TensorData::from_f32([m.target.d_in], &m.col)?,
            ));
            if let Some(scores) = &m.scores {
                tensors.push((format!("{name}.scores"), scores.clone()));
            }
        }
        write_artifact(path, &meta, &tensors)
    }

    /// Reads an opened `importance` artifact (check kind and model with `Artifact::open`).
    pub fn from_artifact(artifact: &Artifact) -> Result<Self, ArtifactError> {
        let bad = |reason: String| ArtifactError::BadMetadata {
            path: artifact.path.clone(),
            key: format!("taso.extra.{TARGETS}"),
            reason,
        };
        let targets_json = artifact
            .meta
            .extra
            .get(TARGETS)
            .ok_or_else(|| bad("missing".into()))?;
        let targets: Vec<Target> =
            serde_json::from_str(targets_json).map_err(|e| bad(e.to_string()))?;
        let examples = artifact
            .meta
            .extra
            .get(EXAMPLES)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let matrices = targets
            .into_iter()
            .map(|target| {
                let name = &target.name;
                let row = artifact.tensor_vec::<f32>(&format!("{name}.row"))?;
                let col = artifact.tensor_vec::<f32>(&format!("{name}.col"))?;
                let key = format!("{name}.scores");
                let scores = match artifact.tensor_info(&key) {
                    Some(_) => Some(artifact.tensor(&key)?),
                    None => None,
                };
                Ok(MatrixScores {
                    target,
                    row,
                    col,
                    scores,
                })
            })
            .collect::<Result<Vec<_>, ArtifactError>>()?;
        Ok(Self { matrices, examples })
    }
}

impl MatrixScores {
    /// The full scores as f32, row-major, if stored (f16/bf16 are widened).
    pub fn scores_f32(&self) -> Option<Result<Vec<f32>, ArtifactError>> {
        let scores = self.scores.as_ref()?;
        Some(match scores.dtype {
            Dtype::F32 => scores.to_f32_vec(),
            Dtype::F16 => scores
                .to_vec::<crate::f16>()
                .map(|v| v.into_iter().map(f32::from).collect()),
            Dtype::BF16 => scores
                .to_vec::<crate::bf16>()
                .map(|v| v.into_iter().map(f32::from).collect()),
            _ => scores.to_f32_vec(),
        })
    }
}
