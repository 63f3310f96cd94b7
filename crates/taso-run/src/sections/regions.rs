//! The `[regions]` section of a run config: every knob of stage 2 with its default
//! (`docs/method.md`, stage 2).
//!
//! ```toml
//! [regions]
//! core_fraction = 0.01        # top 1% of all entries are "core"
//! normalize = "none"          # or "matrix-mean"
//! row_score = "core-count"    # or "marginal"
//! col_score = "core-count"
//! budget = "lora-r1"          # or "lora-r8", 120000, { multiple = 2.5 }
//! rank = 8
//! allocation = "uniform"      # or "global", "random"
//! shape = "block"             # or "rows", "columns" (uniform and random allocation)
//! min_rows = 1                # global only
//! min_cols = 1                # global only
//! heatmaps = true
//! ```

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use crate::error::ConfigError;
use taso_artifact::Target;

/// Stage 2 settings; the `[regions]` section of a run config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegionsConfig {
    /// Share of all target-matrix entries, ranked together across matrices, that count as core
    /// entries; in (0, 1]. Default 0.01.
    pub core_fraction: f64,
    /// How entries of different matrices are made comparable before ranking. Default `none`.
    pub normalize: Normalize,
    /// How a row is scored. Default `core-count`.
    pub row_score: LineRule,
    /// How a column is scored. Default `core-count`.
    pub col_score: LineRule,
    /// The adapter parameter budget P. Default `"lora-r1"`.
    pub budget: Budget,
    /// Sparse LoRA rank r; every kept row or column costs r parameters. Default 8.
    pub rank: usize,
    /// How the budget is split across matrices. Default `uniform`.
    pub allocation: Allocation,
    /// Which lines are selected: a block of rows and columns, or rows (columns) only with every
    /// column (row) kept. Default `block`.
    pub shape: Shape,
    /// Fewest rows an adapted matrix keeps under `global` allocation. Default 1.
    pub min_rows: usize,
    /// Fewest columns an adapted matrix keeps under `global` allocation. Default 1.
    pub min_cols: usize,
    /// Whether to draw importance heat-maps (PNG, `heatmaps/` in the run folder). Default true.
    pub heatmaps: bool,
}

impl Default for RegionsConfig {
    fn default() -> Self {
        Self {
            core_fraction: 0.01,
            normalize: Normalize::None,
            row_score: LineRule::CoreCount,
            col_score: LineRule::CoreCount,
            budget: Budget::LoraRank(1),
            rank: 8,
            allocation: Allocation::Uniform,
            shape: Shape::Block,
            min_rows: 1,
            min_cols: 1,
            heatmaps: true,
        }
    }
}

/// `normalize`: whether each matrix's scores are divided by their mean before matrices are
/// compared (core-entry ranking, marginal line scores, global allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalize {
    /// Raw scores: matrices with larger scores win more.
    None,
    /// Scores divided by the matrix's mean score: every matrix has mean 1.
    MatrixMean,
}

/// `row_score` / `col_score`: what a row's (column's) score is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineRule {
    /// The number of core entries in the line; ties broken by the marginal. Needs full scores.
    CoreCount,
    /// The line's marginal (sum of its scores).
    Marginal,
}

/// `allocation`: how the budget is split across matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Allocation {
    /// Every matrix keeps the same fraction of its rows and of its columns (the best-scored).
    Uniform,
    /// All rows and columns of all matrices compete on one scale; `min_rows`/`min_cols` per
    /// adapted matrix; a matrix that wins nothing is not adapted.
    Global,
    /// The sizes `uniform` would give, rows and columns drawn at random (seeded by
    /// `run.seed`): the ablation.
    Random,
}

/// `shape`: which lines of a matrix the selection chooses; the other axis is kept whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// Rows and columns (the method): the adapter lives on the `R × C` block.
    Block,
    /// Rows only: the adapter lives on rows `R` across every column (`A` spans all of `d_in`).
    Rows,
    /// Columns only: the adapter lives on columns `C` across every row (`B` spans all of `d_out`).
    Columns,
}

