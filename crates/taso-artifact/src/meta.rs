//! What every artifact records about itself in the safetensors `__metadata__` map.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ArtifactError;
use crate::kind::ArtifactKind;
use crate::SCHEMA_VERSION;

/// The `__metadata__` keys an artifact uses.
pub mod keys {
    /// The [`ArtifactKind`](crate::ArtifactKind) name.
    pub const KIND: &str = "taso.kind";
    /// The schema version, a decimal integer.
    pub const SCHEMA: &str = "taso.schema";
    /// `"<crate> <version>"` of the stage that wrote the file.
    pub const PRODUCER: &str = "taso.producer";
    /// The base-model fingerprint (see [`crate::model_fingerprint`]).
    pub const MODEL: &str = "taso.model";
    /// The task name.
    pub const TASK: &str = "taso.task";
    /// The stage's full config as compact JSON.
    pub const CONFIG: &str = "taso.config";
    /// The digest of the parent artifact; absent when there is none.
    pub const PARENT: &str = "taso.parent";
    /// Prefix of stage-specific entries ([`ArtifactMeta::extra`](crate::ArtifactMeta::extra)).
    pub const EXTRA_PREFIX: &str = "taso.extra.";
    /// `format = pt`, written so that Hugging Face loaders accept the file; ignored on read.
    pub const FORMAT: &str = "format";
}

/// The provenance of one artifact: what it is, who made it, for which model and task, with
/// which config, and from which parent artifact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArtifactMeta {
    /// What the artifact is.
    pub kind: ArtifactKind,
    /// The schema version it was written with.
    pub schema_version: u32,
    /// The writing stage, e.g. `"taso-score 0.1.0"`.
    pub producer: String,
    /// The base-model fingerprint, see [`crate::model_fingerprint`].
    pub model_fingerprint: String,
    /// The task, e.g. `"rte"`.
    pub task: String,
    /// The stage's full config.
    pub config: serde_json::Value,
    /// The digest ([`crate::file_digest`]) of the artifact this one was made from.
    pub parent_digest: Option<String>,
    /// Small stage-specific facts, stored under `taso.extra.<key>`.
    pub extra: BTreeMap<String, String>,
}

impl ArtifactMeta {
    /// Metadata for a new artifact at the current [`SCHEMA_VERSION`], without parent or extras.
    ///
    /// Pass `env!("CARGO_PKG_NAME")` and `env!("CARGO_PKG_VERSION")` as the producer. Fails only
    /// when `config` cannot be represented as JSON.
    pub fn new(
        kind: ArtifactKind,
        producer_crate_name: &str,
        producer_version: &str,
        model_fingerprint: impl Into<String>,
        task: impl Into<String>,
        config: &impl Serialize,
    ) -> Result<Self, ArtifactError> {
        let config = serde_json::to_value(config)
            .map_err(|source| ArtifactError::ConfigNotJson { source })?;
        Ok(ArtifactMeta {
            kind,
            schema_version: SCHEMA_VERSION,
            producer: format!("{producer_crate_name} {producer_version}"),
            model_fingerprint: model_fingerprint.into(),
            task: task.into(),
            config,
            parent_digest: None,
            extra: BTreeMap::new(),
        })
    }

    /// Records the digest of the parent artifact.
    pub fn with_parent(mut self, digest: impl Into<String>) -> Self {
        self.parent_digest = Some(digest.into());
        self
    }

