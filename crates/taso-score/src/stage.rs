//! Stage 1 on a run folder: score the run's task and write `importance.safetensors` and the
//! resolved `config.toml`; and the merge of shard artifacts into one file.

use std::path::{Path, PathBuf};
use std::time::Instant;

use taso_artifact::{write_atomic, Artifact, ArtifactKind, ArtifactMeta, Expect};
use taso_run::RunContext;
use taso_run::{Method, ResolvedConfig, RunSettings, Sections};

use taso_artifact::scoring::SCORED_LOSS;
use taso_artifact::Importance;

use crate::{inputs, merge, score_task, ScoreError, Scored};

/// What one run of the stage did.
#[derive(Debug)]
pub enum Outcome {
    /// The run's method needs no importance scores (`lora`, `bitfit`, ...): nothing to do.
    NothingToDo(Method),
    /// This rank of a data-parallel run scored its share of the batches; rank 0 wrote the sum.
    Shared {
        /// This process's rank.
        rank: usize,
    },
    /// The task was scored and the artifact written.
    Written {
        /// The scores.
        importance: Importance,
        /// The `importance.safetensors` written.
        path: PathBuf,
        /// Wall-clock seconds of the scoring.
        seconds: f64,
    },
}

/// Runs stage 1 for the resolved config: checks the whole config first, then scores the
/// task's calibration batches and writes the artifact into the run folder.
pub fn run_stage(config: &ResolvedConfig) -> Result<Outcome, ScoreError> {
    let Sections {
        run,
        score: score_config,
        ..
    } = config.sections()?;
    if !run.method.needs_scores() {
        return Ok(Outcome::NothingToDo(run.method));
    }
    let ctx = writable_run(run)?;
    let paths = &ctx.paths;
    tracing::info!(task = %ctx.run.task, model = %ctx.run.model.display(), device = ?ctx.device, "scoring");
    let start = Instant::now();
    let Scored { importance, loss } = score_task(&ctx, &score_config)?;
    if let Some(parallel) = ctx.parallel.filter(|p| !p.is_main()) {
        return Ok(Outcome::Shared {
            rank: parallel.rank(),
        });
    }
    let meta = ArtifactMeta::new(
        ArtifactKind::Importance,
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        ctx.fingerprint.clone(),
        ctx.run.task_name(),
        &score_config,
    )?
    .with_extra("estimator", format!("{:?}", score_config.estimator))
    .with_extra("signal", format!("{:?}", score_config.signal))
    .with_extra(SCORED_LOSS, loss.name());
    let path = paths.importance();
    paths.create().map_err(|e| folder_error(&ctx, e))?;
    importance.write(&path, meta)?;
    config.write(&paths.config())?;
    Ok(Outcome::Written {
        importance,
        path,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// `taso-score inputs`: measures the input features of the run's target matrices on the
/// calibration batches scoring would draw ([`crate::inputs`]) and writes `inputs.md` into the run
/// folder; scores nothing. Returns the file and the table.
pub fn run_inputs(config: &ResolvedConfig) -> Result<(PathBuf, String), ScoreError> {
    let Sections {
        run,
        score: score_config,
        ..
    } = config.sections()?;
    let ctx = writable_run(run)?;
    let (rms, examples) = inputs::input_rms(&ctx, &score_config)?;
    let report = inputs::render(&inputs::loud_features(&rms), examples);
    let path = ctx.paths.dir.join("inputs.md");
    ctx.paths.create().map_err(|e| folder_error(&ctx, e))?;
    write_atomic(&path, report.as_bytes()).map_err(|source| ScoreError::Io {
        path: path.clone(),
        source,
    })?;
    Ok((path, report))
}

/// The run's context, its folder checked writable before the long work (the folder itself is
/// made only once there is a result).
fn writable_run(run: RunSettings) -> Result<RunContext, ScoreError> {
    let ctx = RunContext::new(run)?;
    ctx.paths
        .check_writable()
        .map_err(|e| folder_error(&ctx, e))?;
    Ok(ctx)
}

/// The run folder could not be created or written.
fn folder_error(ctx: &RunContext, source: std::io::Error) -> ScoreError {
    ScoreError::Io {
        path: ctx.paths.dir.clone(),
        source,
    }
}

/// Adds up importance artifacts scored on disjoint shards of the same task and model (see
/// [`merge`]) and writes the sum to `out`, recording the shards' digests.
pub fn merge_files(inputs: &[PathBuf], out: &Path) -> Result<Importance, ScoreError> {
    let expect = Expect::kind(ArtifactKind::Importance);
    let artifacts = inputs
        .iter()
        .map(|p| Artifact::open(p, &expect))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = merge(&artifacts)?;
    let first = &artifacts[0].meta;
    let digests: Vec<&str> = artifacts.iter().map(|a| a.digest.as_str()).collect();
    let meta = ArtifactMeta::new(
        ArtifactKind::Importance,
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        first.model_fingerprint.clone(),
        first.task.clone(),
        &first.config,
    )?
    .with_extra(
        "merged_from",
        serde_json::to_string(&digests).expect("strings serialise"),
    );
    // What the shards were scored with, as each of them records it (merge checked they agree).
    let meta = ["estimator", "signal", SCORED_LOSS]
        .into_iter()
        .filter_map(|key| Some((key, first.extra.get(key)?)))
        .fold(meta, |meta, (key, value)| meta.with_extra(key, value));
    merged.write(out, meta)?;
    Ok(merged)
}

impl Outcome {
    /// A line for the terminal: the file, matrices, examples, total importance and time.
    pub fn summary(&self) -> String {
        match self {
            Outcome::NothingToDo(method) => {
                format!("taso-score: method {method} needs no importance scores; nothing to do")
            }
            Outcome::Shared { rank } => {
                format!("taso-score: rank {rank} scored its share; rank 0 wrote the scores")
            }
            Outcome::Written {
                importance,
                path,
                seconds,
            } => format!(
                "wrote {}: {} target matrices, {} calibration examples, total importance \
                 {:.4e}, {seconds:.1}s",
                path.display(),
                importance.matrices.len(),
                importance.examples,
                importance.total(),
            ),
        }
    }
}
