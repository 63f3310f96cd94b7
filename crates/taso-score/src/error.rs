//! The error type of the scorer.

/// What can go wrong while scoring.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// The run's config cannot be read, validated or written.
    #[cfg(feature = "stage")]
    #[error(transparent)]
    Config(#[from] taso_run::ConfigError),
    /// The run's task or model could not be set up.
    #[cfg(feature = "stage")]
    #[error(transparent)]
    Run(#[from] taso_run::RunError),
    /// A folder or file could not be created.
    #[error("cannot create {}: {source}; {}", .path.display(), taso_artifact::io_advice(.source))]
    Io {
        /// The folder or file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Task data or tokenization.
    #[cfg(feature = "stage")]
    #[error(transparent)]
    Data(#[from] taso_data::DataError),
    /// Loading or running the model.
    #[cfg(feature = "stage")]
    #[error(transparent)]
    Model(#[from] taso_models::ModelError),
    /// Reading or writing an artifact.
    #[error(transparent)]
    Artifact(#[from] taso_artifact::ArtifactError),
    /// libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// A weight name the scorer does not track.
    #[error("the scorer tracks no weight named `{0}`")]
    UnknownWeight(String),
    /// Columns divided where only marginals are kept.
    #[error("cannot divide the columns of `{0}`: its scores are kept as marginals only; use store = \"full\"")]
    ColumnsNeedFullScores(String),
    /// One factor per column expected.
    #[error("`{name}` has {expected} columns but {found} factors were given")]
    ColumnFactors {
        /// The weight's name.
        name: String,
        /// Its columns.
        expected: i64,
        /// The factors given.
        found: usize,
    },
    /// A weight handed to the scorer is not a floating-point matrix.
    #[error("cannot score `{name}`: it is a {kind} tensor of shape {shape:?}, and the scorer takes weight matrices [d_out, d_in] of a floating-point type")]
    NotAMatrix {
        /// The weight's name.
        name: String,
        /// Its shape.
        shape: Vec<i64>,
        /// Its element type.
        kind: String,
    },
    /// No linear layer of the model matches the configured targets.
    #[error("no linear layer of the model matches the targets {targets:?}; set run.targets to module paths inside the blocks: this model has {available:?}")]
    NoTargets {
        /// The configured targets.
        targets: Vec<String>,
        /// The model's linear layers' paths inside the blocks.
        available: Vec<String>,
    },
    /// Head warm-up asked for on a decoder, whose LM head is not trained.
    #[error("score.head_warmup_steps = {steps}, but head warm-up is for classifier heads and a decoder keeps its own LM head: set score.head_warmup_steps = 0")]
    WarmupOnDecoder {
        /// The configured steps.
        steps: usize,
    },
    /// The choice loss asked for on a task whose answers it cannot tell apart.
    #[error("score.loss = \"choice\" needs a prompt task whose examples each offer candidate answers, as many for every example and told apart by their first token; task `{task}` does not: set score.loss = \"answer\"")]
    NoChoice {
        /// The run's task.
        task: String,
    },
    /// The training split (or shard) has no example to score.
    #[error("no training example to score (after sharding); check the task's train split and score.shard")]
    NoExamples,
    /// The loss became NaN or infinite.
    #[error("the loss is not finite at {stage} step {step}; lower score.head_warmup_lr or check the data")]
    NonFiniteLoss {
        /// `warm-up` or `scoring`.
        stage: &'static str,
        /// 1-based step.
        step: usize,
    },
    /// Under f16, a batch's gradients overflowed at every loss scale tried.
    #[error("scoring batch {step}: the f16 gradients overflow at every loss scale tried; compute in bf16 (run.dtype = \"bf16\"), which has f32's range")]
    F16Overflow {
        /// 1-based batch.
        step: usize,
    },
    /// Artifacts that cannot be merged.
    #[error("cannot merge {path}: {reason}")]
    Merge {
        /// The offending artifact.
        path: String,
        /// Why.
        reason: String,
    },
}
