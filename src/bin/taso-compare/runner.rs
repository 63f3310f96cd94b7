//! Making a comparison's runs. Each method at one lr and seed is a run folder
//! `cmp-[TAG-]<method>-lr<lr>-s<seed>`: a finished one is reused, the others go through the five
//! stage binaries, `--jobs` at a time (each job with its share of the CPU threads and its output
//! in the run's `stages.log`). Every folder is checked before any run starts. Runs that would
//! score alike score once ([`shared_scores`](crate::shared_scores)).

use crate::shared_scores::{score_key, share_importance};
use crate::{existing, record::Record, variant::Variant, Outcome};
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use taso::run::cli::StageArgs;
use taso::run::{RunPaths, Scores};
use taso::train::{format_duration, EpochRecord, TrainMetrics};

/// One run of a comparison: a method at a learning rate and seed.
#[derive(Clone, Copy)]
pub struct RunKey<'m> {
    pub method: &'m Variant,
    pub lr: f64,
    pub seed: u64,
}

/// Runs (or reuses) the runs of a comparison; with `report_only`, only reuses, and remembers
/// which runs are missing.
pub struct Runner<'a> {
    stage: &'a StageArgs,
    tag: Option<&'a str>,
    report_only: bool,
    /// Runs made at once; above one, each gets a log file.
    jobs: usize,
    /// `run.threads` added to every run: the cores' share of each job with several jobs, unless
    /// the comparison sets `run.threads` itself.
    threads: Option<usize>,
    /// Where finished runs are kept and restored from (`--record`).
    record: Option<Record>,
    /// Runs not finished (report-only).
    pub missing: Vec<String>,
    /// Runs the whole comparison makes or reuses, and how many it has reached (for progress).
    planned: u64,
    visited: u64,
}

/// A run about to be made or reused.
struct Planned {
    name: String,
    args: StageArgs,
    paths: RunPaths,
    /// Its metrics, when the folder holds this run, finished (evaluated).
    finished: Option<RunMetrics>,
    /// An interrupted run left checkpoints: it continues from the newest.
    resumable: bool,
    /// Its place in the whole comparison, `[k/N]`.
    at: String,
    /// Its resolved settings, as its folder's `config.toml` will hold them.
    asked: String,
    /// What its importance depends on (`None`: it scores nothing), shared by the runs whose
    /// importance is the same file.
    score_key: Option<String>,
}

impl<'a> Runner<'a> {
    /// A runner for a comparison of `planned` runs made `jobs` at a time on this machine's
    /// cores; `configured_threads` is the comparison's own `run.threads` (config or `--set`),
    /// which every run keeps.
    pub fn new(
        stage: &'a StageArgs,
        tag: Option<&'a str>,
        report_only: bool,
        jobs: usize,
        configured_threads: Option<usize>,
        record: Option<Record>,
        planned: u64,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let share = (jobs > 1 && configured_threads.is_none()).then(|| (cores / jobs).max(1));
        Runner {
            stage,
            tag,
            report_only,
            jobs,
            threads: share,
            record,
            missing: Vec::new(),
            planned,
            visited: 0,
        }
    }

    /// The outcomes of `keys` in order (`None`: not finished, report-only), making the
    /// unfinished runs first, `jobs` at a time, interrupted ones (with checkpoints) before fresh
    /// ones. A folder holding a run with other settings stops the comparison before any run
    /// starts.
    pub fn outcomes(&mut self, keys: &[RunKey]) -> Result<Vec<Option<Outcome>>> {
        let mut plans = keys
            .iter()
            .map(|key| self.plan(key))
            .collect::<Result<Vec<_>>>()?;
        let mut todo = Vec::new();
        for (i, plan) in plans.iter().enumerate() {
            if plan.finished.is_some() {
                println!("{} reusing {}", plan.at, plan.paths.dir.display());
            } else if self.report_only {
                self.missing.push(plan.name.clone());
            } else {
                todo.push(i);
            }
        }
        todo.sort_by_key(|&i| !plans[i].resumable);
        let pending: Vec<&Planned> = todo.iter().map(|&i| &plans[i]).collect();
        if let Some(record) = &self.record {
            for plan in plans.iter().filter(|plan| plan.finished.is_some()) {
                record.keep(&plan.name, &plan.paths)?;
            }
        }
        make_all(&pending, &plans, self.jobs, self.record.as_ref())?;
        for i in todo {
            plans[i].finished = Some(RunMetrics::read(&plans[i].paths.metrics())?);
        }
        Ok(plans
            .into_iter()
            .map(|plan| plan.finished.map(RunMetrics::outcome))
            .collect())
    }

