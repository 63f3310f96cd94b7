//! Reading and writing adapters as `adapter-init` / `adapter` artifacts (`docs/artifacts.md`).
//!
//! Tensors per adapted matrix `<m>`: `<m>.rows`, `<m>.cols` (i64), `<m>.lora_A` f32 `[r, |C|]`,
//! `<m>.lora_B` f32 `[|R|, r]` — always compact, whatever the set's form. Extras: `rank`,
//! `alpha`, `scale`, `rslora`, and `targets` (the adapted matrices with their shapes, in model
//! order, as in the regions artifact).

use crate::config::{LoraForm, Scaling};
use crate::error::AdapterError;
use crate::matrix::MatrixAdapter;
use crate::set::AdapterSet;
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::path::Path;
use taso_artifact::{
    write_artifact, Artifact, ArtifactError, ArtifactKind, ArtifactMeta, TensorData,
};
use taso_artifact::{MatrixRegion, Target};
use tch::{Device, Tensor};

const RANK: &str = "rank";
const ALPHA: &str = "alpha";
const SCALE: &str = "scale";
const RSLORA: &str = "rslora";
const TARGETS: &str = "targets";

impl AdapterSet {
    /// The adapter's tensors, named as in the artifact (compact, on the CPU).
    pub fn tensors(&self) -> Result<Vec<(String, TensorData)>, AdapterError> {
        let mut tensors = Vec::new();
        for m in self.matrices() {
            let (name, region) = (m.name(), m.region());
            let (a, b) = m.compact_factors();
            tensors.extend([
                (
                    format!("{name}.rows"),
                    TensorData::from_i64([region.rows.len()], &region.rows)?,
                ),
                (
                    format!("{name}.cols"),
                    TensorData::from_i64([region.cols.len()], &region.cols)?,
                ),
                (format!("{name}.lora_A"), TensorData::from_tch(&a.detach())?),
                (format!("{name}.lora_B"), TensorData::from_tch(&b.detach())?),
            ]);
        }
        Ok(tensors)
    }

    /// Writes the adapter atomically to `path`; returns the file's digest. `meta` gives kind
    /// (`adapter-init` or `adapter`), producer, model, task, config and parent; the scaling
    /// facts are added to it.
    pub fn write(&self, path: &Path, meta: ArtifactMeta) -> Result<String, AdapterError> {
        self.write_with(path, meta, Vec::new())
    }

    /// [`write`](Self::write) with more tensors beside the adapter's (e.g. the trainer's
    /// `head.classifier.weight`).
    pub fn write_with(
        &self,
        path: &Path,
        meta: ArtifactMeta,
        extra_tensors: Vec<(String, TensorData)>,
    ) -> Result<String, AdapterError> {
        let scaling = self.scaling();
        let targets: Vec<&Target> = self.matrices().iter().map(|m| &m.region().target).collect();
        let meta = meta
            .with_extra(RANK, scaling.rank.to_string())
            .with_extra(ALPHA, scaling.alpha.to_string())
            .with_extra(SCALE, scaling.scale().to_string())
            .with_extra(RSLORA, scaling.rslora.to_string())
            .with_extra(TARGETS, to_json(&targets));
        let mut tensors = self.tensors()?;
        tensors.extend(extra_tensors);
        Ok(write_artifact(path, &meta, &tensors)?)
    }

