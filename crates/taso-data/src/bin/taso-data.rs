//! `taso-data TASK`: describes a task before any training — its splits, sizes and labels, and
//! with `--tokenizer`, token lengths and how much padding bucketed vs random batches carry.

use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;
use taso_data::{
    load_task, padding_stats, plan_batches, resolve_data_dir, BatchStrategy, Example, Label, Split,
    TaskSpec, TextTokenizer,
};

/// Describe a task: a built-in GLUE name (rte, mrpc, sst2, cola, stsb, wnli, qnli) or a task .toml.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Built-in task name or path to a task TOML file.
    task: String,
    /// Data folder (default: TASO_DATA_DIR, else data/shared, else ../shared/data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A Hugging Face tokenizer.json: adds token-length and padding figures.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Truncation length for the token figures.
    #[arg(long, default_value_t = 128)]
    max_len: usize,
    /// Batch size for the padding figures.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Seed of the batch plans.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let task = load_task(&args.task)?;
    let data_dir = resolve_data_dir(args.data_dir.as_deref())?;
    let tokenizer = args
        .tokenizer
        .as_deref()
        .map(|path| TextTokenizer::from_file(path, args.max_len))
        .transpose()?;
    println!(
        "task {} ({}), data in {}",
        task.name,
        task.description.as_deref().unwrap_or("-"),
        data_dir.display()
    );
    for split in Split::ALL {
        if task.splits.get(split).is_none() {
            println!("  {split:<5}  not defined");
            continue;
        }
        let examples = task
            .read_split(&data_dir, split)
            .with_context(|| format!("reading the {split} split of {}", task.name))?;
        println!(
            "  {split:<5}  {} examples, {}",
            examples.len(),
            label_summary(&task, &examples)
        );
        if let Some(tokenizer) = &tokenizer {
            println!("         {}", token_summary(tokenizer, &examples, &args)?);
        }
    }
    Ok(())
}

/// Class counts, or the range of regression targets.
fn label_summary(task: &TaskSpec, examples: &[Example]) -> String {
    let labels: Vec<Label> = examples.iter().filter_map(|e| e.label).collect();
    if labels.is_empty() {
        return "unlabeled".to_string();
    }
    match &task.labels {
        taso_data::LabelSpec::Classes { names } => {
            let mut counts = vec![0usize; names.len()];
            for label in &labels {
                if let Label::Class(id) = label {
                    counts[*id] += 1;
                }
            }
            let parts: Vec<String> = names
                .iter()
                .zip(&counts)
                .map(|(n, c)| format!("{n}: {c}"))
                .collect();
            format!("labels {}", parts.join(", "))
        }
        taso_data::LabelSpec::Regression => {
            let scores = labels.iter().filter_map(|l| {
                if let Label::Score(s) = l {
                    Some(*s)
                } else {
                    None
                }
            });
            let (lo, hi) = scores.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), s| {
                (lo.min(s), hi.max(s))
            });
            format!("scores in [{lo}, {hi}]")
        }
    }
}

/// Token-length percentiles and the padding of bucketed vs random batches.
fn token_summary(tokenizer: &TextTokenizer, examples: &[Example], args: &Args) -> Result<String> {
    let mut lengths: Vec<usize> = tokenizer
        .encode(examples)?
        .iter()
        .map(|e| e.len())
        .collect();
    let plan = |strategy| plan_batches(&lengths, args.batch_size, strategy, args.seed, 0);
    let bucketed = padding_stats(&lengths, &plan(BatchStrategy::Bucketed));
    let random = padding_stats(&lengths, &plan(BatchStrategy::Random));
    let truncated = lengths.iter().filter(|&&l| l >= args.max_len).count();
    lengths.sort_unstable();
    let at = |q: f64| lengths[((lengths.len() - 1) as f64 * q).round() as usize];
    Ok(format!(
        "tokens: mean {:.1}, median {}, p90 {}, max {} ({truncated} at the {} limit); padded per example: bucketed {:.1}, random {:.1}",
        bucketed.mean_true_len,
        at(0.5),
        at(0.9),
        at(1.0),
        args.max_len,
        bucketed.mean_padded_len,
        random.mean_padded_len
    ))
}
