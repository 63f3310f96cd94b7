//! Every method against the table's first, seed by seed: the differences that decide whether a
//! variant beats the method it varies, with the seeds' own noise beside them.

use crate::figures::{mean_std, reported_figure};
use crate::{MethodResult, Outcome};
use std::fmt::Write as _;

/// The mean of paired differences and its standard error (`sd / √n`; none for one pair).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedDifference {
    pub mean: f64,
    pub standard_error: Option<f64>,
    pub pairs: usize,
}

impl PairedDifference {
    /// Of `value` between the runs of `method` and of `reference` that share a seed; `None`
    /// when they share none or a shared seed's value is not finite.
    pub fn of(
        method: &[Outcome],
        reference: &[Outcome],
        value: impl Fn(&Outcome) -> f64,
    ) -> Option<Self> {
        let differences: Vec<f64> = method
            .iter()
            .filter_map(|run| {
                let other = reference.iter().find(|o| o.seed == run.seed)?;
                Some(value(run) - value(other))
            })
            .collect();
        if differences.is_empty() || differences.iter().any(|d| !d.is_finite()) {
            return None;
        }
        let (mean, sd) = mean_std(&differences);
        let pairs = differences.len();
        let standard_error = (pairs > 1).then(|| sd / (pairs as f64).sqrt());
        Some(Self {
            mean,
            standard_error,
            pairs,
        })
    }

    /// Whether the mean is above zero by more than twice its standard error: a lead the seeds'
    /// noise does not explain (never on one pair).
    pub fn clear_lead(&self) -> bool {
        self.standard_error
            .is_some_and(|se| self.mean > 0.0 && self.mean > 2.0 * se)
    }

    /// Whether it is below zero by more than twice its standard error.
    pub fn clear_deficit(&self) -> bool {
        self.standard_error
            .is_some_and(|se| self.mean < 0.0 && -self.mean > 2.0 * se)
    }

    /// The rule's word for it: `ahead` or `behind` beyond twice the standard error, `within the
    /// noise` inside it, `one seed` where there is no standard error.
    pub fn verdict(&self) -> &'static str {
        match self.standard_error {
            None => "one seed",
            Some(_) if self.clear_lead() => "ahead",
            Some(_) if self.clear_deficit() => "behind",
            Some(_) => "within the noise",
        }
    }

    /// `+1.34 ± 0.20` (×100), or `+1.34` for one pair.
    fn cell(&self) -> String {
        match self.standard_error {
            Some(se) => format!("{:+.2} ± {:.2}", 100.0 * self.mean, 100.0 * se),
            None => format!("{:+.2}", 100.0 * self.mean),
        }
    }
}

