//! `taso-eval`: stage 5 of TASO. Evaluates a run's trained adapter on a split, writes
//! `predictions.tsv`, the `eval` entry of `metrics.json`, a `report.md` section and the
//! resolved `config.toml`, and optionally exports the adapter in PEFT format.

use std::path::PathBuf;

use clap::Parser;
use std::process::ExitCode;
use taso_eval::{run_knockout, run_stage};
use taso_run::cli::StageArgs;

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
    /// Evaluate the run folder's adapter even though its training did not finish (same as
    /// `--set eval.allow_incomplete=true`).
    #[arg(long)]
    allow_incomplete: bool,
    /// Instead of the evaluation: the adapter whole, with no adapter matrix, then without each
    /// matrix type's adapters and with them alone (the `knockout` entry of metrics.json,
    /// knockout.png and a report.md section; predictions.tsv and the `eval` entry stay as they
    /// are).
    #[arg(long, conflicts_with = "export_peft")]
    knockout: bool,
}

fn main() -> ExitCode {
    taso_run::cli::init_logging();
    let mut args = Args::parse();
    if args.allow_incomplete {
        args.stage
            .overrides
            .push("eval.allow_incomplete=true".into());
    }
    args.stage.run_binary("taso-eval", |config| {
        if args.knockout {
            return Ok(run_knockout(config, args.adapter.as_deref())?.summary());
        }
        let outcome = run_stage(config, args.adapter.as_deref())?;
        let mut summary = outcome.summary();
        if let Some(dir) = &args.export_peft {
            outcome.export_peft(dir)?;
            summary.push_str(&format!("\nPEFT adapter written to {}", dir.display()));
        }
        Ok(summary)
    })
}
