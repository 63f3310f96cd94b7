//! `taso-eval`: stage 5 of TASO. Evaluates a run's trained adapter on a split, writes
//! `predictions.tsv`, the `eval` entry of `metrics.json`, a `report.md` section and the
//! resolved `config.toml`, and optionally exports the adapter in PEFT format.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use taso_artifact::run::{ResolvedConfig, StageArgs};
use taso_eval::{evaluate_run, export_peft, EvalConfig};
use taso_train::RunContext;

/// Evaluate a trained adapter as the config's `[run]` and `[eval]` sections say.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    stage: StageArgs,
    /// Evaluate this adapter file instead of the run folder's (`eval.adapter`).
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// Also write the adapter and its head to this folder in Hugging Face PEFT format.
    #[arg(long, value_name = "DIR")]
    export_peft: Option<PathBuf>,
}

fn main() -> Result<()> {
    taso_artifact::run::init_logging();
    let args = Args::parse();
    let config = ResolvedConfig::load(&args.stage)?;
    let run = config.run()?;
    let eval: EvalConfig = config.section("eval")?;
    eval.validate()?;
    let mut ctx = RunContext::new(run).context("setting up the run")?;
    ctx.generation = config.section("generate")?;
    let (report, trained) = evaluate_run(&ctx, &eval, args.adapter.as_deref())?;
    if let Some(dir) = &args.export_peft {
        let trained = trained
            .context("--export-peft needs an adapter; `eval.adapter = \"none\"` has none")?;
        export_peft(&trained, dir, &ctx.run.model)?;
        println!("PEFT adapter written to {}", dir.display());
    }
    config.write(&ctx.paths.config())?;
    println!("{}", report.summary());
    Ok(())
}
