//! `taso-export-gguf MODEL_DIR OUT.gguf [--type f16|q8_0|f32] [--force]`: writes a GGUF v3 file
//! that llama.cpp runs from a Hugging Face llama/qwen2 folder (config.json, model.safetensors,
//! tokenizer.json, tokenizer_config.json).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use taso_gguf::GgufOutType;

/// Export a Hugging Face llama/qwen2 folder as a GGUF file for llama.cpp.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The model folder: config.json (llama or qwen2), model.safetensors (F32, BF16 or F16),
    /// tokenizer.json (byte-level BPE), tokenizer_config.json.
    model_dir: PathBuf,
    /// The GGUF file to write; it must not exist unless --force.
    out: PathBuf,
    /// The type of the weight matrices: f16, q8_0 or f32 (norms and biases stay f32; q8_0
    /// falls back to f16 for rows that do not split into blocks of 32).
    #[arg(long = "type", default_value = "f16")]
    out_type: GgufOutType,
    /// Replace OUT if it exists (only once the new file is complete).
    #[arg(long)]
    force: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    taso_gguf::cli::run_main("taso-export-gguf", || run(&args))
}

fn run(args: &Args) -> Result<()> {
    let start = Instant::now();
    let summary = taso_gguf::export_gguf(&args.model_dir, &args.out, args.out_type, args.force)
        .with_context(|| {
            format!(
                "cannot export {} to {}",
                args.model_dir.display(),
                args.out.display()
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
        r#type = %summary.out_type,
        tensor_types = ?summary.tensor_types,
        size_mb = format!("{:.1}", summary.file_bytes as f64 / 1e6),
        seconds = format!("{:.1}", start.elapsed().as_secs_f64()),
        "wrote {}",
        summary.out.display()
    );
    Ok(())
}
