//! `regions.md`: what stage 2 kept, per matrix and in total, in Markdown.

use std::fmt::Write;

use crate::config::{spelling, RegionsConfig};
use crate::recurring;
use taso_artifact::{Coverage, Regions};

/// How the regions were made, for the report's header.
#[derive(Debug, Clone, PartialEq)]
pub enum Provenance<'a> {
    /// Selected from importance scores with this config (`estimated`: coverage from marginals).
    Scores {
        /// The effective `[regions]` config.
        config: &'a RegionsConfig,
        /// Whether coverage was estimated from marginals (no full scores).
        estimated: bool,
    },
    /// Dense LoRA: every row and column, no importance read.
    Dense,
}

/// Summary figures of a set of regions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    /// Matrices adapted.
    pub adapted: usize,
    /// Target matrices.
    pub targets: usize,
    /// Kept rows over all adapted matrices.
    pub rows: usize,
    /// Kept columns over all adapted matrices.
    pub cols: usize,
    /// Adapter parameters used.
    pub used: usize,
    /// The budget.
    pub budget: usize,
    /// Mean coverage share and mean random share over adapted matrices (`None` without scores).
    pub coverage: Option<(f64, f64)>,
}

impl Totals {
    /// The totals of `regions`.
    pub fn of(regions: &Regions) -> Self {
        let n = regions.coverage.len();
        let coverage = (n > 0).then(|| {
            let mean =
                |f: fn(&Coverage) -> f64| regions.coverage.iter().map(f).sum::<f64>() / n as f64;
            (mean(|c| c.share), mean(|c| c.random_share))
        });
        Self {
            adapted: regions.matrices.len(),
            targets: regions.targets.len(),
            rows: regions.matrices.iter().map(|m| m.rows.len()).sum(),
            cols: regions.matrices.iter().map(|m| m.cols.len()).sum(),
            used: regions.used(),
            budget: regions.budget,
            coverage,
        }
    }
}

/// The pictures drawn beside the report, as paths relative to the run folder.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pictures<'a> {
    /// The folder of the heat-maps, if any were drawn.
    pub heatmaps: Option<&'a str>,
    /// The coverage-per-layer chart, if it was drawn.
    pub layer_chart: Option<&'a str>,
}

/// The Markdown report, linking the `pictures` drawn beside it.
pub fn render(regions: &Regions, provenance: &Provenance, pictures: Pictures) -> String {
    let totals = Totals::of(regions);
    let mut out = String::from("# Core regions (taso-regions)\n\n");
    out += &settings(regions, &totals, provenance, pictures);
    out += "\n";
    out += &table(regions, &totals);
    if totals.coverage.is_some() {
        out += "\nThe total row's coverage columns are means over the adapted matrices.\n";
    }
    if let Provenance::Scores { .. } = provenance {
        out += &recurring::section(&recurring::recurring_lines(regions));
    }
    out
}

/// The header's bullet list: how the regions were chosen, the budget, the pictures.
fn settings(
    regions: &Regions,
    totals: &Totals,
    provenance: &Provenance,
    pictures: Pictures,
) -> String {
    let mut out = String::new();
    match provenance {
        Provenance::Dense => {
            out +=
                "- method: dense LoRA, every row and column of every target; no importance read\n";
        }
        Provenance::Scores { config, .. } => {
            let _ = writeln!(
                out,
                "- allocation: {}; rows scored by {}, columns by {}; core entries: top {}% of all \
                 entries (normalize: {})",
                spelling(&config.allocation),
                spelling(&config.row_score),
                spelling(&config.col_score),
                config.core_fraction * 100.0,
                spelling(&config.normalize)
            );
        }
    }
    let budget_rule = match provenance {
        Provenance::Scores { config, .. } => format!(" (`budget = {}`)", config.budget),
        Provenance::Dense => String::new(),
    };
    let _ = writeln!(
        out,
        "- rank {}; budget {} adapter parameters{budget_rule}; used {} ({})",
        regions.rank,
        totals.budget,
        totals.used,
        percent(totals.used as f64 / totals.budget.max(1) as f64)
    );
    let _ = writeln!(
        out,
        "- matrices adapted: {} of {}",
        totals.adapted, totals.targets
    );
    if let Provenance::Scores { estimated, .. } = provenance {
        out += if *estimated {
            "- coverage: **estimated** from marginals only, as (share of row importance in R) × \
             (share of column importance in C)\n"
        } else {
            "- coverage: exact share of the matrix's importance inside the kept R × C block\n"
        };
    }
    if let Some(dir) = pictures.heatmaps {
        let _ = writeln!(
            out,
            "- heat-maps: `{dir}/<matrix>.png` (log colour scale; strips mark kept rows, left, \
             and columns, top)"
        );
    }
    if let Some(file) = pictures.layer_chart {
        let _ = writeln!(
            out,
            "- coverage per layer and matrix type, against random blocks: `{file}`"
        );
    }
    out
}

