//! Campaigns: worker processes run inputs in order while a supervisor watches them, turns a
//! death or a stall into a [`Finding`] (with the input saved), and records the CPU time spent.
//!
//! A worker (`taso-fuzz worker`) prints `case N` before each input and `cpu S` (its own CPU
//! seconds) every few inputs, and `done` when its share of the budget is spent. Inputs are a pure
//! function of (target, seed, number), so a campaign continues where the recorded ones stopped
//! and any finding can be replayed from its number alone.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::{case, Corpus, Scratch, Target};

/// What a campaign runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The readers under test.
    pub target: Target,
    /// The campaign seed: with the input number, it fixes every input.
    pub seed: u64,
    /// The first input number to run.
    pub first_case: u64,
    /// CPU seconds to spend, summed over workers.
    pub cpu_seconds: f64,
    /// CPU seconds one worker runs before it hands over (bounds what an interruption loses).
    pub batch_cpu_seconds: f64,
    /// Seconds without progress after which a worker counts as hung.
    pub hang_seconds: u64,
    /// The most memory a worker may hold, in MiB; an allocation past it aborts the worker.
    pub memory_mib: usize,
    /// The `taso-fuzz` executable that runs workers.
    pub exe: PathBuf,
    /// Where inputs that broke a reader are saved.
    pub findings_dir: PathBuf,
}

/// How an input broke a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// A panic.
    Panic,
    /// An allocation past the memory limit (a size taken from a header, not from the bytes).
    OversizedAllocation,
    /// Any other abnormal end: abort, signal.
    Crash,
    /// No progress for the hang limit.
    Hang,
}

impl FindingKind {
    /// The name in the record and file names.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Panic => "panic",
            FindingKind::OversizedAllocation => "oversized-allocation",
            FindingKind::Crash => "crash",
            FindingKind::Hang => "hang",
        }
    }
}

/// One input that broke a reader.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Its number in the campaign.
    pub case: u64,
    /// How it broke.
    pub kind: FindingKind,
    /// The input, saved.
    pub input: PathBuf,
    /// The end of what the worker printed on stderr.
    pub message: String,
}

/// What one worker batch did.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The target.
    pub target: Target,
    /// The campaign seed.
    pub seed: u64,
    /// Its first input number.
    pub first_case: u64,
    /// Inputs run (a finding's input counts).
    pub cases: u64,
    /// CPU seconds it used.
    pub cpu_seconds: f64,
    /// What broke, if anything (a worker stops at its first finding).
    pub finding: Option<Finding>,
}

/// Runs `plan` as a series of worker batches, calling `on_batch` after each (to record and
/// report it), until the CPU budget is spent.
pub fn run(plan: &Plan, on_batch: &mut dyn FnMut(&Batch)) -> io::Result<()> {
    let mut next = plan.first_case;
    let mut spent = 0.0;
    while spent < plan.cpu_seconds {
        let budget = (plan.cpu_seconds - spent).min(plan.batch_cpu_seconds);
        let batch = run_worker(plan, next, budget)?;
        spent += batch.cpu_seconds.max(0.01);
        next = batch.first_case + batch.cases;
        on_batch(&batch);
    }
    Ok(())
}

/// A worker's messages.
enum Message {
    Case(u64),
    Cpu(f64),
    Done,
}

