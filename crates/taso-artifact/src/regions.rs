//! The `regions` artifact (see `docs/artifacts.md`): for every adapted matrix the kept rows `R`
//! and columns `C`, plus the rank, budget and coverage diagnostics.

use crate::importance::Target;
use crate::{write_artifact, Artifact, ArtifactError, ArtifactMeta, TensorData};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The kept rows and columns of one adapted matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixRegion {
    /// Which matrix.
    pub target: Target,
    /// Kept rows, ascending, unique.
    pub rows: Vec<i64>,
    /// Kept columns, ascending, unique.
    pub cols: Vec<i64>,
}

/// Coverage diagnostics of one matrix: share of total importance inside the kept block, next
/// to the share a random block of the same shape would get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Matrix name.
    pub name: String,
    /// Kept rows.
    pub rows: usize,
    /// Kept columns.
    pub cols: usize,
    /// Importance share inside the kept `R × C` block.
    pub share: f64,
    /// Expected share of a random block of the same shape (`|R||C| / (d_out d_in)`).
    pub random_share: f64,
}

/// Everything a `regions` artifact holds besides its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Regions {
    /// All target matrices (adapted or not), in model order.
    pub targets: Vec<Target>,
    /// The adapted matrices (a subset of `targets`, same order).
    pub matrices: Vec<MatrixRegion>,
    /// Sparse LoRA rank r.
    pub rank: usize,
    /// Budget P in adapter parameters.
    pub budget: usize,
    /// Per-matrix coverage (empty when no scores were available).
    pub coverage: Vec<Coverage>,
}

const TARGETS: &str = "targets";
const RANK: &str = "rank";
const BUDGET: &str = "budget";
const USED: &str = "used";
const COVERAGE: &str = "coverage";

impl Regions {
    /// Adapter parameters the regions use: `Σ r (|R| + |C|)`.
    pub fn used(&self) -> usize {
        self.matrices
            .iter()
            .map(|m| self.rank * (m.rows.len() + m.cols.len()))
            .sum()
    }

    /// Writes the artifact atomically; returns its digest. `meta` must be of kind `regions`.
    pub fn write(&self, path: &Path, meta: ArtifactMeta) -> Result<String, ArtifactError> {
        let meta = meta
            .with_extra(TARGETS, to_json(&self.targets))
            .with_extra(RANK, self.rank.to_string())
            .with_extra(BUDGET, self.budget.to_string())
            .with_extra(USED, self.used().to_string())
            .with_extra(COVERAGE, to_json(&self.coverage));
        let mut tensors = Vec::new();
        for m in &self.matrices {
            let name = &m.target.name;
            tensors.push((
                format!("{name}.rows"),
                TensorData::from_i64([m.rows.len()], &m.rows)?,
            ));
            tensors.push((
                format!("{name}.cols"),
                TensorData::from_i64([m.cols.len()], &m.cols)?,
            ));
        }
        write_artifact(path, &meta, &tensors)
    }

    /// Reads an opened `regions` artifact (check kind, model and parent with `Artifact::open`).
    pub fn from_artifact(artifact: &Artifact) -> Result<Self, ArtifactError> {
        let extra = |key: &str| -> Result<&String, ArtifactError> {
            artifact
                .meta
                .extra
                .get(key)
                .ok_or_else(|| bad(artifact, key, "missing".to_string()))
        };
        let parse_json = |key: &str| -> Result<serde_json::Value, ArtifactError> {
            serde_json::from_str(extra(key)?).map_err(|e| bad(artifact, key, e.to_string()))
        };
        let number = |key: &str| -> Result<usize, ArtifactError> {
            extra(key)?
                .parse()
                .map_err(|_| bad(artifact, key, "not a number".to_string()))
        };
        let targets: Vec<Target> = serde_json::from_value(parse_json(TARGETS)?)
            .map_err(|e| bad(artifact, TARGETS, e.to_string()))?;
        let coverage: Vec<Coverage> = serde_json::from_value(parse_json(COVERAGE)?)
            .map_err(|e| bad(artifact, COVERAGE, e.to_string()))?;
        let mut matrices = Vec::new();
        for target in &targets {
            let rows_key = format!("{}.rows", target.name);
            if artifact.tensor_info(&rows_key).is_none() {
                continue;
            }
            matrices.push(MatrixRegion {
                target: target.clone(),
                rows: indices(artifact, &rows_key, target.d_out)?,
                cols: indices(artifact, &format!("{}.cols", target.name), target.d_in)?,
            });
        }
        let regions = Self {
            targets,
            matrices,
            rank: number(RANK)?,
            budget: number(BUDGET)?,
            coverage,
        };
        regions.check_against(artifact, number(USED)?)?;
        Ok(regions)
    }

