//! `taso-compare`: TASO against its baselines on one task, every method through the same five
//! stages with the same data, model, batches and epochs. Each method's learning rate is chosen
//! from a small grid on the first seeds (`--sweep-seeds`), then the best one runs every seed.
//! Finished runs are reused, so a comparison can span several sessions; the table goes to
//! `runs/<task>/compare/results.md` (or `--out`). A run folder holding other settings is never
//! replaced: a comparison with other settings takes its own `--tag`.

mod existing;
mod render;
mod variant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde::Deserialize;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use taso::artifact::run::{ResolvedConfig, StageArgs};
use taso::artifact::write_atomic;
use taso::train::{EpochRecord, Scores, TrainMetrics};
use variant::{MethodLrs, Variant};

/// Compare TASO with LoRA r=1, LoRA r=8, random regions, BitFit and full fine-tuning.
#[derive(Parser)]
#[command(version)]
pub struct Args {
    #[command(flatten)]
    stage: StageArgs,
    /// Seeds reported per method, at its best learning rate (seeds 0..N).
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Seeds that choose the learning rate (seeds 0..K; default: all of --seeds).
    #[arg(long)]
    sweep_seeds: Option<u64>,
    /// Methods to run: built-in names (see the README) and the names given by --variant.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "taso,lora-r1,lora-r8,random-regions,bitfit,full"
    )]
    methods: Vec<String>,
    /// Learning-rate grid for every method (default: the config's `train.lr`).
    #[arg(long, value_delimiter = ',')]
    lrs: Vec<f64>,
    /// A method's own grid, e.g. `full=5e-5,1e-4,2e-4` (repeatable).
    #[arg(long = "method-lrs")]
    method_lrs: Vec<MethodLrs>,
    /// An extra method: `NAME=section.key=value;section.key=value` on top of the config, e.g.
    /// `taso-global=run.method=taso;regions.allocation=global` (repeatable; add NAME to --methods).
    #[arg(long = "variant")]
    variants: Vec<Variant>,
    /// Names this comparison's runs `cmp-TAG-<method>-lr<lr>-s<seed>`, so that a comparison with
    /// other settings (e.g. `--set train.epochs=6`) keeps its own runs beside the default ones.
    #[arg(long, value_parser = run_tag)]
    tag: Option<String>,
    /// File name of the table under runs/<task>/compare/ (a name, not a path; default
    /// `results.md`, or `results-TAG.md` with --tag).
    #[arg(long, value_parser = table_file_name)]
    out: Option<String>,
    /// Run nothing: tabulate the finished runs and list the missing ones.
    #[arg(long)]
    report_only: bool,
}

/// One finished run's figures.
#[derive(Clone)]
pub struct Outcome {
    /// The main metric that chose the best epoch: the hold-out's (`run.holdout`), or dev's.
    selection: f64,
    /// Training examples held out to choose on (0: chosen on dev).
    holdout_examples: usize,
    best: f64,
    /// Every dev metric of the best epoch (the main one included).
    best_scores: Scores,
    last: f64,
    /// `taso-eval`'s metric on the `[eval]` split (NaN if absent).
    eval: f64,
    adapter_params: usize,
    total_params: usize,
    seconds: f64,
    metric: String,
}

/// A method's sweep (every grid lr on the sweep seeds) and its reported runs (best lr, all seeds).
pub struct MethodResult {
    name: String,
    sweep: Vec<(f64, Vec<Outcome>)>,
    best_lr: f64,
    reported: Vec<Outcome>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let base = ResolvedConfig::load(&args.stage)?;
    let run = base.run()?;
    let default_lr = base.section::<taso::train::TrainConfig>("train")?.lr;
    let sweep_seeds = args.sweep_seeds.unwrap_or(args.seeds).min(args.seeds);
    if args.seeds == 0 || sweep_seeds == 0 {
        bail!("--seeds and --sweep-seeds must be at least 1");
    }
    let methods = args
        .methods
        .iter()
        .map(|name| Variant::find(name, &args.variants))
        .collect::<Result<Vec<_>>>()?;
    let plans: Vec<(Variant, Vec<f64>)> = methods
        .into_iter()
        .map(|method| {
            let grid = variant::grid_for(&method.name, &args.method_lrs, &args.lrs, default_lr);
            (method, grid)
        })
        .collect();
    let mut runner = Runner {
        stage: &args.stage,
        tag: args.tag.as_deref(),
        report_only: args.report_only,
        missing: Vec::new(),
        planned: plans
            .iter()
            .map(|(_, grid)| runs_per_method(grid.len(), sweep_seeds, args.seeds))
            .sum(),
        visited: 0,
    };
    let mut results = Vec::new();
    for (method, grid) in &plans {
        results.extend(runner.compare_method(method, grid, sweep_seeds, args.seeds)?);
    }
    let report = render::report(&run.task_name(), &args, &results, &runner.missing);
    let dir = run.runs_dir.join(run.task_name()).join("compare");
    let path = dir.join(args.table_name());
    std::fs::create_dir_all(&dir)
        .and_then(|()| write_atomic(&path, report.as_bytes()))
        .with_context(|| format!("writing the table {}", path.display()))?;
    println!("{report}\nwritten to {}", path.display());
    Ok(())
}

