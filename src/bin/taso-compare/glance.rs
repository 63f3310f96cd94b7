//! `taso-compare glance`: several comparisons' summaries as one chart, a group of bars per task
//! and a bar per method (mean ± std over seeds), beside the base model zero-shot and the
//! majority answer where every summary has them.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use taso_plot::{grouped_bars, BarGroup, Series};

use crate::summary::Summary;

/// Draws the summaries `inputs` (`<table>.json`, one per task) to the PNG file `out`.
pub fn glance(inputs: &[PathBuf], out: &Path, title: Option<&str>) -> Result<()> {
    let summaries: Vec<(PathBuf, Summary)> = inputs
        .iter()
        .map(|path| Ok((path.clone(), Summary::read(path)?)))
        .collect::<Result<_>>()?;
    let (series, groups) = chart_data(&summaries)?;
    let metric = axis_label(&summaries);
    let title =
        title.unwrap_or("Each method at its chosen lr, task by task (mean ± std over seeds)");
    grouped_bars(out, title, &metric, &series, &groups, &[])
        .with_context(|| format!("drawing {}", out.display()))?;
    println!("drawn {} ({} tasks)", out.display(), groups.len());
    Ok(())
}

/// Reads an untrained figure off a summary.
type Baseline = fn(&Summary) -> Option<f64>;

/// The untrained figures, drawn first where every task has them.
const BASELINES: [(&str, Baseline); 2] = [
    ("zero-shot (base model)", |s| s.zero_shot),
    ("majority answer", |s| s.majority),
];

/// The series (zero-shot and the majority answer where every task has them, then the first
/// summary's methods) and a group per task; an error naming the file that lacks a method.
fn chart_data(summaries: &[(PathBuf, Summary)]) -> Result<(Vec<Series>, Vec<BarGroup>)> {
    let Some((_, first)) = summaries.first() else {
        bail!(
            "no summaries to draw; pass the .json files that taso-compare writes beside its tables"
        );
    };
    let every = |get: Baseline| summaries.iter().all(|(_, s)| get(s).is_some());
    let baselines: Vec<(&str, Baseline)> = BASELINES
        .into_iter()
        .filter(|(_, get)| every(*get))
        .collect();
    let methods: Vec<&str> = first.methods.iter().map(|m| m.name.as_str()).collect();
    let series = baselines
        .iter()
        .map(|(label, _)| Series::muted(*label))
        .chain(methods.iter().map(|m| Series::new(*m)))
        .collect();
    let mut groups = Vec::new();
    for (path, summary) in summaries {
        let (mut values, mut spreads): (Vec<f64>, Vec<f64>) = baselines
            .iter()
            .map(|(_, get)| (get(summary).unwrap_or(f64::NAN), 0.0))
            .unzip();
        for name in &methods {
            let Some(method) = summary.methods.iter().find(|m| m.name == *name) else {
                bail!(
                    "{} has no method `{name}` (it has {}); draw summaries of comparisons with \
                     the same --methods",
                    path.display(),
                    summary
                        .methods
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            values.push(method.mean);
            spreads.push(method.std);
        }
        groups.push(BarGroup {
            label: summary.task.clone(),
            values,
            spreads,
        });
    }
    Ok((series, groups))
}

/// The y axis: the metric and the figure shown, each once.
fn axis_label(summaries: &[(PathBuf, Summary)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (_, s) in summaries {
        let part = format!("{} ({})", s.metric, s.figure);
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    parts.join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::MethodSummary;

    fn summary(task: &str, methods: &[(&str, f64)], zero_shot: Option<f64>) -> (PathBuf, Summary) {
        let methods = methods
            .iter()
            .map(|&(name, mean)| MethodSummary {
                name: name.into(),
                lr: 1e-3,
                adapter_params: 10,
                seeds: vec![0, 1],
                values: vec![mean - 0.01, mean + 0.01],
                mean,
                std: 0.014,
                against: None,
            })
            .collect();
        let summary = Summary {
            format: "taso-compare-summary".into(),
            version: 1,
            task: task.into(),
            metric: "accuracy".into(),
            figure: "eval".into(),
            selection: "holdout".into(),
            zero_shot,
            majority: Some(0.5),
            methods,
        };
        (PathBuf::from(format!("{task}.json")), summary)
    }

    #[test]
    fn a_group_per_task_with_the_baselines_every_task_has() {
        let tasks = [
            summary("sst2", &[("taso", 0.87), ("lora-r1", 0.88)], Some(0.63)),
            summary("rte", &[("lora-r1", 0.55), ("taso", 0.57)], None),
        ];
        let (series, groups) = chart_data(&tasks).unwrap();
        assert_eq!(
            series,
            [
                Series::muted("majority answer"),
                Series::new("taso"),
                Series::new("lora-r1")
            ]
        );
        assert_eq!(groups[1].label, "rte");
        assert_eq!(groups[1].values, [0.5, 0.57, 0.55]);
        assert_eq!(groups[1].spreads, [0.0, 0.014, 0.014]);
        assert_eq!(axis_label(&tasks), "accuracy (eval)");
    }

    #[test]
    fn a_task_without_a_method_is_named() {
        let tasks = [
            summary("sst2", &[("taso", 0.87), ("full", 0.88)], None),
            summary("qnli", &[("taso", 0.6)], None),
        ];
        let err = chart_data(&tasks).unwrap_err().to_string();
        assert!(err.contains("qnli.json has no method `full`"), "{err}");
        assert!(chart_data(&[]).is_err());
    }
}
