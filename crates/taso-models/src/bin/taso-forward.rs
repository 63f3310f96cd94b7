//! `taso-forward`: runs a base model on a jsonl file of `{"text", "pair"}` lines, as one padded
//! batch, and writes `input_ids`, `attention_mask`, `token_type_ids` and `last_hidden_state` to a
//! `forward` artifact — to check that a model loads right, and for parity checks.

use anyhow::{Context, Result};
use clap::Parser;
use serde::Serialize;
use std::path::{Path, PathBuf};
use taso_artifact::{model_fingerprint, write_artifact, ArtifactKind, ArtifactMeta, TensorData};
use taso_data::TextTokenizer;
use taso_models::forward::{encode_as_one_batch, read_text_jsonl};
use taso_models::{parse_device, set_threads, BatchTensors, Encoder, EncoderArch};

/// Run a Hugging Face encoder folder on text inputs and save its hidden states.
#[derive(Parser, Serialize)]
#[command(version)]
struct Args {
    /// Model folder (config.json, model.safetensors or shards, tokenizer.json).
    #[arg(long)]
    model: PathBuf,
    /// jsonl file, one `{"text": ..., "pair": ...}` object per line (`pair` optional).
    #[arg(long)]
    input: PathBuf,
    /// Output safetensors file.
    #[arg(long)]
    out: PathBuf,
    /// Truncation length in tokens (default: the model's position limit, at most 512).
    #[arg(long)]
    max_len: Option<usize>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// CPU threads for libtorch (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> Result<()> {
    taso_artifact::run::init_logging();
    let args = Args::parse();
    let threads = set_threads(args.threads);
    let device = parse_device(&args.device)?;
    let examples = read_text_jsonl(&args.input)?;
    let encoder = Encoder::load(&args.model, device)
        .with_context(|| format!("loading the model in {}", args.model.display()))?;
    let max_len = args
        .max_len
        .unwrap_or_else(|| position_limit(&encoder).min(512));
    let tokenizer = TextTokenizer::from_file(&args.model.join("tokenizer.json"), max_len)?;
    let batch = encode_as_one_batch(&tokenizer, &examples)?;
    tracing::info!(
        examples = examples.len(),
        seq_len = batch.seq_len,
        threads,
        ?device,
        "running the encoder"
    );
    let tensors = BatchTensors::new(&batch, device);
    let hidden = tch::no_grad(|| {
        encoder
            .forward(&tensors.encoder_input(), false, false)
            .last_hidden_state
    });
    write_outputs(&args, &tensors, &hidden)?;
    println!(
        "wrote {}: {} inputs, {} tokens each (padded), hidden size {}",
        args.out.display(),
        batch.batch_size,
        batch.seq_len,
        encoder.config().hidden_size
    );
    Ok(())
}

/// The longest sequence the position table allows (RoBERTa spends `pad + 1` positions).
fn position_limit(encoder: &Encoder) -> usize {
    let config = encoder.config();
    let reserved = match config.arch() {
        EncoderArch::Bert => 0,
        EncoderArch::Roberta => config.pad_token_id + 1,
    };
    (config.max_position_embeddings - reserved).max(1) as usize
}

fn write_outputs(args: &Args, tensors: &BatchTensors, hidden: &tch::Tensor) -> Result<()> {
    let fingerprint = model_fingerprint(&args.model)?;
    let meta = ArtifactMeta::new(
        ArtifactKind::Forward,
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        fingerprint,
        input_name(&args.input),
        args,
    )?;
    let outputs = [
        ("input_ids", &tensors.input_ids),
        ("attention_mask", &tensors.attention_mask),
        ("token_type_ids", &tensors.token_type_ids),
        ("last_hidden_state", hidden),
    ];
    let data = outputs
        .iter()
        .map(|(name, t)| Ok((name.to_string(), TensorData::from_tch(t)?)))
        .collect::<Result<Vec<_>>>()?;
    write_artifact(&args.out, &meta, &data)
        .with_context(|| format!("writing {}", args.out.display()))?;
    Ok(())
}

/// The input file's stem, recorded as the artifact's task.
fn input_name(path: &Path) -> String {
    path.file_stem().map_or_else(
        || "forward".to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}
