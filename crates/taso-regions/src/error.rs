//! The one error type of this crate; every message says what is wrong and what to do.

use std::path::PathBuf;
use taso_artifact::ArtifactError;
use taso_run::ConfigError;

/// Why regions could not be selected or written.
#[derive(Debug, thiserror::Error)]
pub enum RegionsError {
    /// The config is malformed or out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// An input or output artifact failed; `what` says which one and why it was needed.
    #[error("{what}: {source}")]
    Artifact {
        /// What was being read or written.
        what: String,
        /// The artifact crate's error (it names the file and the stage to re-run).
        source: ArtifactError,
    },

    /// `core-count` line scores need the full score matrices; the importance has marginals only.
    #[error(
        "the importance of {name} holds only row and column marginals (score.store = \
         \"marginals\"), but `core-count` row/column scores need the full score matrices; \
         either --set regions.row_score=marginal --set regions.col_score=marginal, or re-run \
         `taso-score` with score.store = \"full\""
    )]
    MarginalsOnly {
        /// The first matrix without full scores.
        name: String,
    },

    /// Reading or selecting from the importance in `path` failed.
    #[error("selecting regions from {}: {source}", .path.display())]
    Selection {
        /// The importance artifact.
        path: PathBuf,
        /// What failed.
        source: Box<RegionsError>,
    },

    /// A score tensor is inconsistent with its matrix or holds non-finite values.
    #[error("bad importance scores for {name}: {reason}; re-run `taso-score`")]
    BadScores {
        /// The matrix.
        name: String,
        /// What is wrong.
        reason: String,
    },

    /// The importance lists no target matrix.
    #[error(
        "the importance lists no target matrices; re-run `taso-score` with run.targets naming \
         linear layers"
    )]
    NoMatrices,

    /// Every score is zero, so nothing can be ranked.
    #[error(
        "the importance scores are zero everywhere, so no row or column can be preferred; \
         re-run `taso-score` with more calibration examples or head warm-up steps, or use \
         allocation = \"random\""
    )]
    ZeroImportance,

    /// The budget cannot pay for even the smallest allowed regions.
    #[error(
        "the budget of {budget} parameters is too small: {what} needs at least {needed} \
         parameters at rank {rank}; raise `regions.budget` or lower `regions.rank`"
    )]
    BudgetTooSmall {
        /// P.
        budget: usize,
        /// The smallest cost of any selection.
        needed: usize,
        /// r.
        rank: usize,
        /// What the smallest selection is.
        what: String,
    },

    /// No linear weight of the model matches `run.targets`.
    #[error(
        "no linear weight `encoder.layer.*.<target>.weight` or `model.layers.*.<target>.weight` of the model in {} matches \
         run.targets {targets:?}; check the suffixes: encoders use \"attention.self.query\", \"attention.self.key\", \"attention.self.value\", \"attention.output.dense\", \"intermediate.dense\", \"output.dense\"; decoders use \"self_attn.q_proj\", \"self_attn.k_proj\", \"self_attn.v_proj\", \"self_attn.o_proj\", \"mlp.gate_proj\", \"mlp.up_proj\", \"mlp.down_proj\"",
        .model.display()
    )]
    NoTargets {
        /// The model folder.
        model: PathBuf,
        /// The suffixes asked for.
        targets: Vec<String>,
    },

    /// A file (model index, report, heat-map) could not be read, written or encoded.
    #[error("{what} {}: {reason}", .path.display())]
    File {
        /// What was being done, e.g. "cannot write the report".
        what: String,
        /// The file.
        path: PathBuf,
        /// The cause.
        reason: String,
    },
}
