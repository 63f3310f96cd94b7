//! Versioned safetensors artifacts passed between the TASO stages.
//!
//! Every stage output (importance scores, core regions, adapter init, trained adapter,
//! checkpoint, recorded forward outputs) is one safetensors file whose `__metadata__` records
//! its [`ArtifactKind`], the [`SCHEMA_VERSION`], the producing crate and version, the base-model
//! fingerprint ([`model_fingerprint`]), the task, the stage's full config as JSON and the
//! digest ([`file_digest`]) of the artifact it was made from; see [`meta::keys`].
//!
//! [`write_artifact`] writes deterministic bytes atomically. [`Artifact::open`] checks all of
//! that against an [`Expect`] and fails with an [`ArtifactError`] whose message says what is
//! wrong and which command to run instead; it checks the header, hashes the file and reads each
//! tensor only when asked (see [`SafetensorsFile`]). Tensors are [`TensorData`] (no libtorch needed);
//! the `tch` feature adds `TensorData::from_tch` and `TensorData::to_tch`.
//!
//! The formats the stages pass live here too, as plain types that read and write without
//! libtorch: [`Importance`] (scores of stage 1) and [`Regions`] (core rows and columns of
//! stage 2); [`target_position`] is the one rule of which linear layers a run adapts. A stage
//! depends on this crate, never on the stage that wrote its input. [`StagingDir`] writes a
//! whole output folder (an imported or exported model) or nothing.
//!
//! ```
//! use taso_artifact::{write_artifact, Artifact, ArtifactKind, ArtifactMeta, Expect, TensorData};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("importance.safetensors");
//! let config = serde_json::json!({ "estimator": "sum-abs", "batches": 16 });
//! let meta = ArtifactMeta::new(
//!     ArtifactKind::Importance, "taso-score", "0.1.0", "sha256:ab12", "rte", &config,
//! )?;
//! let scores = TensorData::from_f32([2, 2], &[0.1, 0.4, 0.2, 0.3])?;
//! let tensors = vec![("layer0.q.scores".to_string(), scores)];
//! let digest = write_artifact(&path, &meta, &tensors)?;
//!
//! let expect = Expect::kind(ArtifactKind::Importance).model("sha256:ab12");
//! let artifact = Artifact::open(&path, &expect)?;
//! assert_eq!(artifact.digest, digest);
//! assert_eq!(artifact.meta.config["estimator"], "sum-abs");
//! assert_eq!(artifact.tensor("layer0.q.scores")?.to_f32_vec()?[1], 0.4);
//! // The next stage records `digest` with `ArtifactMeta::with_parent`.
//! # Ok(())
//! # }
//! ```

mod atomic;
mod digest;
mod error;
mod fingerprint;
mod header;
pub mod importance;
mod kind;
pub mod meta;
mod model_files;
mod read;
pub mod regions;
pub mod scoring;
mod staging;
mod targets;
#[cfg(feature = "tch")]
mod tch;
mod tensor;
#[cfg(feature = "testing")]
pub mod testing;
mod write;

pub use atomic::{remove_dead_writers_temp_files, write_atomic};
pub use digest::file_digest;
pub use error::{io_advice, ArtifactError};
pub use fingerprint::model_fingerprint;
pub use half::{bf16, f16};
pub use header::SafetensorsHeader;
pub use importance::{Importance, MatrixScores, Target};
pub use kind::ArtifactKind;
pub use meta::ArtifactMeta;
pub use model_files::model_weight_files;
pub use read::{read_safetensors_header, Artifact, Expect, SafetensorsFile};
pub use regions::{Coverage, MatrixRegion, Regions};
pub use safetensors::tensor::TensorInfo;
pub use safetensors::Dtype;
pub use scoring::ScoreConfig;
pub use staging::{is_absent_or_empty, StagingDir};
pub use targets::{block_and_rest, group_by_matrix_type, matrix_type, target_position};
pub use tensor::{Element, TensorData};
pub use write::{write_artifact, write_safetensors, TensorEntry};

/// The artifact schema version this build writes and reads. Bumped when the meaning of a
/// metadata key or of a kind's tensors changes; files of another version are refused.
pub const SCHEMA_VERSION: u32 = 1;