    /// Refuses what the file's tensors and metadata disagree on: a tensor of no listed matrix,
    /// a rank of 0, a parameter count other than the one recorded (a matrix removed).
    fn check_against(
        &self,
        artifact: &Artifact,
        recorded_used: usize,
    ) -> Result<(), ArtifactError> {
        let inconsistent = |reason: String| inconsistent(artifact, reason);
        let read = self.matrices.len() * 2;
        if artifact.tensor_names().len() != read {
            let stray = artifact.tensor_names().into_iter().find(|name| {
                !self.matrices.iter().any(|m| {
                    *name == format!("{}.rows", m.target.name)
                        || *name == format!("{}.cols", m.target.name)
                })
            });
            return Err(inconsistent(format!(
                "tensor `{}` belongs to no matrix of its `targets` metadata",
                stray.unwrap_or("?")
            )));
        }
        if self.rank == 0 {
            return Err(inconsistent("its rank is 0".to_string()));
        }
        if self.used() != recorded_used {
            return Err(inconsistent(format!(
                "its {} matrices hold {} adapter parameters but its metadata records {recorded_used}",
                self.matrices.len(),
                self.used()
            )));
        }
        Ok(())
    }
}

/// Reads the index tensor `name`: i64, one axis, ascending, unique, in `0..len`.
fn indices(artifact: &Artifact, name: &str, len: usize) -> Result<Vec<i64>, ArtifactError> {
    let tensor = artifact.tensor(name)?;
    if tensor.dtype != crate::Dtype::I64 || tensor.shape.len() != 1 {
        return Err(inconsistent(
            artifact,
            format!(
                "`{name}` is {:?} {:?}, expected a list of i64 indices",
                tensor.dtype, tensor.shape
            ),
        ));
    }
    let kept: Vec<i64> = tensor.to_vec()?;
    let ordered = kept.windows(2).all(|pair| pair[0] < pair[1]);
    let in_range =
        kept.first().is_some_and(|&i| i >= 0) && kept.last().is_some_and(|&i| i < len as i64);
    if !(ordered && in_range) {
        return Err(inconsistent(
            artifact,
            format!(
                "`{name}` must hold ascending, unique indices in 0..{len} ({} indices from {:?} \
                 to {:?})",
                kept.len(),
                kept.first(),
                kept.last()
            ),
        ));
    }
    Ok(kept)
}

fn inconsistent(artifact: &Artifact, reason: String) -> ArtifactError {
    ArtifactError::Inconsistent {
        path: artifact.path.clone(),
        kind: artifact.meta.kind,
        reason,
    }
}

fn bad(artifact: &Artifact, key: &str, reason: String) -> ArtifactError {
    ArtifactError::BadMetadata {
        path: artifact.path.clone(),
        key: format!("taso.extra.{key}"),
        reason,
    }
}

/// Compact JSON of plain data (cannot fail for these types).
fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArtifactKind, Expect};

    #[test]
    fn regions_round_trip_through_the_artifact() {
        let target = |name: &str, d_out, d_in| Target {
            name: name.into(),
            d_out,
            d_in,
        };
        let regions = Regions {
            targets: vec![target("a", 4, 3), target("b", 2, 2)],
            matrices: vec![MatrixRegion {
                target: target("a", 4, 3),
                rows: vec![0, 2],
                cols: vec![1],
            }],
            rank: 4,
            budget: 20,
            coverage: vec![Coverage {
                name: "a".into(),
                rows: 2,
                cols: 1,
                share: 0.75,
                random_share: 2.0 / 12.0,
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("regions.safetensors");
        let meta = ArtifactMeta::new(
            ArtifactKind::Regions,
            "taso-regions",
            "0.1.0",
            "sha256:m",
            "rte",
            &serde_json::json!({ "rank": 4 }),
        )
        .unwrap()
        .with_parent("sha256:p");
        let digest = regions.write(&path, meta).unwrap();
        let expect = Expect::kind(ArtifactKind::Regions)
            .model("sha256:m")
            .parent("sha256:p");
        let artifact = Artifact::open(&path, &expect).unwrap();
        assert_eq!(artifact.digest, digest);
        assert_eq!(artifact.meta.extra["used"], "12");
        assert_eq!(Regions::from_artifact(&artifact).unwrap(), regions);
    }
}
