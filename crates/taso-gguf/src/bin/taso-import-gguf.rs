//! `taso-import-gguf FILE.gguf OUT_DIR [--force]`: writes a Hugging Face model folder
//! (config.json, f32 model.safetensors, tokenizer.json, ...) from a llama/qwen2 GGUF file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;

/// Import a llama-architecture GGUF file as a Hugging Face model folder.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The GGUF file (version 2 or 3; llama or qwen2; F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q4_K/Q6_K).
    file: PathBuf,
    /// The folder to write; it must not exist or be empty unless --force.
    out_dir: PathBuf,
    /// Replace OUT_DIR if it exists (only once the new folder is complete).
    #[arg(long)]
    force: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    taso_gguf::cli::run_main("taso-import-gguf", || run(&args))
}

fn run(args: &Args) -> Result<()> {
    let start = Instant::now();
    let summary =
        taso_gguf::import_gguf(&args.file, &args.out_dir, args.force).with_context(|| {
            format!(
                "cannot import {} into {}",
                args.file.display(),
                args.out_dir.display()
            )
        })?;
    let config = &summary.config;
    tracing::info!(
        architecture = config.architecture.name(),
        layers = config.num_hidden_layers,
        hidden = config.hidden_size,
        vocab = config.vocab_size,
        tensors = summary.tensor_count,
        parameters = summary.parameter_count,
        source_types = ?summary.source_types,
        source = %summary.source_digest,
        seconds = format!("{:.1}", start.elapsed().as_secs_f64()),
        "wrote {}",
        summary.out_dir.display()
    );
    Ok(())
}