    /// The stored stage config read back as `T`, without copying it. Fields `T` has gained
    /// since the artifact was written read as their serde defaults, so an older artifact's
    /// settings come back as what it was actually made with.
    pub fn config_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.config)
    }

    /// Adds one stage-specific fact, stored as `taso.extra.<key>`.
    pub fn with_extra(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// The `__metadata__` map to store (keys in [`keys`]).
    ///
    /// The config is compact JSON with object keys sorted, so equal configs give equal bytes.
    pub fn to_metadata(&self) -> HashMap<String, String> {
        let mut map = HashMap::from([
            (keys::KIND.to_string(), self.kind.as_str().to_string()),
            (keys::SCHEMA.to_string(), self.schema_version.to_string()),
            (keys::PRODUCER.to_string(), self.producer.clone()),
            (keys::MODEL.to_string(), self.model_fingerprint.clone()),
            (keys::TASK.to_string(), self.task.clone()),
            (keys::CONFIG.to_string(), self.config.to_string()),
            (keys::FORMAT.to_string(), "pt".to_string()),
        ]);
        if let Some(parent) = &self.parent_digest {
            map.insert(keys::PARENT.to_string(), parent.clone());
        }
        for (key, value) in &self.extra {
            map.insert(format!("{}{key}", keys::EXTRA_PREFIX), value.clone());
        }
        map
    }

    /// Parses a `__metadata__` map; errors name the source as `<__metadata__>`.
    ///
    /// Refuses maps without `taso.kind` ([`ArtifactError::NotAnArtifact`]), other schema
    /// versions ([`ArtifactError::SchemaMismatch`]), unknown kinds and missing or malformed
    /// entries ([`ArtifactError::BadMetadata`]).
    pub fn from_metadata(map: &HashMap<String, String>) -> Result<Self, ArtifactError> {
        Self::from_file_metadata(map, Path::new("<__metadata__>"))
    }

    /// [`from_metadata`](Self::from_metadata) for a map read from the file at `path`, which
    /// error messages name.
    pub fn from_file_metadata(
        map: &HashMap<String, String>,
        path: &Path,
    ) -> Result<Self, ArtifactError> {
        Self::parse(map, path, None)
    }

    /// [`from_file_metadata`](Self::from_file_metadata) where `needed` is the kind the caller
    /// wants, used in hints.
    pub(crate) fn parse(
        map: &HashMap<String, String>,
        path: &Path,
        needed: Option<ArtifactKind>,
    ) -> Result<Self, ArtifactError> {
        let entries = Entries { map, path };
        let Some(kind_name) = map.get(keys::KIND) else {
            return Err(ArtifactError::NotAnArtifact {
                path: path.to_path_buf(),
                needed,
            });
        };
        let schema_version = entries.schema()?;
        if schema_version != SCHEMA_VERSION {
            return Err(ArtifactError::SchemaMismatch {
                path: path.to_path_buf(),
                kind: kind_name.clone(),
                found: schema_version,
                supported: SCHEMA_VERSION,
            });
        }
        let kind = kind_name.parse().map_err(|_| ArtifactError::UnknownKind {
            path: Some(path.to_path_buf()),
            found: kind_name.clone(),
        })?;
        Ok(ArtifactMeta {
            kind,
            schema_version,
            producer: entries.required(keys::PRODUCER)?.to_string(),
            model_fingerprint: entries.required(keys::MODEL)?.to_string(),
            task: entries.required(keys::TASK)?.to_string(),
            config: entries.config()?,
            parent_digest: map.get(keys::PARENT).cloned(),
            extra: entries.extra(),
        })
    }
}

/// A metadata map together with the file it came from, for error messages.
struct Entries<'a> {
    map: &'a HashMap<String, String>,
    path: &'a Path,
}

impl Entries<'_> {
    fn bad(&self, key: &str, reason: String) -> ArtifactError {
        ArtifactError::BadMetadata {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            reason,
        }
    }

    fn required(&self, key: &str) -> Result<&str, ArtifactError> {
        self.map
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| self.bad(key, "is missing".to_string()))
    }

    fn schema(&self) -> Result<u32, ArtifactError> {
        let text = self.required(keys::SCHEMA)?;
        text.parse()
            .map_err(|_| self.bad(keys::SCHEMA, format!("is '{text}', not a version number")))
    }

    fn config(&self) -> Result<serde_json::Value, ArtifactError> {
        serde_json::from_str(self.required(keys::CONFIG)?)
            .map_err(|e| self.bad(keys::CONFIG, format!("is not valid JSON ({e})")))
    }

    fn extra(&self) -> BTreeMap<String, String> {
        self.map
            .iter()
            .filter_map(|(key, value)| {
                let short = key.strip_prefix(keys::EXTRA_PREFIX)?;
                Some((short.to_string(), value.clone()))
            })
            .collect()
    }
}