impl Args {
    /// The table's file name under `runs/<task>/compare/`.
    fn table_name(&self) -> String {
        match (&self.out, &self.tag) {
            (Some(out), _) => out.clone(),
            (None, Some(tag)) => format!("results-{tag}.md"),
            (None, None) => "results.md".to_string(),
        }
    }
}

/// `--tag` becomes part of run folder names: lowercase letters, digits and `-` only.
fn run_tag(tag: &str) -> Result<String, String> {
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if !tag.is_empty() && tag.chars().all(valid) {
        Ok(tag.to_string())
    } else {
        Err(format!(
            "`{tag}` is not a tag; use lowercase letters, digits and `-` (e.g. --tag epochs6)"
        ))
    }
}

/// `--out` is a bare file name: the table always goes to `runs/<task>/compare/`.
fn table_file_name(name: &str) -> Result<String, String> {
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(_)), None) => Ok(name.to_string()),
        _ => Err(format!(
            "`{name}` is not a file name; --out names the table inside runs/<task>/compare/ \
             (e.g. --out lane-a.md)"
        )),
    }
}

/// Runs (or reuses) the runs of a comparison; with `report_only`, only reuses, and remembers
/// which runs are missing.
struct Runner<'a> {
    stage: &'a StageArgs,
    tag: Option<&'a str>,
    report_only: bool,
    missing: Vec<String>,
    /// Runs the whole comparison makes or reuses, and how many it has reached (for progress).
    planned: u64,
    visited: u64,
}

/// The seeds that choose a method's lr: all of them when its grid has a single lr.
fn sweep_seeds_for(grid_len: usize, sweep_seeds: u64, seeds: u64) -> u64 {
    if grid_len == 1 {
        seeds
    } else {
        sweep_seeds
    }
}

/// The runs one method needs: every grid lr on the sweep seeds, then the other seeds at the best.
fn runs_per_method(grid_len: usize, sweep_seeds: u64, seeds: u64) -> u64 {
    let sweep_seeds = sweep_seeds_for(grid_len, sweep_seeds, seeds);
    grid_len as u64 * sweep_seeds + (seeds - sweep_seeds)
}

impl Runner<'_> {
    /// Sweeps `grid` on seeds `0..sweep_seeds`, then runs seeds `0..seeds` at the best lr (by
    /// the mean main metric of the best epochs on the hold-out, or on dev without one); runs
    /// already made by the sweep are reused, not repeated.
    /// `None` when no run of the method has finished (report-only).
    fn compare_method(
        &mut self,
        method: &Variant,
        grid: &[f64],
        sweep_seeds: u64,
        seeds: u64,
    ) -> Result<Option<MethodResult>> {
        let sweep_seeds = sweep_seeds_for(grid.len(), sweep_seeds, seeds);
        let mut sweep = Vec::new();
        for &lr in grid {
            let outcomes = self.seeds(method, lr, 0..sweep_seeds)?;
            if !outcomes.is_empty() {
                sweep.push((lr, outcomes));
            }
        }
        let Some(best) = sweep
            .iter()
            .enumerate()
            .max_by(|a, b| {
                render::mean_selection(&a.1 .1).total_cmp(&render::mean_selection(&b.1 .1))
            })
            .map(|(i, _)| i)
        else {
            return Ok(None);
        };
        let best_lr = sweep[best].0;
        let mut reported = self.seeds(method, best_lr, sweep_seeds..seeds)?;
        reported.splice(0..0, sweep[best].1.iter().cloned());
        Ok(Some(MethodResult {
            name: method.name.clone(),
            sweep,
            best_lr,
            reported,
        }))
    }

    /// The finished outcomes of `method` at `lr` over `seeds`.
    fn seeds(
        &mut self,
        method: &Variant,
        lr: f64,
        seeds: std::ops::Range<u64>,
    ) -> Result<Vec<Outcome>> {
        let mut outcomes = Vec::new();
        for seed in seeds {
            outcomes.extend(self.run_once(method, lr, seed)?);
        }
        Ok(outcomes)
    }

    /// Runs (or reuses) one method at one lr and seed, and reads its metrics.
    fn run_once(&mut self, method: &Variant, lr: f64, seed: u64) -> Result<Option<Outcome>> {
        let tag = self.tag.map(|t| format!("{t}-")).unwrap_or_default();
        let name = format!("cmp-{tag}{}-lr{lr:e}-s{seed}", method.name);
        let mut sets: Vec<String> = self.stage.overrides.clone();
        sets.extend(method.sets.iter().cloned());
        sets.extend([
            format!("run.name={name:?}"),
            format!("run.seed={seed}"),
            format!("train.lr={lr:e}"),
        ]);
        let args = StageArgs {
            config: self.stage.config.clone(),
            overrides: sets,
        };
        let config = ResolvedConfig::load(&args)?;
        let paths = config.run()?.paths();
        let existing = std::fs::read_to_string(paths.config()).ok();
        let asked = config.to_toml();
        let finished = match &existing {
            Some(text) if existing::same_settings(text, &asked) => {
                RunMetrics::read(&paths.metrics()).ok()
            }
            _ => None,
        };
        let finished = finished.filter(|m| m.eval.is_some());
        self.visited += 1;
        let at = format!("[{}/{}]", self.visited, self.planned);
        let metrics = match finished {
            Some(metrics) => {
                println!("{at} reusing {}", paths.dir.display());
                metrics
            }
            None if self.report_only => {
                self.missing.push(name);
                return Ok(None);
            }
            None => {
                if let Some(text) = &existing {
                    existing::refuse_other_settings(&paths.dir, text, &asked)?;
                }
                println!("{at} running {}", paths.dir.display());
                run_stages(&args, &paths.checkpoints())?;
                RunMetrics::read(&paths.metrics())?
            }
        };
        Ok(Some(metrics.outcome()))
    }
}