/// The table of every other method against the first, seed by seed, on the reported figure
/// and on the metric that chose (`on`: holdout or dev); nothing for fewer than two methods or
/// where no seed is shared.
pub fn paired_table(out: &mut String, results: &[MethodResult], on: &str) {
    let Some((reference, others)) = results.split_first() else {
        return;
    };
    let (figure, value) = reported_figure(results);
    let rows: Vec<String> = others
        .iter()
        .filter_map(|method| {
            let reported = PairedDifference::of(&method.reported, &reference.reported, value)?;
            let chosen =
                PairedDifference::of(&method.reported, &reference.reported, |o| o.selection);
            let verdict = match reported.standard_error {
                None => "— (one seed)",
                Some(_) => reported.verdict(),
            };
            Some(format!(
                "| {} | {} | {} | {} | {verdict} |",
                method.name,
                reported.pairs,
                reported.cell(),
                chosen.map_or_else(|| "—".to_string(), |d| d.cell()),
            ))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nAgainst {}, seed by seed: the mean over the seeds both ran of each run's figure minus \
         {}'s at the same seed, ± the standard error of that mean (sd/√n); \"ahead\" or \
         \"behind\" where the mean is beyond twice its standard error (no verdict on one seed).\n\n\
         | method | seeds paired | Δ {figure} | Δ best-epoch {on} | {figure} against {} |\n\
         |---|---|---|---|---|",
        reference.name, reference.name, reference.name
    );
    for row in rows {
        let _ = writeln!(out, "{row}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::outcome;

    fn seeded(eval: f64, seed: u64) -> Outcome {
        let mut run = outcome(0.9, eval);
        run.seed = seed;
        run
    }

    fn method(name: &str, evals: &[f64]) -> MethodResult {
        MethodResult {
            name: name.into(),
            sweep: Vec::new(),
            best_lr: 1e-3,
            reported: (0..).zip(evals).map(|(s, &e)| seeded(e, s)).collect(),
        }
    }

    #[test]
    fn differences_pair_runs_by_seed_and_carry_their_standard_error() {
        let taso = [seeded(0.8693, 0), seeded(0.8716, 1), seeded(0.8693, 2)];
        // Listed out of seed order: the pairing is by seed, not by position.
        let random = [seeded(0.8842, 1), seeded(0.8865, 0), seeded(0.8796, 2)];
        let d = PairedDifference::of(&random, &taso, |o| o.eval).expect("three pairs");
        assert_eq!(d.pairs, 3);
        let expected = [0.8865 - 0.8693, 0.8842 - 0.8716, 0.8796 - 0.8693];
        let (mean, sd) = mean_std(&expected);
        assert!((d.mean - mean).abs() < 1e-12);
        assert!((d.standard_error.unwrap() - sd / 3f64.sqrt()).abs() < 1e-12);
        assert!(d.clear_lead() && !d.clear_deficit());
        let back = PairedDifference::of(&taso, &random, |o| o.eval).unwrap();
        assert!(back.clear_deficit() && !back.clear_lead());
    }

    #[test]
    fn one_pair_or_noisy_pairs_make_no_verdict() {
        let one = PairedDifference::of(&[seeded(0.9, 0)], &[seeded(0.8, 0)], |o| o.eval).unwrap();
        assert_eq!(one.standard_error, None);
        assert!(!one.clear_lead());
        let noisy = PairedDifference::of(
            &[seeded(0.90, 0), seeded(0.80, 1)],
            &[seeded(0.84, 0), seeded(0.84, 1)],
            |o| o.eval,
        )
        .unwrap();
        assert!(!noisy.clear_lead() && !noisy.clear_deficit());
        // No shared seed, or a missing figure: no difference at all.
        assert_eq!(
            PairedDifference::of(&[seeded(0.9, 3)], &[seeded(0.8, 0)], |o| o.eval),
            None
        );
        assert_eq!(
            PairedDifference::of(&[seeded(f64::NAN, 0)], &[seeded(0.8, 0)], |o| o.eval),
            None
        );
    }

    #[test]
    fn the_table_sets_each_method_against_the_first() {
        let results = [
            method("taso", &[0.8693, 0.8716, 0.8693]),
            method("random-regions", &[0.8865, 0.8842, 0.8796]),
            method("taso-r2", &[0.8700, 0.8650, 0.8750]),
        ];
        let mut out = String::new();
        paired_table(&mut out, &results, "holdout");
        assert!(out.contains("Against taso, seed by seed"));
        assert!(out.contains("| method | seeds paired | Δ eval | Δ best-epoch holdout |"));
        assert!(out.contains("| random-regions | 3 | +1.34 ± 0.20 | +0.00 ± 0.00 | ahead |"));
        assert!(out.contains("| taso-r2 | 3 | "));
        assert!(out.contains("within the noise |"));
        let mut one_seed = String::new();
        paired_table(
            &mut one_seed,
            &[method("taso", &[0.8]), method("full", &[0.9])],
            "holdout",
        );
        assert!(one_seed.contains("| full | 1 | +10.00 | +0.00 | — (one seed) |"));
        let mut alone = String::new();
        paired_table(&mut alone, &results[..1], "holdout");
        assert!(alone.is_empty());
    }
}
