//! `taso-import-peft --config C.toml PEFT_DIR [--out FILE]`: reads a Hugging Face PEFT LoRA
//! folder for the config's model and task and writes it as a taso `adapter` artifact, which
//! `taso-eval --adapter FILE` evaluates (attached or merged) and `taso-export` exports.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use taso_run::cli::StageArgs;
use taso_run::{import_peft, RunContext, Sections};

/// Import a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors).
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    stage: StageArgs,
    /// The PEFT folder, as `PeftModel.save_pretrained` writes it.
    peft_dir: PathBuf,
    /// The adapter file to write (default: `adapter-peft.safetensors` in the run folder).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    taso_run::cli::init_logging();
    let args = Args::parse();
    args.stage.run_binary("taso-import-peft", |config| {
        let Sections { run, .. } = config.sections()?;
        let ctx = RunContext::new(run)?;
        let out = match &args.out {
            Some(out) => out.clone(),
            None => {
                ctx.paths.create()?;
                ctx.paths.dir.join("adapter-peft.safetensors")
            }
        };
        let imported = import_peft(&ctx, &args.peft_dir, &out)?;
        Ok(format!(
            "wrote {} ({}): {} matrices, {} of them sparse, {} adapter parameters, {} saved \
             tensors; method recorded as `{}`\nevaluate it with: taso-eval --config {} --adapter {}",
            out.display(),
            imported.digest,
            imported.matrices,
            imported.sparse_matrices,
            imported.params,
            imported.saved_tensors,
            imported.method,
            args.stage.config.display(),
            out.display()
        ))
    })
}