/// The stages before training, which make the adapter's initial state.
const PREPARE: [&str; 3] = ["taso-score", "taso-regions", "taso-lora"];

/// Runs the five stages, or, when an interrupted run left checkpoints in `checkpoints` (its
/// earlier stages had finished), continues training from the newest and evaluates.
fn run_stages(args: &StageArgs, checkpoints: &Path) -> Result<()> {
    let resume = !taso::train::list_checkpoints(checkpoints)?.is_empty();
    if resume {
        println!("continuing its training from the newest checkpoint");
    } else {
        for binary in PREPARE {
            run_stage(binary, args, &[])?;
        }
    }
    run_stage("taso-train", args, if resume { &["--resume"] } else { &[] })?;
    run_stage("taso-eval", args, &[])
}

fn run_stage(binary: &str, args: &StageArgs, flags: &[&str]) -> Result<()> {
    let exe = sibling(binary)?;
    let mut command = Command::new(&exe);
    command.arg("--config").arg(&args.config).args(flags);
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

/// A run's `metrics.json`: the trainer's record and the `eval` entry that `taso-eval`, the last
/// stage, adds (a run interrupted in training has per-epoch metrics but no `eval` entry).
#[derive(Deserialize)]
struct RunMetrics {
    #[serde(flatten)]
    train: TrainMetrics,
    eval: Option<EvalEntry>,
}

/// The part of `taso-eval`'s entry that the table shows.
#[derive(Deserialize)]
struct EvalEntry {
    metrics: Option<Scores>,
}

impl RunMetrics {
    fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    fn outcome(self) -> Outcome {
        let train = self.train;
        let metric = train.main_metric;
        let scores = |record: Option<EpochRecord>| record.and_then(|r| r.dev).unwrap_or_default();
        let main = |scores: &Scores| scores.get(&metric).copied().unwrap_or(f64::NAN);
        let selection = train.best.as_ref().and_then(EpochRecord::selection);
        let selection = selection.map_or(f64::NAN, main);
        let best_scores = scores(train.best);
        let eval = self
            .eval
            .and_then(|e| e.metrics)
            .map_or(f64::NAN, |m| main(&m));
        Outcome {
            selection,
            holdout_examples: train.holdout_examples,
            best: main(&best_scores),
            last: main(&scores(train.last)),
            best_scores,
            eval,
            adapter_params: train.params.adapter,
            total_params: train.params.total,
            seconds: train.train_seconds,
            metric,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_runs_its_sweep_then_the_other_seeds_at_the_best_lr() {
        // A 3-lr grid swept on seed 0, then seeds 1 and 2: 3 + 2 runs.
        assert_eq!(runs_per_method(3, 1, 3), 5);
        // A single lr needs no sweep: every seed runs at it.
        assert_eq!(runs_per_method(1, 1, 3), 3);
        assert_eq!(runs_per_method(2, 3, 3), 6);
    }
}