    /// The stage arguments, folder and state of one run.
    fn plan(&mut self, key: &RunKey) -> Result<Planned> {
        let name = self.run_name(&format!("{}-lr{:e}-s{}", key.method.name, key.lr, key.seed));
        let mut sets = key.method.sets.clone();
        sets.extend([
            format!("run.seed={}", key.seed),
            format!("train.lr={:e}", key.lr),
        ]);
        let Prepared {
            args,
            paths,
            asked,
            score_key,
            same,
        } = self.prepare(&name, sets)?;
        let finished = same
            .then(|| RunMetrics::read(&paths.metrics()).ok())
            .flatten()
            .filter(|m| m.eval.is_some());
        let resumable =
            finished.is_none() && !taso::train::list_checkpoints(&paths.checkpoints())?.is_empty();
        self.visited += 1;
        Ok(Planned {
            at: format!("[{}/{}]", self.visited, self.planned),
            name,
            args,
            paths,
            finished,
            resumable,
            asked,
            score_key,
        })
    }

    /// The base model's `taso-eval` scores with no adapter (`eval.adapter = "none"`: a decoder
    /// zero-shot), from run folder `cmp-[TAG-]zero-shot`: reused when it was evaluated with these
    /// settings (restored from the record too), else evaluated now; `None` with `report_only`,
    /// which lists it as missing.
    pub fn zero_shot(&mut self) -> Result<Option<Scores>> {
        let name = self.run_name("zero-shot");
        let prepared = self.prepare(&name, vec!["eval.adapter=none".into()])?;
        let paths = &prepared.paths;
        let evaluated = || {
            RunMetrics::read_eval(&paths.metrics())
                .ok()
                .and_then(|e| e.metrics)
        };
        let scores = match prepared.same.then(evaluated).flatten() {
            Some(scores) => {
                println!(
                    "reusing {} (the base model, no adapter)",
                    paths.dir.display()
                );
                scores
            }
            None if self.report_only => {
                self.missing.push(name);
                return Ok(None);
            }
            None => {
                println!("running {} (taso-eval, no adapter)", paths.dir.display());
                let log = (self.jobs > 1).then(|| paths.dir.join("stages.log"));
                run_stage("taso-eval", &prepared.args, &[], log.as_deref())?;
                evaluated().context("taso-eval wrote no metrics for the base model")?
            }
        };
        if let Some(record) = &self.record {
            record.keep(&name, paths)?;
        }
        Ok(Some(scores))
    }

    /// `cmp-[TAG-]<rest>`: a run folder's name in this comparison.
    fn run_name(&self, rest: &str) -> String {
        let tag = self.tag.map(|t| format!("{t}-")).unwrap_or_default();
        format!("cmp-{tag}{rest}")
    }

    /// The run `name` with `sets` on top of the comparison's overrides: its stage arguments and
    /// folder (restored from the record when gone), checked against what the folder holds — a
    /// run with other settings stops the comparison, unless it only reports.
    fn prepare(&self, name: &str, sets: Vec<String>) -> Result<Prepared> {
        let mut overrides: Vec<String> = self.stage.overrides.clone();
        overrides.extend(sets);
        overrides.push(format!("run.name={name:?}"));
        if let Some(threads) = self.threads {
            overrides.push(format!("run.threads={threads}"));
        }
        let args = StageArgs {
            config: self.stage.config.clone(),
            overrides,
            data_dir: self.stage.data_dir.clone(),
            verbose: self.stage.verbose,
        };
        let config = args.resolve()?;
        let paths = config.run()?.paths();
        if let Some(record) = &self.record {
            if record.restore(name, &paths)? {
                println!("restored {} from the record", paths.dir.display());
            }
        }
        let asked = config.to_toml();
        let score_key = score_key(&config)?;
        let existing = existing::read_settings(&paths.config());
        let same = existing
            .iter()
            .any(|text| existing::same_settings(text, &asked));
        if let (false, false, Some(text)) = (same, self.report_only, existing.first()) {
            existing::refuse_other_settings(&paths.dir, text, &asked)?;
        }
        Ok(Prepared {
            args,
            paths,
            asked,
            score_key,
            same,
        })
    }
}

/// A run's resolved arguments and folder, before anything is made.
struct Prepared {
    args: StageArgs,
    paths: RunPaths,
    /// Its resolved settings, as its folder's `config.toml` will hold them.
    asked: String,
    score_key: Option<String>,
    /// Whether its folder holds a run of these settings.
    same: bool,
}