impl Shape {
    /// Whether the rows (`true`) and columns (`false`) are selected or kept whole.
    pub fn selects(self) -> (bool, bool) {
        match self {
            Shape::Block => (true, true),
            Shape::Rows => (true, false),
            Shape::Columns => (false, true),
        }
    }
}

/// `budget`: the adapter parameter budget P, `Σ_ℓ r (|R_ℓ| + |C_ℓ|) ≤ P`.
///
/// In TOML: `"lora-r1"` (default; `P = Σ_ℓ (d_out + d_in)`, a dense rank-1 LoRA on the same
/// targets), `"lora-r<k>"` (k times that), a bare integer (an absolute parameter count), or
/// `{ multiple = x }` (x times the rank-1 budget, x may be fractional).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// The parameters of a dense rank-k LoRA on the targets: `k Σ (d_out + d_in)`.
    LoraRank(usize),
    /// An absolute parameter count.
    Absolute(usize),
    /// A multiple of the dense rank-1 budget (rounded down).
    Multiple(f64),
}

impl Budget {
    /// P for these target matrices.
    pub fn resolve(&self, targets: &[Target]) -> usize {
        let rank1: usize = targets.iter().map(|t| t.d_out + t.d_in).sum();
        match *self {
            Budget::LoraRank(k) => k.saturating_mul(rank1),
            Budget::Absolute(n) => n,
            // Float to integer casts saturate; `validate` keeps x finite and positive.
            Budget::Multiple(x) => (x * rank1 as f64).floor() as usize,
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::LoraRank(k) => write!(f, "lora-r{k}"),
            Budget::Absolute(n) => write!(f, "{n}"),
            Budget::Multiple(x) => write!(f, "{{ multiple = {x} }}"),
        }
    }
}

impl Serialize for Budget {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match *self {
            Budget::LoraRank(k) => serializer.serialize_str(&format!("lora-r{k}")),
            Budget::Absolute(n) => serializer.serialize_u64(n as u64),
            Budget::Multiple(x) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("multiple", &x)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Budget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BudgetVisitor)
    }
}

struct BudgetVisitor;