/// The per-matrix table with its total row.
fn table(regions: &Regions, totals: &Totals) -> String {
    let mut out =
        String::from("| matrix | rows kept | cols kept | coverage | random block | lift |\n");
    out += "|---|---|---|---|---|---|\n";
    for target in &regions.targets {
        let region = regions.matrices.iter().find(|m| m.target == *target);
        let coverage = regions.coverage.iter().find(|c| c.name == target.name);
        let (rows, cols) = match region {
            Some(m) => (m.rows.len().to_string(), m.cols.len().to_string()),
            None => ("—".to_string(), "—".to_string()),
        };
        let _ = writeln!(
            out,
            "| {} | {rows} / {} | {cols} / {} | {} |",
            target.name,
            target.d_out,
            target.d_in,
            coverage_cells(coverage.map(|c| (c.share, c.random_share)))
        );
    }
    let _ = writeln!(
        out,
        "| **total** ({} adapted) | {} / {} | {} / {} | {} |",
        totals.adapted,
        totals.rows,
        regions.targets.iter().map(|t| t.d_out).sum::<usize>(),
        totals.cols,
        regions.targets.iter().map(|t| t.d_in).sum::<usize>(),
        coverage_cells(totals.coverage)
    );
    out
}

/// `coverage | random | lift` cells, or dashes.
fn coverage_cells(coverage: Option<(f64, f64)>) -> String {
    match coverage {
        Some((share, random)) => {
            let lift = if random > 0.0 {
                format!("{:.1}×", share / random)
            } else {
                "—".to_string()
            };
            format!("{} | {} | {lift}", percent(share), percent(random))
        }
        None => "— | — | —".to_string(),
    }
}

/// A share as a percentage: one decimal from 1% up, more below so small shares stay visible.
pub(crate) fn percent(share: f64) -> String {
    let p = share * 100.0;
    match p {
        p if p >= 1.0 || p == 0.0 => format!("{p:.1}%"),
        p if p >= 0.1 => format!("{p:.2}%"),
        p => format!("{p:.3}%"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use taso_artifact::{MatrixRegion, Target};

    fn regions() -> Regions {
        let target = |name: &str| Target {
            name: name.into(),
            d_out: 4,
            d_in: 2,
        };
        Regions {
            targets: vec![target("a"), target("b")],
            matrices: vec![MatrixRegion {
                target: target("a"),
                rows: vec![0, 3],
                cols: vec![1],
            }],
            rank: 2,
            budget: 10,
            coverage: vec![Coverage {
                name: "a".into(),
                rows: 2,
                cols: 1,
                share: 0.5,
                random_share: 0.25,
            }],
        }
    }

    #[test]
    fn the_table_lists_every_target_and_the_totals() {
        let config = RegionsConfig::default();
        let provenance = Provenance::Scores {
            config: &config,
            estimated: true,
        };
        let pictures = Pictures {
            heatmaps: Some("heatmaps"),
            layer_chart: Some("coverage-by-layer.png"),
        };
        let text = render(&regions(), &provenance, pictures);
        assert!(
            text.contains("| a | 2 / 4 | 1 / 2 | 50.0% | 25.0% | 2.0× |"),
            "{text}"
        );
        assert!(text.contains("| b | — / 4 | — / 2 | — | — | — |"), "{text}");
        assert!(text.contains("| **total** (1 adapted) | 2 / 8 | 1 / 4 | 50.0% | 25.0% | 2.0× |"));
        assert!(text.contains("budget 10 adapter parameters (`budget = lora-r1`); used 6 (60.0%)"));
        assert!(text.contains("**estimated**") && text.contains("heatmaps/<matrix>.png"));
        assert!(text.contains("against random blocks: `coverage-by-layer.png`"));
        let bare = render(&regions(), &provenance, Pictures::default());
        assert!(
            !bare.contains("heat-maps") && !bare.contains("per layer"),
            "{bare}"
        );
    }

    #[test]
    fn small_shares_keep_their_digits() {
        assert_eq!(percent(0.305), "30.5%");
        assert_eq!(percent(0.0016), "0.16%");
        assert_eq!(percent(0.0001), "0.010%");
        assert_eq!(percent(0.0), "0.0%");
    }
}