fn run_worker(plan: &Plan, first_case: u64, cpu_seconds: f64) -> io::Result<Batch> {
    let mut child = Command::new(&plan.exe)
        .args(["worker", "--target", plan.target.name()])
        .args(["--seed", &plan.seed.to_string()])
        .args(["--from", &first_case.to_string()])
        .args(["--cpu-seconds", &cpu_seconds.to_string()])
        .args(["--memory-mib", &plan.memory_mib.to_string()])
        .env("RAYON_NUM_THREADS", "1")
        .env("TOKENIZERS_PARALLELISM", "false")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let messages = read_messages(child.stdout.take().unwrap());
    let stderr = collect_stderr(child.stderr.take().unwrap());
    let mut batch = Batch {
        target: plan.target,
        seed: plan.seed,
        first_case,
        cases: 0,
        cpu_seconds: 0.0,
        finding: None,
    };
    let mut current = None;
    let hang = Duration::from_secs(plan.hang_seconds);
    let mut last_progress = Instant::now();
    loop {
        match messages.recv_timeout(hang) {
            Ok(Message::Case(n)) => {
                current = Some(n);
                last_progress = Instant::now();
            }
            Ok(Message::Cpu(seconds)) => batch.cpu_seconds = seconds,
            Ok(Message::Done) => {
                batch.cases = current.map_or(0, |n| n + 1 - first_case);
                child.wait()?;
                return Ok(batch);
            }
            Err(RecvTimeoutError::Timeout) if last_progress.elapsed() >= hang => {
                child.kill()?;
                child.wait()?;
                batch.cpu_seconds += plan.hang_seconds as f64;
                let n = current.unwrap_or(first_case);
                return finish_with_finding(plan, batch, n, FindingKind::Hang, stderr);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                child.wait()?;
                let n = current.unwrap_or(first_case);
                let message = stderr.join().unwrap_or_default();
                let kind = classify(&message);
                let stderr = std::thread::spawn(move || message);
                return finish_with_finding(plan, batch, n, kind, stderr);
            }
        }
    }
}

/// Saves the input that broke the worker and its stderr, and closes the batch at it.
fn finish_with_finding(
    plan: &Plan,
    mut batch: Batch,
    case_number: u64,
    kind: FindingKind,
    stderr: std::thread::JoinHandle<String>,
) -> io::Result<Batch> {
    let message = stderr.join().unwrap_or_default();
    let corpus = Corpus::load(&Corpus::dir_of(plan.target))?;
    std::fs::create_dir_all(&plan.findings_dir)?;
    let stem = format!(
        "{}-{}-seed{}-case{case_number}",
        plan.target.name(),
        kind.name(),
        plan.seed
    );
    let input = plan.findings_dir.join(format!("{stem}.bin"));
    taso_artifact::write_atomic(&input, &case(&corpus, plan.seed, case_number))?;
    std::fs::write(plan.findings_dir.join(format!("{stem}.txt")), &message)?;
    batch.cases = case_number + 1 - batch.first_case;
    batch.finding = Some(Finding {
        case: case_number,
        kind,
        input,
        message,
    });
    Ok(batch)
}

fn classify(stderr: &str) -> FindingKind {
    if stderr.contains("memory allocation of") {
        FindingKind::OversizedAllocation
    } else if stderr.contains("panicked at") {
        FindingKind::Panic
    } else {
        // A signal, an abort, or an exit without `done`.
        FindingKind::Crash
    }
}

fn read_messages(stdout: impl Read + Send + 'static) -> Receiver<Message> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let message = match line.split_once(' ') {
                Some(("case", n)) => n.parse().ok().map(Message::Case),
                Some(("cpu", s)) => s.parse().ok().map(Message::Cpu),
                _ if line == "done" => Some(Message::Done),
                _ => None,
            };
            if let Some(message) = message {
                if sender.send(message).is_err() {
                    break;
                }
            }
        }
    });
    receiver
}

/// Keeps the last 16 KiB of what the worker prints on stderr.
fn collect_stderr(stderr: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = BufReader::new(stderr).read_to_end(&mut all);
        let start = all.len().saturating_sub(16 * 1024);
        String::from_utf8_lossy(&all[start..]).into_owned()
    })
}

/// The worker side: runs inputs from `first_case` on, announcing each, until `cpu_seconds` of
/// its own CPU time are spent.
pub fn work(
    target: Target,
    seed: u64,
    first_case: u64,
    cpu_seconds: f64,
    out: &mut impl Write,
) -> io::Result<()> {
    let corpus = Corpus::load(&Corpus::dir_of(target))?;
    let scratch = Scratch::new()?;
    for n in first_case.. {
        writeln!(out, "case {n}")?;
        out.flush()?;
        scratch.run(target, &case(&corpus, seed, n))?;
        if n % 16 == 15 {
            let used = own_cpu_seconds();
            writeln!(out, "cpu {used}")?;
            if used >= cpu_seconds {
                break;
            }
        }
    }
    writeln!(out, "done")?;
    out.flush()
}

