//! `taso-compare`: TASO against its baselines on one task, every method through the same five
//! stages with the same data, model, batches and epochs, several seeds each, with a small
//! learning-rate sweep per method. Finished runs are reused, so a comparison can span several
//! sessions; the table goes to `runs/<task>/compare/results.md`.

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use taso::artifact::run::{ResolvedConfig, StageArgs};
use taso::artifact::write_atomic;
use taso::train::TrainMetrics;

/// Compare TASO with LoRA r=1, LoRA r=8, random regions, BitFit and full fine-tuning.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    stage: StageArgs,
    /// Seeds per method and learning rate (seeds 0..N).
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Methods to run, by name (see the README).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "taso,lora-r1,lora-r8,random-regions,bitfit,full"
    )]
    methods: Vec<String>,
    /// Learning rates to try for every method; each method is reported at its best.
    #[arg(long, value_delimiter = ',')]
    lrs: Vec<f64>,
}

/// A compared method: its name and the config overrides that make it.
struct Variant {
    name: &'static str,
    sets: &'static [&'static str],
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "taso",
        sets: &["run.method=taso"],
    },
    Variant {
        name: "lora-r1",
        sets: &["run.method=lora", "regions.rank=1"],
    },
    Variant {
        name: "lora-r8",
        sets: &["run.method=lora", "regions.rank=8"],
    },
    Variant {
        name: "random-regions",
        sets: &["run.method=random-regions"],
    },
    Variant {
        name: "bitfit",
        sets: &["run.method=bitfit"],
    },
    Variant {
        name: "full",
        sets: &["run.method=full"],
    },
    Variant {
        name: "head-only",
        sets: &["run.method=head-only"],
    },
];

const STAGES: [&str; 5] = [
    "taso-score",
    "taso-regions",
    "taso-lora",
    "taso-train",
    "taso-eval",
];

