//! Encoder inference throughput on a task's dev split, three batch plans side by side in one run:
//! random batches padded to their longest member, length-bucketed training batches, and the
//! evaluation plan (sorted by length). `benches/peer/hf_forward.py` times Hugging Face
//! transformers on the same sorted plan, for a ours-vs-PyTorch ratio (`just bench-forward`).
//!
//! `cargo bench --bench encoder_forward -- [TASK] [BATCH] [MAX_LEN] [REPEATS]`
//! (defaults: rte 32 128 3; needs `scripts/bootstrap.sh` for the model and the data link).

use std::path::Path;
use std::time::Instant;
use taso::data::{
    load_task, pad_batch, padding_stats, plan_batches, plan_eval_batches, resolve_data_dir_from,
    BatchStrategy, Encoding, Label, Split, TextTokenizer,
};
use taso::models::{set_threads, BatchTensors, Encoder};
use tch::Device;

struct Setup {
    encoder: Encoder,
    encodings: Vec<Encoding>,
    labels: Vec<Option<Label>>,
    pad_id: u32,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let (task, batch_size, max_len, repeats) = (
        arg(0, "rte"),
        arg(1, "32").parse()?,
        arg(2, "128").parse()?,
        arg(3, "3").parse()?,
    );
    let threads = set_threads(None);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model_dir = root.join("models/all-MiniLM-L6-v2");
    let examples = load_task(&task)?.read_split(&resolve_data_dir_from(None, root)?, Split::Dev)?;
    let tokenizer = TextTokenizer::from_file(&model_dir.join("tokenizer.json"), max_len)?;
    let setup = Setup {
        encoder: Encoder::load(&model_dir, Device::Cpu)?,
        encodings: tokenizer.encode(&examples)?,
        labels: examples.iter().map(|e| e.label).collect(),
        pad_id: tokenizer.pad_id(),
    };
    println!(
        "{task} dev: {} examples, batch {batch_size}, max_len {max_len}, {threads} threads",
        examples.len()
    );
    let lengths: Vec<usize> = setup.encodings.iter().map(Encoding::len).collect();
    let mut rates = Vec::new();
    let plans = [
        (
            "random",
            plan_batches(&lengths, batch_size, BatchStrategy::Random, 0, 0),
        ),
        (
            "bucketed",
            plan_batches(&lengths, batch_size, BatchStrategy::Bucketed, 0, 0),
        ),
        ("sorted", plan_eval_batches(&lengths, batch_size)),
    ];
    for (name, plan) in &plans {
        run(&setup, plan); // warm-up
        let best = (0..repeats)
            .map(|_| run(&setup, plan))
            .fold(f64::INFINITY, f64::min);
        let rate = examples.len() as f64 / best;
        let stats = padding_stats(&lengths, plan);
        println!(
            "taso {name}: {:.1} padded tokens/example ({:.1} real), best of {repeats}: {rate:.1} examples/s",
            stats.mean_padded_len, stats.mean_true_len
        );
        rates.push(rate);
    }
    println!("bucketed / random throughput: {:.2}x", rates[1] / rates[0]);
    Ok(())
}

/// Seconds to run the whole plan through the encoder.
fn run(setup: &Setup, plan: &[Vec<usize>]) -> f64 {
    let start = Instant::now();
    tch::no_grad(|| {
        for indices in plan {
            let batch = pad_batch(&setup.encodings, &setup.labels, indices, setup.pad_id);
            let tensors = BatchTensors::new(&batch, Device::Cpu);
            let _ = setup
                .encoder
                .forward(&tensors.encoder_input(), false, false);
        }
    });
    start.elapsed().as_secs_f64()
}
