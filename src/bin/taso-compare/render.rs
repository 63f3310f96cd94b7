//! The results table: each method at its best learning rate, and the sweep behind the choice.

use crate::figures::{majority, mean_selection, mean_std};
use crate::{paired, Args, MethodResult, Outcome};
use std::fmt::Write as _;
use taso::run::cli::StageArgs;
use taso::run::Scores;

/// What chose lrs and best epochs: `dev`, or `holdout` when the runs held training examples
/// out (`run.holdout`), with their number.
pub fn selected_on(results: &[MethodResult]) -> (&'static str, usize) {
    let holdout = results
        .iter()
        .flat_map(|r| &r.reported)
        .map(|o| o.holdout_examples)
        .max()
        .unwrap_or(0);
    (if holdout > 0 { "holdout" } else { "dev" }, holdout)
}

fn lr_list(lrs: &[f64]) -> String {
    lrs.iter()
        .map(|l| format!("{l:e}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The command that reproduces the table.
fn command(stage: &StageArgs, args: &Args) -> String {
    let mut out = format!("taso-compare --config {}", stage.config.display());
    for set in &stage.overrides {
        let _ = write!(out, " --set {set}");
    }
    let _ = write!(
        out,
        " --seeds {} --methods {}",
        args.seeds,
        args.methods.join(",")
    );
    if let Some(tag) = &args.tag {
        let _ = write!(out, " --tag {tag}");
    }
    if args.report_only {
        out.push_str(" --report-only");
    }
    if args.plot {
        out.push_str(" --plot");
    }
    if let Some(k) = args.sweep_seeds {
        let _ = write!(out, " --sweep-seeds {k}");
    }
    if !args.lrs.is_empty() {
        let _ = write!(out, " --lrs {}", lr_list(&args.lrs));
    }
    for own in &args.method_lrs {
        let _ = write!(out, " --method-lrs {}={}", own.method, lr_list(&own.lrs));
    }
    for v in &args.variants {
        let _ = write!(out, " --variant '{}={}'", v.name, v.sets.join(";"));
    }
    out
}

/// The markdown report.
pub fn report(
    task: &str,
    stage: &StageArgs,
    args: &Args,
    results: &[MethodResult],
    zero_shot: Option<&Scores>,
    missing: &[String],
) -> String {
    let metric = results
        .first()
        .and_then(|r| r.reported.first())
        .map_or("metric", |o| o.metric.as_str());
    let (on, holdout) = selected_on(results);
    let mut out = format!("# {task}: TASO vs baselines\n\n");
    intro(&mut out, stage, args, metric, holdout);
    results_table(&mut out, results, metric, holdout);
    untrained(&mut out, results, zero_shot, metric);
    paired::paired_table(&mut out, results, on);
    sweep_table(&mut out, results, on);
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "\nNot finished yet ({}; the same command without --report-only runs them): {}.",
            missing.len(),
            missing.join(", ")
        );
    }
    out
}

/// The command and what the columns mean: how lrs and best epochs were chosen.
fn intro(out: &mut String, stage: &StageArgs, args: &Args, metric: &str, holdout: usize) {
    let choice = match holdout {
        0 => format!("the lr is chosen by the mean best-epoch dev {metric} over the sweep seeds"),
        n => format!(
            "the best epoch and the lr are chosen on {n} held-out training examples \
             (`run.holdout`), never on dev: the lr by the mean best-epoch holdout {metric} over \
             the sweep seeds"
        ),
    };
    let _ = writeln!(
        out,
        "Command: `{}`.\n\nDev {metric} ×100, mean ± std over seeds 0..n at each method's best \
         learning rate; {choice} (a tie goes to the higher lr); \
         the task's other metrics are shown at that same best epoch. The dev columns are the trainer's (on `train.dev_subset` if set); eval is `taso-eval`'s \
         (the `[eval]` adapter and split, on `eval.max_examples` if set).\n",
        command(stage, args)
    );
}

/// One row per method at its best lr: the dev metric (and the others at the best epoch, and
/// the hold-out's when it chose), eval, parameters and train time.
fn results_table(out: &mut String, results: &[MethodResult], metric: &str, holdout: usize) {
    let others = other_metrics(results, metric);
    let holdout_column = if holdout > 0 {
        " best-epoch holdout |"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "| method | lr | n | best-epoch dev |{}{holdout_column} last-epoch dev | eval | adapter params | trainable params | train time (s) | examples/s | tokens/s |\n\
         |---|---|---|---|{}---|---|---|---|---|---|---|",
        others.iter().map(|m| format!(" best-epoch {m} |")).collect::<String>(),
        "---|".repeat(others.len() + usize::from(holdout > 0)),
    );
    for r in results {
        let cell = |value: &dyn Fn(&Outcome) -> f64| {
            let (mean, sd) = mean_std(&r.reported.iter().map(value).collect::<Vec<_>>());
            match r.reported.len() {
                1 => format!("{:.2}", 100.0 * mean),
                _ => format!("{:.2} ± {:.2}", 100.0 * mean, 100.0 * sd),
            }
        };
        let other_cells: String = others
            .iter()
            .map(|m| {
                let value = |o: &Outcome| o.best_scores.get(m).copied().unwrap_or(f64::NAN);
                format!(" {} |", cell(&value))
            })
            .collect();
        let holdout_cell = match holdout {
            0 => String::new(),
            _ => format!(" {} |", cell(&|o| o.selection)),
        };
        let mean_of = |value: fn(&Outcome) -> f64| {
            mean_std(&r.reported.iter().map(value).collect::<Vec<_>>()).0
        };
        let secs = mean_of(|o| o.seconds);
        let examples_per_second = mean_of(|o| o.examples_per_second);
        let tokens_per_second = mean_of(|o| o.tokens_per_second);
        let first = &r.reported[0];
        let _ = writeln!(
            out,
            "| {} | {:e} | {} | {} |{other_cells}{holdout_cell} {} | {} | {} | {} | {secs:.0} | {examples_per_second:.1} | {tokens_per_second:.0} |",
            r.name,
            r.best_lr,
            r.reported.len(),
            cell(&|o| o.best),
            cell(&|o| o.last),
            cell(&|o| o.eval),
            first.adapter_params,
            first.total_params
        );
    }
}

/// What needs no training, on the eval split: always giving the most frequent answer, and the
/// base model without an adapter (`--zero-shot`).
fn untrained(out: &mut String, results: &[MethodResult], zero_shot: Option<&Scores>, metric: &str) {
    if let Some(majority) = majority(results) {
        let _ = writeln!(
            out,
            "\nAlways giving the most frequent answer scores {:.2} accuracy on the eval split.",
            100.0 * majority
        );
    }
    if let Some(value) = zero_shot.and_then(|scores| scores.get(metric)) {
        let _ = writeln!(
            out,
            "\nThe base model without an adapter (zero-shot, `--zero-shot`) scores {:.2} {metric} \
             on the eval split.",
            100.0 * value
        );
    }
}

/// The task's dev metrics besides the main one (e.g. accuracy beside MRPC's F1), as the first
/// reported run recorded them at its best epoch.
fn other_metrics(results: &[MethodResult], main: &str) -> Vec<String> {
    results
        .first()
        .and_then(|r| r.reported.first())
        .map(|o| {
            o.best_scores
                .keys()
                .filter(|m| *m != main)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Every lr tried, per method: the mean best-epoch metric that chose (`on` dev or the
/// hold-out) and the number of seeds behind it.
fn sweep_table(out: &mut String, results: &[MethodResult], on: &str) {
    let mut lrs: Vec<f64> = results
        .iter()
        .flat_map(|r| r.sweep.iter().map(|(lr, _)| *lr))
        .collect();
    lrs.sort_by(f64::total_cmp);
    lrs.dedup();
    if lrs.len() < 2 {
        return;
    }
    let _ = write!(
        out,
        "\nLearning-rate sweep (mean best-epoch {on} ×100, seeds in brackets):\n\n| method |"
    );
    for lr in &lrs {
        let _ = write!(out, " {lr:e} |");
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(lrs.len()));
    out.push('\n');
    for r in results {
        let _ = write!(out, "| {} |", r.name);
        for lr in &lrs {
            match r.sweep.iter().find(|(l, _)| l == lr) {
                Some((_, o)) => {
                    let _ = write!(out, " {:.2} ({}) |", 100.0 * mean_selection(o), o.len());
                }
                None => out.push_str(" — |"),
            }
        }
        out.push('\n');
    }
}
