//! `taso-compare`: TASO against its baselines on one task, every method through the same five
//! stages with the same data, model, batches and epochs. Each method's learning rate is chosen
//! from a small grid on the first seeds (`--sweep-seeds`), then the best one runs every seed.
//! Finished runs are reused, so a comparison can span several sessions; the table goes to
//! `runs/<task>/compare/results.md` (or `--out`). A run folder holding other settings is never
//! replaced: a comparison with other settings takes its own `--tag`. `--jobs N` makes N runs
//! at once.

mod charts;
mod existing;
mod figures;
mod glance;
mod paired;
mod record;
mod render;
mod runner;
mod shared_scores;
mod summary;
mod variant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use record::Record;
use runner::{RunKey, Runner};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use taso::artifact::write_atomic;
use taso::run::cli::StageArgs;
use taso::run::Scores;
use variant::{MethodLrs, Variant};

#[derive(Subcommand)]
enum Command {
    /// Draw comparisons of several tasks as one chart: the summaries that taso-compare writes
    /// beside each table (`<table>.json`), a group of bars per task, a bar per method (mean ±
    /// std over seeds), with the base model zero-shot and the majority answer where every task
    /// has them.
    Glance {
        /// The summaries, one per task, in the chart's order.
        #[arg(required = true)]
        summaries: Vec<PathBuf>,
        /// The PNG file to write.
        #[arg(long)]
        out: PathBuf,
        /// The chart's title.
        #[arg(long)]
        title: Option<String>,
    },
}

/// Compare TASO with LoRA r=1, LoRA r=8, random regions, BitFit and full fine-tuning;
/// `taso-compare glance` draws several tasks' comparisons as one chart.
#[derive(Parser)]
#[command(
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// `--config` and the rest: required unless a subcommand is given.
    #[command(flatten)]
    stage: Option<StageArgs>,
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
    /// Also evaluate the base model without an adapter (`eval.adapter = none`: a decoder's
    /// zero-shot) once, in run folder `cmp-[TAG-]zero-shot`, and give its figure under the table.
    #[arg(long)]
    zero_shot: bool,
    /// Run nothing: tabulate the finished runs and list the missing ones.
    #[arg(long)]
    report_only: bool,
    /// Also draw charts beside the table: `<table>.png` (each method's metric, mean ± std over
    /// seeds) and `<table>-curves-<method>.png` (loss and metric per epoch, first seed).
    #[arg(long)]
    plot: bool,
    /// Runs made at once, each with an equal share of the CPU cores (`run.threads`) and its
    /// output in its run folder's `stages.log`; 1 shows every stage's output here.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    jobs: u16,
    /// Keeps each finished run's `config.toml` and `metrics.json` under DIR/<task>/<run name>/
    /// and restores a run from there when its run folder is gone, so that a comparison (and its
    /// table) can continue on another machine from a folder kept under version control.
    #[arg(long, value_name = "DIR")]
    record: Option<std::path::PathBuf>,
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
    examples_per_second: f64,
    /// Training tokens (padding excluded) per second; 0 in records older than the count.
    tokens_per_second: f64,
    /// The eval split's most-frequent-answer accuracy, as `taso-eval` recorded it.
    majority: Option<f64>,
    metric: String,
    /// The run's per-epoch records, for the curves of `--plot`.
    epochs: Vec<taso::train::EpochRecord>,
    /// The run's seed.
    seed: u64,
    /// The run's loss along its steps (empty in records older than it), for `--plot`.
    step_losses: Vec<taso::train::StepLoss>,
}

/// A method's sweep (every grid lr on the sweep seeds) and its reported runs (best lr, all seeds).
pub struct MethodResult {
    name: String,
    sweep: Vec<(f64, Vec<Outcome>)>,
    best_lr: f64,
    reported: Vec<Outcome>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match (&args.command, &args.stage) {
        (
            Some(Command::Glance {
                summaries,
                out,
                title,
            }),
            _,
        ) => taso_run::cli::exit_with(glance::glance(summaries, out, title.as_deref()), false),
        (None, Some(stage)) => {
            taso_run::cli::exit_with(compare_methods(stage, &args), stage.verbose)
        }
        (None, None) => taso_run::cli::exit_with(
            Err(anyhow::anyhow!(
                "pass --config FILE.toml (or `taso-compare glance`); see --help"
            )),
            false,
        ),
    }
}