/// Makes `plans`, `jobs` at a time, in order, keeping each in `record` as soon as it finishes;
/// a run takes its importance from any of `siblings` (the whole comparison) that holds the same.
/// After a failure no further run starts; the runs under way finish (their work is kept), then
/// the first failure is returned.
fn make_all(
    plans: &[&Planned],
    siblings: &[Planned],
    jobs: usize,
    record: Option<&Record>,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let logged = jobs > 1;
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(plans.len()) {
            scope.spawn(|| loop {
                if failure.lock().expect("no worker panics").is_some() {
                    break;
                }
                let Some(plan) = plans.get(next.fetch_add(1, Ordering::SeqCst)) else {
                    break;
                };
                let made = plan.make(siblings, logged).and_then(|()| {
                    record.map_or(Ok(()), |record| record.keep(&plan.name, &plan.paths))
                });
                if let Err(error) = made {
                    if logged {
                        eprintln!("{} failed: {error:#}; no further run starts", plan.at);
                    }
                    failure
                        .lock()
                        .expect("no worker panics")
                        .get_or_insert(error);
                }
            });
        }
    });
    match failure.into_inner().expect("no worker panics") {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

impl Planned {
    /// Runs the five stages, or, when an interrupted run left checkpoints (its earlier stages
    /// had finished), continues training from the newest and evaluates. Scoring is skipped when
    /// one of `siblings` already holds this run's importance. `logged`: the stages' output goes
    /// to the run's `stages.log` instead of this terminal.
    fn make(&self, siblings: &[Planned], logged: bool) -> Result<()> {
        let dir = self.paths.dir.display();
        let log = logged.then(|| self.paths.dir.join("stages.log"));
        match &log {
            Some(log) => println!("{} running {dir} (output in {})", self.at, log.display()),
            None => println!("{} running {dir}", self.at),
        }
        let started = Instant::now();
        if self.resumable {
            println!(
                "{} continuing its training from the newest checkpoint",
                self.at
            );
        } else {
            let shared = self.take_shared_importance(siblings)?;
            for binary in PREPARE {
                if !(shared && binary == "taso-score") {
                    run_stage(binary, &self.args, &[], log.as_deref())?;
                }
            }
        }
        let flags: &[&str] = if self.resumable { &["--resume"] } else { &[] };
        run_stage("taso-train", &self.args, flags, log.as_deref())?;
        run_stage("taso-eval", &self.args, &[], log.as_deref())?;
        if logged {
            let took = format_duration(started.elapsed());
            println!("{} finished {dir} in {took}", self.at);
        }
        Ok(())
    }

    /// Links into this run's folder the importance of a sibling with the same score key whose
    /// folder holds that file beside a `config.toml` of the sibling's own settings (so those
    /// settings made it); whether one was found.
    fn take_shared_importance(&self, siblings: &[Planned]) -> Result<bool> {
        let Some(key) = &self.score_key else {
            return Ok(false);
        };
        let source = siblings.iter().find(|s| {
            s.score_key.as_ref() == Some(key)
                && s.paths.dir != self.paths.dir
                && s.paths.importance().is_file()
                && existing::read_settings(&s.paths.config())
                    .iter()
                    .any(|text| existing::same_settings(text, &s.asked))
        });
        let Some(source) = source else {
            return Ok(false);
        };
        share_importance(&source.paths.importance(), &self.paths.importance())?;
        println!(
            "{} scored alike: importance taken from {} (same [run] and [score] settings)",
            self.at,
            source.paths.dir.display()
        );
        Ok(true)
    }
}

/// The stages before training, which make the adapter's initial state.
const PREPARE: [&str; 3] = ["taso-score", "taso-regions", "taso-lora"];

/// Runs one stage binary; its output goes to `log` (appended) when given, else to this terminal.
fn run_stage(binary: &str, args: &StageArgs, flags: &[&str], log: Option<&Path>) -> Result<()> {
    let exe = sibling(binary)?;
    let mut command = Command::new(&exe);
    command.arg("--config").arg(&args.config).args(flags);
    if let Some(dir) = &args.data_dir {
        command.arg("--data-dir").arg(dir);
    }
    for set in &args.overrides {
        command.arg("--set").arg(set);
    }
    if let Some(log) = log {
        let file = log
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| OpenOptions::new().create(true).append(true).open(log))
            .with_context(|| format!("opening the log {}", log.display()))?;
        command.stdout(Stdio::from(file.try_clone()?)).stderr(file);
    }
    let status = command
        .status()
        .with_context(|| format!("starting {}", exe.display()))?;
    if !status.success() {
        let place = log.map_or("above".to_string(), |l| format!("in {}", l.display()));
        bail!("{binary} failed ({status}); its message is {place}");
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
    #[serde(default)]
    majority_accuracy: Option<f64>,
}

/// A `metrics.json` that may hold only `taso-eval`'s entry (a run with no training).
#[derive(Deserialize)]
struct EvalOnly {
    eval: Option<EvalEntry>,
}

impl RunMetrics {
    /// `taso-eval`'s entry alone, from a run that may not have trained.
    fn read_eval(path: &Path) -> Result<EvalEntry> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let only: EvalOnly =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        only.eval
            .with_context(|| format!("{} has no eval entry", path.display()))
    }

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
        let majority = self.eval.as_ref().and_then(|e| e.majority_accuracy);
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
            examples_per_second: train.examples_per_second,
            tokens_per_second: train.tokens_per_second,
            majority,
            metric,
            epochs: train.epochs,
            seed: train.seed,
            step_losses: train.step_losses,
        }
    }
}