    /// Reads the adapter of an opened `adapter-init` or `adapter` artifact onto `device`, in
    /// the compact form (convert with [`to_form`](Self::to_form)). Open it with
    /// `Artifact::open` to check its model and parent.
    pub fn load(artifact: &Artifact, device: Device) -> Result<Self, AdapterError> {
        let kind = artifact.meta.kind;
        if !matches!(kind, ArtifactKind::AdapterInit | ArtifactKind::Adapter) {
            return Err(ArtifactError::WrongKind {
                path: artifact.path.clone(),
                expected: ArtifactKind::AdapterInit,
                found: kind,
            }
            .into());
        }
        let scaling = Scaling {
            rank: extra(artifact, RANK)?,
            alpha: extra(artifact, ALPHA)?,
            rslora: extra(artifact, RSLORA)?,
        };
        let targets: Vec<Target> = extra_json(artifact, TARGETS)?;
        let in_file = |reason: String| AdapterError::BadFile {
            path: artifact.path.clone(),
            kind,
            reason,
        };
        let listed: HashSet<String> = targets.iter().map(|t| t.name.clone()).collect();
        if let Some(stray) = artifact.tensor_names().into_iter().find(|name| {
            FACTOR_SUFFIXES.iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|m| !listed.contains(m))
            })
        }) {
            return Err(in_file(format!(
                "tensor `{stray}` belongs to no matrix of its `targets` metadata"
            )));
        }
        let matrices = targets
            .into_iter()
            .map(|target| load_matrix(artifact, target, scaling.rank, device))
            .collect::<Result<Vec<_>, _>>();
        matrices
            .and_then(|matrices| AdapterSet::new(scaling, LoraForm::Compact, matrices))
            .map_err(|error| match error {
                AdapterError::BadRegions(reason) => in_file(reason),
                AdapterError::BadFactor {
                    name,
                    factor,
                    expected,
                    found,
                } => in_file(format!(
                    "{factor} of `{name}` is {found}, expected {expected}"
                )),
                AdapterError::NonFinite(tensor) => {
                    in_file(format!("`{tensor}` holds NaN or infinite values"))
                }
                other => other,
            })
    }
}

/// The suffixes of one matrix's tensors in an adapter file.
const FACTOR_SUFFIXES: [&str; 4] = [".rows", ".cols", ".lora_A", ".lora_B"];

fn load_matrix(
    artifact: &Artifact,
    target: Target,
    rank: usize,
    device: Device,
) -> Result<MatrixAdapter, AdapterError> {
    let name = target.name.clone();
    let factor = |suffix: &str| -> Result<Tensor, AdapterError> {
        let tensor_name = format!("{name}.{suffix}");
        let tensor = artifact.tensor(&tensor_name)?.to_tch()?;
        if tensor.is_floating_point() && !bool::try_from(tensor.isfinite().all())? {
            return Err(AdapterError::NonFinite(tensor_name));
        }
        Ok(tensor.to_device(device))
    };
    let indices = |what: &str| -> Result<Vec<i64>, AdapterError> {
        let tensor_name = format!("{name}.{what}");
        let tensor = artifact.tensor(&tensor_name)?;
        if tensor.dtype != taso_artifact::Dtype::I64 || tensor.shape.len() != 1 {
            return Err(AdapterError::BadRegions(format!(
                "`{tensor_name}` is {:?} {:?}, expected a list of i64 indices",
                tensor.dtype, tensor.shape
            )));
        }
        Ok(tensor.to_vec()?)
    };
    let region = MatrixRegion {
        rows: indices("rows")?,
        cols: indices("cols")?,
        target,
    };
    let (a, b) = (factor("lora_A")?, factor("lora_B")?);
    MatrixAdapter::new(region, LoraForm::Compact, rank, a, b)
}

/// Parses the extra `key` of the artifact as `T`.
fn extra<T: std::str::FromStr>(artifact: &Artifact, key: &str) -> Result<T, ArtifactError> {
    let value = artifact
        .meta
        .extra
        .get(key)
        .ok_or_else(|| bad_extra(artifact, key, "is missing"))?;
    value
        .parse()
        .map_err(|_| bad_extra(artifact, key, &format!("'{value}' does not parse")))
}

/// Parses the extra `key` of the artifact as JSON.
fn extra_json<T: DeserializeOwned>(artifact: &Artifact, key: &str) -> Result<T, ArtifactError> {
    let text: String = extra(artifact, key)?;
    serde_json::from_str(&text).map_err(|e| bad_extra(artifact, key, &e.to_string()))
}

fn bad_extra(artifact: &Artifact, key: &str, reason: &str) -> ArtifactError {
    ArtifactError::BadMetadata {
        path: artifact.path.clone(),
        key: format!("taso.extra.{key}"),
        reason: reason.to_string(),
    }
}

/// Compact JSON of plain data (names and sizes: cannot fail).
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("names and sizes serialise")
}