/// One finished run's figures.
struct Outcome {
    best: f64,
    last: f64,
    adapter_params: usize,
    total_params: usize,
    seconds: f64,
    metric: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let base = ResolvedConfig::load(&args.stage)?;
    let run = base.run()?;
    let default_lr = base.section::<taso::train::TrainConfig>("train")?.lr;
    let lrs = if args.lrs.is_empty() {
        vec![default_lr]
    } else {
        args.lrs.clone()
    };
    let mut table = Vec::new();
    for name in &args.methods {
        let variant = VARIANTS.iter().find(|v| v.name == name).with_context(|| {
            format!(
                "unknown method `{name}`; choose from {}",
                VARIANTS
                    .iter()
                    .map(|v| v.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let mut per_lr = Vec::new();
        for &lr in &lrs {
            let outcomes = (0..args.seeds)
                .map(|seed| run_once(&args.stage, variant, lr, seed))
                .collect::<Result<Vec<_>>>()?;
            per_lr.push((lr, outcomes));
        }
        table.push((variant.name, per_lr));
    }
    let report = render(&run.task_name(), &args, &lrs, &table);
    let dir = run.runs_dir.join(run.task_name()).join("compare");
    std::fs::create_dir_all(&dir)?;
    write_atomic(&dir.join("results.md"), report.as_bytes())?;
    println!("{report}\nwritten to {}", dir.join("results.md").display());
    Ok(())
}

/// Runs (or reuses) one method at one lr and seed, and reads its metrics.
fn run_once(stage: &StageArgs, variant: &Variant, lr: f64, seed: u64) -> Result<Outcome> {
    let name = format!("cmp-{}-lr{lr:e}-s{seed}", variant.name);
    let mut sets: Vec<String> = stage.overrides.clone();
    sets.extend(variant.sets.iter().map(|s| s.to_string()));
    sets.extend([
        format!("run.name={name:?}"),
        format!("run.seed={seed}"),
        format!("train.lr={lr:e}"),
    ]);
    let args = StageArgs {
        config: stage.config.clone(),
        overrides: sets,
    };
    let config = ResolvedConfig::load(&args)?;
    let paths = config.run()?.paths();
    let finished = std::fs::read_to_string(paths.config()).is_ok_and(|t| t == config.to_toml())
        && evaluated(&paths.metrics());
    if finished {
        println!("reusing {}", paths.dir.display());
    } else {
        println!("running {}", paths.dir.display());
        for binary in STAGES {
            run_stage(binary, &args)?;
        }
    }
    read_outcome(&paths.metrics())
}

/// Whether `metrics.json` holds the `eval` entry that `taso-eval`, the last stage, adds: a run
/// interrupted in training has per-epoch metrics but no `eval` entry.
fn evaluated(metrics: &Path) -> bool {
    let json = std::fs::read_to_string(metrics)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    json.is_some_and(|j| j.get("eval").is_some())
}

fn run_stage(binary: &str, args: &StageArgs) -> Result<()> {
    let exe = sibling(binary)?;
    let mut command = Command::new(&exe);
    command.arg("--config").arg(&args.config);
    for set in &args.overrides {
        command.arg("--set").arg(set);
    }
    let status = command
        .status()
        .with_context(|| format!("starting {}", exe.display()))?;
    if !status.success() {
        bail!("{binary} failed ({status}); its message is above");
    }
    Ok(())
}

/// A stage binary next to this one (`cargo build --release` builds them all).
fn sibling(binary: &str) -> Result<PathBuf> {
    let here = std::env::current_exe()?;
    let path = here
        .parent()
        .map(|d| d.join(binary))
        .context("locating the stage binaries")?;
    if !path.is_file() {
        bail!(
            "{} is missing; build every binary with `cargo build --release --workspace --bins`",
            path.display()
        );
    }
    Ok(path)
}

fn read_outcome(path: &Path) -> Result<Outcome> {
    let metrics = TrainMetrics::read(path)?;
    let metric = metrics.main_metric.clone();
    let value = |record: &Option<taso::train::EpochRecord>| {
        record
            .as_ref()
            .and_then(|r| r.dev.as_ref())
            .and_then(|d| d.get(&metric))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok(Outcome {
        best: value(&metrics.best),
        last: value(&metrics.last),
        adapter_params: metrics.params.adapter,
        total_params: metrics.params.total,
        seconds: metrics.train_seconds,
        metric,
    })
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

type Table<'a> = Vec<(&'a str, Vec<(f64, Vec<Outcome>)>)>;

fn render(task: &str, args: &Args, lrs: &[f64], table: &Table) -> String {
    let metric = table
        .first()
        .and_then(|(_, l)| l.first())
        .and_then(|(_, o)| o.first())
        .map_or("metric", |o| o.metric.as_str());
    let mut out = format!("# {task}: TASO vs baselines\n\n");
    let sets = if args.stage.overrides.is_empty() {
        String::new()
    } else {
        format!(" --set {}", args.stage.overrides.join(" --set "))
    };
    let lr_list: Vec<String> = lrs.iter().map(|l| format!("{l:e}")).collect();
    let _ = writeln!(
        out,
        "Command: `taso-compare --config {}{sets} --seeds {} --methods {} --lrs {}`. Dev {metric}, mean ± std over seeds 0..{} at each method's best learning rate (by mean best-epoch dev {metric}).\n",
        args.stage.config.display(),
        args.seeds,
        args.methods.join(","),
        lr_list.join(","),
        args.seeds
    );
    out.push_str("| method | lr | best-epoch dev | last-epoch dev | adapter params | trainable params | train time (s) |\n|---|---|---|---|---|---|---|\n");
    for (name, per_lr) in table {
        let best_lr = per_lr.iter().max_by(|a, b| {
            let m = |o: &Vec<Outcome>| mean_std(&o.iter().map(|x| x.best).collect::<Vec<_>>()).0;
            m(&a.1).total_cmp(&m(&b.1))
        });
        let Some((lr, outcomes)) = best_lr else {
            continue;
        };
        let (best, best_sd) = mean_std(&outcomes.iter().map(|o| o.best).collect::<Vec<_>>());
        let (last, last_sd) = mean_std(&outcomes.iter().map(|o| o.last).collect::<Vec<_>>());
        let (secs, _) = mean_std(&outcomes.iter().map(|o| o.seconds).collect::<Vec<_>>());
        let _ = writeln!(
            out,
            "| {name} | {lr:e} | {:.2} ± {:.2} | {:.2} ± {:.2} | {} | {} | {secs:.0} |",
            100.0 * best,
            100.0 * best_sd,
            100.0 * last,
            100.0 * last_sd,
            outcomes[0].adapter_params,
            outcomes[0].total_params
        );
    }
    if lrs.len() > 1 {
        out.push_str("\nAll learning rates (mean best-epoch dev):\n\n| method | ");
        out.push_str(&lr_list.join(" | "));
        out.push_str(" |\n|---|");
        out.push_str(&"---|".repeat(lrs.len()));
        out.push('\n');
        for (name, per_lr) in table {
            let cells: Vec<String> = per_lr
                .iter()
                .map(|(_, o)| {
                    format!(
                        "{:.2}",
                        100.0 * mean_std(&o.iter().map(|x| x.best).collect::<Vec<_>>()).0
                    )
                })
                .collect();
            let _ = writeln!(out, "| {name} | {} |", cells.join(" | "));
        }
    }
    out
}