/// User plus system CPU seconds of this process.
pub fn own_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct it is given and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The record of campaigns: one row per worker batch in a TSV file.
pub mod record {
    use super::*;

    const HEADER: &str = "date\ttarget\tseed\tfirst_case\tcases\tcpu_seconds\tfinding";

    /// One recorded batch.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Row {
        /// When it ended (RFC 3339, UTC).
        pub date: String,
        /// Target name.
        pub target: String,
        /// Campaign seed.
        pub seed: u64,
        /// First input number.
        pub first_case: u64,
        /// Inputs run.
        pub cases: u64,
        /// CPU seconds.
        pub cpu_seconds: f64,
        /// `-`, or the finding's kind and saved input.
        pub finding: String,
    }

    impl Row {
        /// The row of `batch`, dated now.
        pub fn of(batch: &Batch) -> Row {
            Row {
                date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
                target: batch.target.name().to_string(),
                seed: batch.seed,
                first_case: batch.first_case,
                cases: batch.cases,
                cpu_seconds: batch.cpu_seconds,
                finding: batch.finding.as_ref().map_or("-".to_string(), |f| {
                    format!("{} case {}", f.kind.name(), f.case)
                }),
            }
        }
    }

    /// Appends `row` to the record at `path` (with a header line if the file is new).
    pub fn append(path: &Path, row: &Row) -> io::Result<()> {
        let new = !path.exists();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let mut text = String::new();
        if new {
            text.push_str(HEADER);
            text.push('\n');
        }
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{:.1}\t{}\n",
            row.date, row.target, row.seed, row.first_case, row.cases, row.cpu_seconds, row.finding
        ));
        file.write_all(text.as_bytes())
    }

    /// Every row of the record at `path` (none if there is no file yet).
    pub fn read(path: &Path) -> io::Result<Vec<Row>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.is_empty() && *line != HEADER)
            .map(|(index, line)| parse_row(line).ok_or_else(|| bad_line(path, index + 1)))
            .collect()
    }

    fn parse_row(line: &str) -> Option<Row> {
        let fields: Vec<&str> = line.split('\t').collect();
        let [date, target, seed, first_case, cases, cpu, finding] = fields[..] else {
            return None;
        };
        Some(Row {
            date: date.to_string(),
            target: target.to_string(),
            seed: seed.parse().ok()?,
            first_case: first_case.parse().ok()?,
            cases: cases.parse().ok()?,
            cpu_seconds: cpu.parse().ok()?,
            finding: finding.to_string(),
        })
    }

    fn bad_line(path: &Path, line: usize) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}:{line}: not a campaign row (date, target, seed, first_case, cases, \
                 cpu_seconds, finding separated by tabs)",
                path.display()
            ),
        )
    }

    /// The first input number not yet run for `target` under `seed`.
    pub fn next_case(rows: &[Row], target: Target, seed: u64) -> u64 {
        rows.iter()
            .filter(|r| r.target == target.name() && r.seed == seed)
            .map(|r| r.first_case + r.cases)
            .max()
            .unwrap_or(0)
    }

    /// Totals of one target over the record.
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Total {
        /// Inputs run.
        pub cases: u64,
        /// CPU hours.
        pub cpu_hours: f64,
        /// Findings.
        pub findings: usize,
    }

    /// Totals per target, in [`Target::ALL`] order.
    pub fn totals(rows: &[Row]) -> Vec<(Target, Total)> {
        Target::ALL
            .into_iter()
            .map(|target| {
                let mut total = Total::default();
                for row in rows.iter().filter(|r| r.target == target.name()) {
                    total.cases += row.cases;
                    total.cpu_hours += row.cpu_seconds / 3600.0;
                    total.findings += usize::from(row.finding != "-");
                }
                (target, total)
            })
            .collect()
    }
}
