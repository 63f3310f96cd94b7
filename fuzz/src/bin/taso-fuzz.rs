//! `taso-fuzz`: runs fuzz campaigns against the readers of untrusted files, records their CPU
//! time and findings, and replays saved inputs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use cap::Cap;
use clap::{Parser, Subcommand};
use taso_fuzz::campaign::{self, record, Batch, Plan};
use taso_fuzz::{Scratch, Target};

/// The allocator of every worker: an allocation past the limit aborts with "memory allocation
/// of N bytes failed", which the supervisor reports as an oversized allocation.
#[global_allocator]
static ALLOCATOR: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

#[derive(Parser)]
#[command(name = "taso-fuzz", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fuzz one target (or all) for a CPU budget each.
    Run(RunArgs),
    /// Totals per target of the recorded campaigns.
    Summary {
        /// The campaign record.
        #[arg(long, default_value = DEFAULT_RECORD)]
        record_file: PathBuf,
    },
    /// Runs saved inputs through a target's readers, in this process.
    Replay {
        /// The target whose readers take the inputs.
        #[arg(long)]
        target: String,
        /// The inputs.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// One worker of a campaign (started by `run`).
    #[command(hide = true)]
    Worker {
        #[arg(long)]
        target: String,
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        cpu_seconds: f64,
        #[arg(long)]
        memory_mib: usize,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// A target (safetensors, gguf, task-toml, tsv, jsonl) or `all`.
    #[arg(long, default_value = "all")]
    target: String,
    /// CPU minutes per target.
    #[arg(long, default_value_t = 1.0)]
    cpu_minutes: f64,
    /// Targets fuzzed at once (one worker process each).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// The campaign seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Append each batch to the record and continue from the inputs it already ran.
    #[arg(long)]
    record: bool,
    /// The campaign record.
    #[arg(long, default_value = DEFAULT_RECORD)]
    record_file: PathBuf,
    /// The most memory a worker may hold (MiB); past it an allocation is a finding.
    #[arg(long, default_value_t = 512)]
    memory_mib: usize,
    /// Seconds without progress after which an input counts as a hang.
    #[arg(long, default_value_t = 20)]
    hang_seconds: u64,
    /// Where inputs that broke a reader are saved.
    #[arg(long, default_value = DEFAULT_FINDINGS)]
    findings_dir: PathBuf,
}

/// `fuzz/campaign.tsv` of this checkout.
const DEFAULT_RECORD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/campaign.tsv");

/// `fuzz/findings/` of this checkout.
const DEFAULT_FINDINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/findings");

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(args) => run_campaigns(&args),
        Command::Summary { record_file } => summary(&record_file),
        Command::Replay { target, inputs } => replay(target_named(&target)?, &inputs),
        Command::Worker {
            target,
            seed,
            from,
            cpu_seconds,
            memory_mib,
        } => {
            ALLOCATOR
                .set_limit(memory_mib << 20)
                .map_err(|()| anyhow::anyhow!("the memory limit is below what is in use"))?;
            let mut out = std::io::stdout().lock();
            campaign::work(target_named(&target)?, seed, from, cpu_seconds, &mut out)?;
            Ok(())
        }
    }
}

fn target_named(name: &str) -> Result<Target> {
    Target::from_name(name).with_context(|| {
        let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
        format!(
            "no fuzz target '{name}'; the targets are {}",
            names.join(", ")
        )
    })
}

fn run_campaigns(args: &RunArgs) -> Result<()> {
    if args.cpu_minutes.is_nan() || args.cpu_minutes <= 0.0 || args.jobs == 0 {
        bail!("--cpu-minutes must be positive and --jobs at least 1");
    }
    let targets = match args.target.as_str() {
        "all" => Target::ALL.to_vec(),
        name => vec![target_named(name)?],
    };
    let rows = if args.record {
        record::read(&args.record_file)?
    } else {
        Vec::new()
    };
    let exe = std::env::current_exe().context("locating taso-fuzz")?;
    let plans: Vec<Plan> = targets
        .into_iter()
        .map(|target| Plan {
            target,
            seed: args.seed,
            first_case: record::next_case(&rows, target, args.seed),
            cpu_seconds: args.cpu_minutes * 60.0,
            batch_cpu_seconds: 120.0,
            hang_seconds: args.hang_seconds,
            memory_mib: args.memory_mib,
            exe: exe.clone(),
            findings_dir: args.findings_dir.clone(),
        })
        .collect();
    let queue = Mutex::new(plans);
    let findings = Mutex::new(0usize);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..args.jobs)
            .map(|_| scope.spawn(|| run_queue(&queue, args, &findings)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a campaign thread panicked"))
            .collect::<Result<Vec<()>>>()
    })?;
    let findings = findings.into_inner().unwrap();
    if findings > 0 {
        bail!(
            "{findings} input(s) broke a reader; they are saved in {}",
            args.findings_dir.display()
        );
    }
    Ok(())
}

fn run_queue(queue: &Mutex<Vec<Plan>>, args: &RunArgs, findings: &Mutex<usize>) -> Result<()> {
    while let Some(plan) = {
        let mut plans = queue.lock().unwrap();
        (!plans.is_empty()).then(|| plans.remove(0))
    } {
        let mut cases = 0;
        let mut cpu = 0.0;
        campaign::run(&plan, &mut |batch: &Batch| {
            cases += batch.cases;
            cpu += batch.cpu_seconds;
            report(batch, cases, cpu, &plan);
            if batch.finding.is_some() {
                *findings.lock().unwrap() += 1;
            }
            if args.record {
                if let Err(e) = record::append(&args.record_file, &record::Row::of(batch)) {
                    eprintln!("error: recording to {}: {e}", args.record_file.display());
                }
            }
        })?;
    }
    Ok(())
}

fn report(batch: &Batch, cases: u64, cpu: f64, plan: &Plan) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "[{}] {cases} inputs, {:.1} of {:.1} CPU-min, {:.0} inputs/CPU-s",
        plan.target.name(),
        cpu / 60.0,
        plan.cpu_seconds / 60.0,
        batch.cases as f64 / batch.cpu_seconds.max(1e-3)
    );
    if let Some(finding) = &batch.finding {
        let lines: Vec<&str> = finding.message.lines().collect();
        let _ = writeln!(
            err,
            "[{}] FINDING {} at input {}: saved {}\n{}",
            plan.target.name(),
            finding.kind.name(),
            finding.case,
            finding.input.display(),
            lines[lines.len().saturating_sub(6)..].join("\n")
        );
    }
}

fn summary(record_file: &std::path::Path) -> Result<()> {
    let rows = record::read(record_file)?;
    println!("target\tinputs\tCPU-hours\tfindings");
    for (target, total) in record::totals(&rows) {
        println!(
            "{}\t{}\t{:.2}\t{}",
            target.name(),
            total.cases,
            total.cpu_hours,
            total.findings
        );
    }
    Ok(())
}

fn replay(target: Target, inputs: &[PathBuf]) -> Result<()> {
    let scratch = Scratch::new().context("making a scratch folder")?;
    for input in inputs {
        let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
        scratch.run(target, &bytes)?;
        println!("{}: no panic", input.display());
    }
    Ok(())
}