impl<'de> Visitor<'de> for BudgetVisitor {
    type Value = Budget;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "\"lora-r1\" (or \"lora-r<k>\"), a parameter count like 120000, or { multiple = 2.5 }",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Budget, E> {
        v.strip_prefix("lora-r")
            .and_then(|k| k.parse().ok())
            .map(Budget::LoraRank)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Budget, E> {
        usize::try_from(v)
            .map(Budget::Absolute)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Budget, E> {
        usize::try_from(v)
            .map(Budget::Absolute)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Budget, A::Error> {
        let mut multiple = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "multiple" || multiple.is_some() {
                return Err(de::Error::invalid_value(de::Unexpected::Str(&key), &self));
            }
            multiple = Some(map.next_value::<f64>()?);
        }
        multiple
            .map(Budget::Multiple)
            .ok_or_else(|| de::Error::missing_field("multiple"))
    }
}

impl RegionsConfig {
    /// Checks every value before any work starts; messages say what to set instead.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| {
            Err(ConfigError::Invalid {
                section: "regions".to_string(),
                message,
            })
        };
        if !(self.core_fraction > 0.0 && self.core_fraction <= 1.0) {
            return invalid(format!(
                "`core_fraction` = {} must be in (0, 1], e.g. 0.01 for the top 1% of entries",
                self.core_fraction
            ));
        }
        if self.rank == 0 {
            return invalid("`rank` must be at least 1 (default 8)".into());
        }
        if self.min_rows == 0 || self.min_cols == 0 {
            return invalid(format!(
                "`min_rows` = {} and `min_cols` = {} must be at least 1: an adapted matrix \
                 needs a row and a column",
                self.min_rows, self.min_cols
            ));
        }
        if self.shape != Shape::Block && self.allocation == Allocation::Global {
            return invalid(format!(
                "`shape` = \"{}\" works with uniform or random allocation; `allocation` = \"global\" \
                 selects rows and columns together (use shape = \"block\")",
                if self.shape == Shape::Rows { "rows" } else { "columns" }
            ));
        }
        match self.budget {
            Budget::LoraRank(0) => {
                invalid("`budget` = \"lora-r0\" is empty; use \"lora-r1\" or more".into())
            }
            Budget::Absolute(0) => {
                invalid("`budget` = 0 is empty; give a positive parameter count".into())
            }
            Budget::Multiple(x) if !(x.is_finite() && x > 0.0) => invalid(format!(
                "`budget` = {{ multiple = {x} }} must be a positive multiple of the rank-1 budget"
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::ResolvedConfig;
    use std::path::Path;

    /// Reads `text` as the `[regions]` section, the way the binary does.
    fn parse(text: &str) -> Result<RegionsConfig, ConfigError> {
        ResolvedConfig::parse(&format!("[regions]\n{text}"), Path::new("test.toml"))?
            .section("regions")
    }

    #[test]
    fn defaults_follow_the_method() {
        let c = parse("").unwrap();
        assert_eq!(c, RegionsConfig::default());
        assert_eq!(c.core_fraction, 0.01);
        assert_eq!(
            (c.rank, c.min_rows, c.min_cols, c.heatmaps),
            (8, 1, 1, true)
        );
        assert_eq!(c.budget, Budget::LoraRank(1));
        c.validate().unwrap();
    }

    #[test]
    fn budget_shapes_parse_and_resolve() {
        let targets = [Target {
            name: "m".into(),
            d_out: 6,
            d_in: 4,
        }];
        for (text, budget, p) in [
            ("budget = \"lora-r1\"", Budget::LoraRank(1), 10),
            ("budget = \"lora-r8\"", Budget::LoraRank(8), 80),
            ("budget = 123", Budget::Absolute(123), 123),
            ("budget = { multiple = 2.5 }", Budget::Multiple(2.5), 25),
        ] {
            let c = parse(text).unwrap();
            assert_eq!(c.budget, budget, "{text}");
            assert_eq!(c.budget.resolve(&targets), p, "{text}");
            let json = serde_json::to_value(&c).unwrap();
            let back: RegionsConfig = serde_json::from_value(json).unwrap();
            assert_eq!(back.budget, budget);
        }
        for bad in [
            "budget = \"lora\"",
            "budget = -3",
            "budget = { times = 2 }",
            "budget = 1.5",
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("lora-r1"), "{bad}: {err}");
        }
    }

    #[test]
    fn enums_are_kebab_case_and_unknown_keys_refused() {
        let c =
            parse("normalize = \"matrix-mean\"\nrow_score = \"marginal\"\nallocation = \"global\"")
                .unwrap();
        assert_eq!(c.normalize, Normalize::MatrixMean);
        assert_eq!(c.row_score, LineRule::Marginal);
        assert_eq!(c.col_score, LineRule::CoreCount);
        assert_eq!(c.allocation, Allocation::Global);
        assert!(parse("cores = 0.1")
            .unwrap_err()
            .to_string()
            .contains("cores"));
    }

    #[test]
    fn bad_values_are_explained() {
        let check = |text: &str, word: &str| {
            let err = parse(text).unwrap().validate().unwrap_err().to_string();
            assert!(
                err.contains("[regions]") && err.contains(word),
                "{text}: {err}"
            );
        };
        check("core_fraction = 0.0", "core_fraction");
        check("core_fraction = 1.5", "core_fraction");
        check("core_fraction = nan", "core_fraction");
        check("rank = 0", "rank");
        check("min_rows = 0", "min_rows");
        check("budget = 0", "budget");
        check("budget = \"lora-r0\"", "budget");
        check("budget = { multiple = -1.0 }", "budget");
    }
}
