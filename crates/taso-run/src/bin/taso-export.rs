//! `taso-export --config C.toml [--adapter FILE] (--merged DIR | --peft DIR) [--force]`: writes a
//! run's trained adapter as a PEFT LoRA folder, or merged into its base model as a Hugging Face
//! model folder (for decoders, `taso-export-gguf DIR OUT.gguf` then makes a GGUF file of it).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use taso_run::cli::StageArgs;
use taso_run::{export_merged, export_peft, RunContext, Sections, TrainedModel};

/// Export a trained adapter: merged into the base model (Hugging Face folder) or as PEFT LoRA.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    stage: StageArgs,
    /// The `adapter` file to export (default: the run folder's file that `eval.adapter` names).
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// Write the base model with the adapter merged into its weights to this folder.
    #[arg(long, value_name = "DIR", required_unless_present = "peft")]
    merged: Option<PathBuf>,
    /// Write the adapter (and a classifier's head) to this folder in PEFT format.
    #[arg(long, value_name = "DIR")]
    peft: Option<PathBuf>,
    /// Replace the --merged folder if it holds files (only once the new one is complete).
    #[arg(long)]
    force: bool,
}

fn main() -> ExitCode {
    taso_run::cli::init_logging();
    let args = Args::parse();
    args.stage.run_binary("taso-export", |config| {
        let Sections { run, eval, .. } = config.sections()?;
        let ctx = RunContext::new(run)?;
        let adapter = match &args.adapter {
            Some(path) => path.clone(),
            None => eval.adapter.path(&ctx.paths).ok_or_else(|| {
                anyhow::anyhow!(
                    "`eval.adapter = \"none\"` names no adapter to export; pass --adapter FILE"
                )
            })?,
        };
        let mut lines = Vec::new();
        if let Some(dir) = &args.peft {
            let trained = TrainedModel::load(&ctx, &adapter, false)?;
            export_peft(&trained, dir, &ctx.run.model)?;
            lines.push(format!("PEFT adapter written to {}", dir.display()));
        }
        if let Some(dir) = &args.merged {
            let export = export_merged(&ctx, &adapter, dir, args.force)?;
            lines.push(format!(
                "merged model written to {} ({} tensors, {} parameters, {})",
                dir.display(),
                export.tensors,
                export.params,
                export.files.join(", ")
            ));
        }
        Ok(lines.join("\n"))
    })
}
