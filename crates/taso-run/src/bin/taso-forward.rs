//! `taso-forward`: runs a base model on a jsonl file of `{"text", "pair"}` lines, as one padded
//! batch, and writes a `forward` artifact — to check that a model loads right, and for parity
//! checks. An encoder writes `input_ids`, `attention_mask`, `token_type_ids` and
//! `last_hidden_state`; a decoder (LLaMA, Mistral, Qwen2; texts only, right padding) writes
//! `input_ids`, `attention_mask` and `logits` `[n, seq, vocab]`.

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use taso_artifact::{model_fingerprint, write_artifact, ArtifactKind, ArtifactMeta, TensorData};
use taso_data::{Example, PaddedBatch, TextTokenizer};
use taso_models::forward::{encode_as_one_batch, read_text_jsonl};
use taso_models::{
    parse_device, set_threads, BatchTensors, CausalLm, ComputeDtype, DecoderInput, Encoder,
    EncoderArch, ModelFamily,
};
use tch::{Device, Tensor};

/// Run a Hugging Face encoder or decoder folder on text inputs and save its outputs.
#[derive(Parser, Serialize)]
#[command(version)]
struct Args {
    /// Model folder (config.json, model.safetensors or shards, tokenizer.json).
    #[arg(long)]
    model: PathBuf,
    /// jsonl file, one `{"text": ..., "pair": ...}` object per line (`pair` optional; encoders only).
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
    /// What the model computes in: f32, bf16 or f16 (outputs are written in it).
    #[arg(long, default_value = "f32")]
    dtype: ComputeDtype,
}

/// Named output tensors and a one-line summary.
struct Outputs {
    tensors: Vec<(&'static str, Tensor)>,
    summary: String,
}

fn main() -> ExitCode {
    taso_run::cli::init_logging();
    taso_run::cli::exit_with(forward(&Args::parse()), false)
}

/// Runs the model on the input file and writes the outputs artifact.
fn forward(args: &Args) -> Result<()> {
    let threads = set_threads(args.threads);
    let device = parse_device(&args.device)?;
    let examples = read_text_jsonl(&args.input)?;
    let outputs = match ModelFamily::of_dir(&args.model).with_context(|| loading(&args.model))? {
        ModelFamily::Encoder => run_encoder(args, &examples, device, threads)?,
        ModelFamily::Decoder(_) => run_decoder(args, &examples, device, threads)?,
    };
    write_outputs(args, &outputs.tensors)?;
    println!("wrote {}: {}", args.out.display(), outputs.summary);
    Ok(())
}

fn run_encoder(
    args: &Args,
    examples: &[Example],
    device: Device,
    threads: usize,
) -> Result<Outputs> {
    let encoder =
        Encoder::load_as(&args.model, device, args.dtype).with_context(|| loading(&args.model))?;
    let max_len = args
        .max_len
        .unwrap_or_else(|| encoder_position_limit(&encoder).min(512));
    let (batch, tensors) = tokenize(args, examples, max_len, device, threads)?;
    let hidden = tch::no_grad(|| {
        encoder
            .forward(&tensors.encoder_input(), false, false)
            .last_hidden_state
    });
    Ok(Outputs {
        summary: format!(
            "{} inputs, {} tokens each (padded), hidden size {}",
            batch.batch_size,
            batch.seq_len,
            encoder.config().hidden_size
        ),
        tensors: vec![
            ("input_ids", tensors.input_ids),
            ("attention_mask", tensors.attention_mask),
            ("token_type_ids", tensors.token_type_ids),
            ("last_hidden_state", hidden),
        ],
    })
}

fn run_decoder(
    args: &Args,
    examples: &[Example],
    device: Device,
    threads: usize,
) -> Result<Outputs> {
    if let Some(index) = examples.iter().position(|e| e.pair.is_some()) {
        bail!(
            "{}: input {} has a `pair`; a decoder reads one text per line: join the texts into `text`",
            args.input.display(),
            index + 1
        );
    }
    let model =
        CausalLm::load_as(&args.model, device, args.dtype).with_context(|| loading(&args.model))?;
    let config = model.config();
    let limit = config
        .sliding_window
        .map_or(config.max_position_embeddings, |w| {
            w.min(config.max_position_embeddings)
        });
    let max_len = args.max_len.unwrap_or(limit.clamp(1, 512) as usize);
    let (batch, tensors) = tokenize(args, examples, max_len, device, threads)?;
    let input = DecoderInput {
        input_ids: &tensors.input_ids,
        attention_mask: &tensors.attention_mask,
    };
    let logits = tch::no_grad(|| model.forward(&input))?;
    Ok(Outputs {
        summary: format!(
            "{} inputs, {} tokens each (padded), vocabulary {}",
            batch.batch_size, batch.seq_len, config.vocab_size
        ),
        tensors: vec![
            ("input_ids", tensors.input_ids),
            ("attention_mask", tensors.attention_mask),
            ("logits", logits),
        ],
    })
}

/// Tokenizes the inputs with the model's tokenizer into one right-padded batch, as tensors.
fn tokenize(
    args: &Args,
    examples: &[Example],
    max_len: usize,
    device: Device,
    threads: usize,
) -> Result<(PaddedBatch, BatchTensors)> {
    let tokenizer = TextTokenizer::from_file(&args.model.join("tokenizer.json"), max_len)?;
    let batch = encode_as_one_batch(&tokenizer, examples)?;
    tracing::info!(
        examples = examples.len(),
        seq_len = batch.seq_len,
        threads,
        ?device,
        "running the model"
    );
    let tensors = BatchTensors::new(&batch, device);
    Ok((batch, tensors))
}

fn loading(model: &Path) -> String {
    format!("loading the model in {}", model.display())
}

/// The longest sequence the position table allows (RoBERTa spends `pad + 1` positions).
fn encoder_position_limit(encoder: &Encoder) -> usize {
    let config = encoder.config();
    let reserved = match config.arch() {
        EncoderArch::Bert => 0,
        EncoderArch::Roberta => config.pad_token_id + 1,
    };
    (config.max_position_embeddings - reserved).max(1) as usize
}

fn write_outputs(args: &Args, tensors: &[(&str, Tensor)]) -> Result<()> {
    let fingerprint = model_fingerprint(&args.model)?;
    let meta = ArtifactMeta::new(
        ArtifactKind::Forward,
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        fingerprint,
        input_name(&args.input),
        args,
    )?;
    let data = tensors
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
