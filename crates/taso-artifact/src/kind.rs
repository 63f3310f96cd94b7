//! The kinds of artifact the TASO stages pass to each other.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ArtifactError;

/// What a stage output is; recorded under `taso.kind` in every artifact.
///
/// Serialised (serde, [`Display`](fmt::Display), [`FromStr`]) as the kebab-case names below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ArtifactKind {
    /// `importance`: per-weight importance scores and their marginals (`taso-score`).
    Importance,
    /// `regions`: the selected core rows and columns of each matrix (`taso-regions`).
    Regions,
    /// `adapter-init`: the initial sparse LoRA factors (`taso-lora`).
    AdapterInit,
    /// `adapter`: trained sparse LoRA factors and task head (`taso-train`).
    Adapter,
    /// `checkpoint`: a resumable training state (`taso-train`).
    Checkpoint,
    /// `forward`: recorded model outputs (`taso-forward`).
    Forward,
}

impl ArtifactKind {
    /// Every kind, in pipeline order.
    pub const ALL: [ArtifactKind; 6] = [
        ArtifactKind::Importance,
        ArtifactKind::Regions,
        ArtifactKind::AdapterInit,
        ArtifactKind::Adapter,
        ArtifactKind::Checkpoint,
        ArtifactKind::Forward,
    ];

    /// The name stored in `taso.kind`, e.g. `"adapter-init"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Importance => "importance",
            ArtifactKind::Regions => "regions",
            ArtifactKind::AdapterInit => "adapter-init",
            ArtifactKind::Adapter => "adapter",
            ArtifactKind::Checkpoint => "checkpoint",
            ArtifactKind::Forward => "forward",
        }
    }

    /// The stage binary that writes this kind; error messages tell users to run it.
    pub fn producer_binary(self) -> &'static str {
        match self {
            ArtifactKind::Importance => "taso-score",
            ArtifactKind::Regions => "taso-regions",
            ArtifactKind::AdapterInit => "taso-lora",
            ArtifactKind::Adapter | ArtifactKind::Checkpoint => "taso-train",
            ArtifactKind::Forward => "taso-forward",
        }
    }

    /// The known names joined for messages: `importance, regions, ...`.
    pub(crate) fn known_names() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
        names.join(", ")
    }
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ArtifactKind {
    type Err = ArtifactError;

    /// Parses a kind name; an unknown name gives [`ArtifactError::UnknownKind`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| ArtifactError::UnknownKind {
                path: None,
                found: s.to_string(),
            })
    }
}
