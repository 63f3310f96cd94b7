//! `taso-score`: stage 1. Scores the run's task on its model and writes
//! `runs/<task>/<run>/importance.safetensors`; `taso-score merge` adds up shard scores.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Instant;
use taso_artifact::run::{ResolvedConfig, StageArgs};
use taso_artifact::{Artifact, ArtifactKind, ArtifactMeta, Expect};
use taso_models::RunContext;
use taso_score::{merge, score_task, ScoreConfig};

/// Stage 1 of TASO: importance scoring `|W ⊙ ∂L/∂W|` of the target layers.
#[derive(Parser)]
#[command(
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(flatten)]
    stage: Option<StageArgs>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Add up importance artifacts scored on disjoint shards of the same task and model.
    Merge {
        /// The shard artifacts.
        #[arg(required = true, num_args = 2..)]
        inputs: Vec<PathBuf>,
        /// The merged artifact.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> Result<()> {
    taso_artifact::run::init_logging();
    let cli = Cli::parse();
    match (cli.command, cli.stage) {
        (Some(Command::Merge { inputs, out }), _) => merge_files(&inputs, &out),
        (None, Some(stage)) => score(&stage),
        (None, None) => bail!("pass --config FILE.toml (or `taso-score merge`); see --help"),
    }
}

fn score(args: &StageArgs) -> Result<()> {
    let config = ResolvedConfig::load(args)?;
    let run = config.run()?;
    let score_config: ScoreConfig = config.section("score")?;
    score_config.validate()?;
    if !run.method.needs_scores() {
        println!(
            "taso-score: method {:?} needs no importance scores; nothing to do",
            run.method
        );
        return Ok(());
    }
    let ctx = RunContext::new(run).context("setting up the run")?;
    let (run, paths) = (&ctx.run, &ctx.paths);
    paths
        .create()
        .with_context(|| format!("creating {}", paths.dir.display()))?;
    tracing::info!(task = %run.task, model = %run.model.display(), device = ?ctx.device, "scoring");
    let start = Instant::now();
    let importance = score_task(&ctx, &score_config)?;
    let meta = ArtifactMeta::new(
        ArtifactKind::Importance,
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        ctx.fingerprint.clone(),
        run.task_name(),
        &score_config,
    )?
    .with_extra("estimator", format!("{:?}", score_config.estimator));
    importance.write(&paths.importance(), meta)?;
    config.write(&paths.config())?;
    let total: f64 = importance
        .matrices
        .iter()
        .map(|m| m.row.iter().map(|&v| f64::from(v)).sum::<f64>())
        .sum();
    println!(
        "wrote {}: {} target matrices, {} calibration examples, total importance {total:.4e}, {:.1}s",
        paths.importance().display(),
        importance.matrices.len(),
        importance.examples,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn merge_files(inputs: &[PathBuf], out: &Path) -> Result<()> {
    let expect = Expect::kind(ArtifactKind::Importance);
    let artifacts = inputs
        .iter()
        .map(|p| Artifact::open(p, &expect).with_context(|| format!("reading {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
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
    .with_extra("merged_from", serde_json::to_string(&digests)?);
    merged.write(out, meta)?;
    println!(
        "wrote {}: {} shards, {} calibration examples",
        out.display(),
        artifacts.len(),
        merged.examples
    );
    Ok(())
}