/// Runs the planned comparison and writes its table (and charts).
fn compare_methods(stage: &StageArgs, args: &Args) -> Result<()> {
    let base = stage.resolve()?;
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
    let planned = plans
        .iter()
        .map(|(_, grid)| runs_per_method(grid.len(), sweep_seeds, args.seeds))
        .sum();
    let jobs = usize::from(args.jobs);
    let tag = args.tag.as_deref();
    let report_only = args.report_only;
    let record = args
        .record
        .as_deref()
        .map(|root| Record::new(root, &run.task_name()));
    let mut runner = Runner::new(stage, tag, report_only, jobs, run.threads, record, planned);
    let zero_shot = if args.zero_shot {
        runner.zero_shot()?
    } else {
        None
    };
    let results = compare(&mut runner, &plans, sweep_seeds, args.seeds)?;
    let report = render::report(
        &run.task_name(),
        stage,
        args,
        &results,
        zero_shot.as_ref(),
        &runner.missing,
    );
    let dir = run.runs_dir.join(run.task_name()).join("compare");
    let path = dir.join(args.table_name());
    std::fs::create_dir_all(&dir)
        .and_then(|()| write_atomic(&path, report.as_bytes()))
        .with_context(|| format!("writing the table {}", path.display()))?;
    println!("{report}\nwritten to {}", path.display());
    let selection = render::selected_on(&results).0;
    let Some(summary) =
        summary::Summary::new(&run.task_name(), &results, zero_shot.as_ref(), selection)
    else {
        return Ok(());
    };
    let json = path.with_extension("json");
    summary.write(&json)?;
    println!("written to {}", json.display());
    if args.plot {
        for chart in charts::draw(&path, &summary, &results)? {
            println!("drawn {}", chart.display());
        }
    }
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

/// Every method's lr sweep (its grid on the sweep seeds), then its other seeds at its best lr
/// (chosen on the hold-out, or on dev without one): two rounds of runs, each made `--jobs` at a
/// time. Methods with no finished run are left out (report-only).
fn compare(
    runner: &mut Runner,
    plans: &[(Variant, Vec<f64>)],
    sweep_seeds: u64,
    seeds: u64,
) -> Result<Vec<MethodResult>> {
    let swept_on = |grid: &[f64]| sweep_seeds_for(grid.len(), sweep_seeds, seeds);
    let sweep_keys: Vec<RunKey> = plans
        .iter()
        .flat_map(|(method, grid)| {
            let seeds = 0..swept_on(grid);
            grid.iter()
                .flat_map(move |&lr| seeds.clone().map(move |seed| RunKey { method, lr, seed }))
        })
        .collect();
    let mut swept = runner.outcomes(&sweep_keys)?.into_iter();
    let chosen: Vec<(&Variant, u64, MethodResult)> = plans
        .iter()
        .filter_map(|(method, grid)| {
            let k = swept_on(grid);
            let mut runs_at = |lr| (lr, swept.by_ref().take(k as usize).flatten().collect());
            let sweep = grid.iter().map(|&lr| runs_at(lr)).collect();
            best_of(method, sweep).map(|result| (method, k, result))
        })
        .collect();
    let rest_keys: Vec<RunKey> = chosen
        .iter()
        .flat_map(|(method, k, result)| {
            let lr = result.best_lr;
            (*k..seeds).map(move |seed| RunKey { method, lr, seed })
        })
        .collect();
    let mut rest = runner.outcomes(&rest_keys)?.into_iter();
    Ok(chosen
        .into_iter()
        .map(|(_, k, mut result)| {
            let more = rest.by_ref().take((seeds - k) as usize).flatten();
            result.reported.extend(more);
            result
        })
        .collect())
}

/// A method's sweep (the lrs with finished runs) and the runs at its best lr (the best mean
/// main metric of the best epochs); `None` when none of its runs has finished.
fn best_of(method: &Variant, sweep: Vec<(f64, Vec<Outcome>)>) -> Option<MethodResult> {
    let sweep: Vec<_> = sweep.into_iter().filter(|(_, o)| !o.is_empty()).collect();
    let (best_lr, reported) = sweep.iter().max_by(|a, b| lr_preference(a, b))?.clone();
    Some(MethodResult {
        name: method.name.clone(),
        sweep,
        best_lr,
        reported,
    })
}

/// The seeds that choose a method's lr: all of them when its grid has a single lr.
fn sweep_seeds_for(grid_len: usize, sweep_seeds: u64, seeds: u64) -> u64 {
    if grid_len == 1 {
        seeds
    } else {
        sweep_seeds
    }
}

/// Orders two points of a sweep: by mean selection metric, and on a tie (accuracy on a few
/// hundred held-out examples often ties) the higher lr wins, whatever the grid's order.
fn lr_preference(a: &(f64, Vec<Outcome>), b: &(f64, Vec<Outcome>)) -> std::cmp::Ordering {
    let by_metric = figures::mean_selection(&a.1).total_cmp(&figures::mean_selection(&b.1));
    by_metric.then(a.0.total_cmp(&b.0))
}

/// The runs one method needs: every grid lr on the sweep seeds, then the other seeds at the best.
fn runs_per_method(grid_len: usize, sweep_seeds: u64, seeds: u64) -> u64 {
    let sweep_seeds = sweep_seeds_for(grid_len, sweep_seeds, seeds);
    grid_len as u64 * sweep_seeds + (seeds - sweep_seeds)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn a_method_runs_its_sweep_then_the_other_seeds_at_the_best_lr() {
        // A 3-lr grid swept on seed 0, then seeds 1 and 2: 3 + 2 runs.
        assert_eq!(runs_per_method(3, 1, 3), 5);
        // A single lr needs no sweep: every seed runs at it.
        assert_eq!(runs_per_method(1, 1, 3), 3);
        assert_eq!(runs_per_method(2, 3, 3), 6);
    }

    /// A sweep point: one finished run per lr, each with this best-epoch selection metric.
    fn point(lr: f64, selection: f64) -> (f64, Vec<Outcome>) {
        (lr, vec![outcome(selection, f64::NAN)])
    }

    /// A finished run whose selection, best and last metrics are `selection`, with `eval`.
    pub(crate) fn outcome(selection: f64, eval: f64) -> Outcome {
        Outcome {
            selection,
            holdout_examples: 249,
            best: selection,
            best_scores: Scores::new(),
            last: selection,
            eval,
            adapter_params: 1,
            total_params: 1,
            seconds: 1.0,
            examples_per_second: 1.0,
            tokens_per_second: 1.0,
            majority: None,
            metric: "accuracy".into(),
            epochs: Vec::new(),
            seed: 0,
            step_losses: Vec::new(),
        }
    }

    fn chosen_lr(sweep: Vec<(f64, Vec<Outcome>)>) -> f64 {
        let method = Variant {
            name: "taso".into(),
            sets: vec![],
        };
        best_of(&method, sweep).expect("finished runs").best_lr
    }

    #[test]
    fn the_best_mean_selection_chooses_the_lr_and_a_tie_goes_to_the_higher_lr() {
        let (low, mid, high) = (2.5e-4, 5e-4, 1e-3);
        assert_eq!(
            chosen_lr(vec![point(low, 0.60), point(mid, 0.55), point(high, 0.55)]),
            low
        );
        let tied = [point(low, 0.50), point(mid, 0.56), point(high, 0.56)];
        assert_eq!(chosen_lr(tied.to_vec()), high);
        assert_eq!(chosen_lr(tied.into_iter().rev().collect()), high);
        assert_eq!(chosen_lr(vec![(mid, vec![]), point(low, 0.5)]), low);
    }
}
