//! `taso-data TASK`: describes a task before any training — its splits, sizes and labels, and
//! with `--tokenizer`, token lengths and how much padding bucketed vs random batches carry. Prompt
//! tasks (for decoder LMs) also show prompt and answer lengths, how many prompts are cut at
//! `--max-len`, and one rendered example.

use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use taso_data::{
    load_any_task, padding_stats, plan_batches, resolve_data_dir, AnyTask, BatchStrategy, Example,
    Label, Split, Splits, TaskSpec, TextTokenizer,
};

mod prompt;

/// Describe a task: a built-in GLUE name (rte, mrpc, sst2, cola, stsb, wnli, qnli), a built-in
/// prompt task (boolq, wic, arc-challenge, gsm8k, sst2-prompt, rte-prompt, mrpc-prompt,
/// qnli-prompt) or a task .toml.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Built-in task name or path to a task TOML file.
    task: String,
    /// Data folder (default: TASO_DATA_DIR, else data/shared, ../shared/data, then data/).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A Hugging Face tokenizer.json (or, for prompt tasks, its folder): adds token-length figures.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Truncation length for the token figures (default 128 for classification, 1024 for prompt tasks).
    #[arg(long)]
    max_len: Option<usize>,
    /// Prompt tasks: do not render prompts with the tokenizer's chat template.
    #[arg(long)]
    no_chat_template: bool,
    /// Batch size for the padding figures.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Seed of the batch plans.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> ExitCode {
    match describe_task(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the task and prints its description.
fn describe_task(args: &Args) -> Result<()> {
    let data_dir = resolve_data_dir(args.data_dir.as_deref())?;
    match load_any_task(&args.task)? {
        AnyTask::Classification(task) => describe(&task, &data_dir, args),
        AnyTask::Prompt(mut task) => {
            task.chat_template &= !args.no_chat_template;
            prompt::describe(&task, &data_dir, args)
        }
    }
}

/// Describes a classification task.
fn describe(task: &TaskSpec, data_dir: &std::path::Path, args: &Args) -> Result<()> {
    let max_len = args.max_len.unwrap_or(128);
    let tokenizer = args
        .tokenizer
        .as_deref()
        .map(|path| TextTokenizer::from_file(path, max_len))
        .transpose()?;
    println!(
        "task {} ({}), data in {}",
        task.name,
        task.description.as_deref().unwrap_or("-"),
        data_dir.display()
    );
    each_split(
        &task.name,
        &task.splits,
        |split| task.read_split(data_dir, split),
        |examples| label_summary(task, examples),
        |_, examples| {
            if let Some(tokenizer) = &tokenizer {
                let tokens = token_summary(tokenizer, &examples, max_len, args)?;
                println!("         {tokens}");
            }
            Ok(())
        },
    )
}

/// Reads every split of task `name` that `splits` defines, in `Split::ALL` order, prints its size
/// and `summary`, and hands it to `details`; prints "not defined" for the others.
fn each_split<E>(
    name: &str,
    splits: &Splits,
    read: impl Fn(Split) -> Result<Vec<E>, taso_data::DataError>,
    summary: impl Fn(&[E]) -> String,
    mut details: impl FnMut(Split, Vec<E>) -> Result<()>,
) -> Result<()> {
    for split in Split::ALL {
        if splits.get(split).is_none() {
            println!("  {split:<5}  not defined");
            continue;
        }
        let examples =
            read(split).with_context(|| format!("reading the {split} split of {name}"))?;
        println!(
            "  {split:<5}  {} examples, {}",
            examples.len(),
            summary(&examples)
        );
        details(split, examples)?;
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
fn token_summary(
    tokenizer: &TextTokenizer,
    examples: &[Example],
    max_len: usize,
    args: &Args,
) -> Result<String> {
    let lengths: Vec<usize> = tokenizer
        .encode(examples)?
        .iter()
        .map(|e| e.len())
        .collect();
    let plan = |strategy| plan_batches(&lengths, args.batch_size, strategy, args.seed, 0);
    let bucketed = padding_stats(&lengths, &plan(BatchStrategy::Bucketed));
    let random = padding_stats(&lengths, &plan(BatchStrategy::Random));
    let truncated = lengths.iter().filter(|&&l| l >= max_len).count();
    let spread = Spread::of(&lengths);
    Ok(format!(
        "tokens: mean {:.1}, median {}, p90 {}, max {} ({truncated} at the {} limit); padded per example: bucketed {:.1}, random {:.1}",
        bucketed.mean_true_len,
        spread.median,
        spread.p90,
        spread.max,
        max_len,
        bucketed.mean_padded_len,
        random.mean_padded_len
    ))
}

/// Median, 90th percentile and maximum of a non-empty list of lengths.
struct Spread {
    median: usize,
    p90: usize,
    max: usize,
}

impl Spread {
    fn of(lengths: &[usize]) -> Spread {
        let mut sorted = lengths.to_vec();
        sorted.sort_unstable();
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        Spread {
            median: at(0.5),
            p90: at(0.9),
            max: at(1.0),
        }
    }
}
