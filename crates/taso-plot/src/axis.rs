//! Linear axes with "nice" tick steps (1, 2 or 5 × 10^k) and labels printed to match the step.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// A linear axis: the drawn range `lo..hi` and the step between labelled ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Axis {
    /// Lower end of the drawn range.
    pub lo: f64,
    /// Upper end of the drawn range.
    pub hi: f64,
    /// Distance between labelled ticks.
    pub step: f64,
}

impl Axis {
    /// The axis whose ends are ticks and which covers `min..=max` in about `intervals` steps.
    pub fn covering(min: f64, max: f64, intervals: usize) -> Axis {
        let (min, max) = widen_if_flat(min, max);
        let step = nice_step((max - min) / intervals.max(1) as f64);
        Axis {
            lo: (min / step).floor() * step,
            hi: (max / step).ceil() * step,
            step,
        }
    }

    /// The tick values inside the range, each a multiple of the step.
    pub fn ticks(&self) -> Vec<f64> {
        let first = (self.lo / self.step - 1e-6).ceil() as i64;
        let last = (self.hi / self.step + 1e-6).floor() as i64;
        (first..=last).map(|k| k as f64 * self.step).collect()
    }

    /// How many decimals a tick label needs to tell neighbouring ticks apart.
    pub fn decimals(&self) -> usize {
        (-(self.step.log10() + 1e-9).floor()).max(0.0) as usize
    }

    /// A tick label for `value`.
    pub fn label(&self, value: f64) -> String {
        format!("{value:.*}", self.decimals())
    }
}

/// Plotters draws an [`Axis`] with its own ticks and no minor grid lines.
impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let fraction = (value - self.lo) / (self.hi - self.lo);
        limit.0 + (f64::from(limit.1 - limit.0) * fraction).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() || hint.max_num_points() == 0 {
            Vec::new()
        } else {
            self.ticks()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// Gives a zero-width range some width, so that it can be drawn.
fn widen_if_flat(min: f64, max: f64) -> (f64, f64) {
    if max > min {
        return (min, max);
    }
    let half = if min == 0.0 { 0.5 } else { min.abs() * 0.05 };
    (min - half, max + half)
}

/// The smallest 1, 2 or 5 × 10^k that is at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covering_snaps_the_ends_to_nice_ticks() {
        let axis = Axis::covering(0.473, 0.531, 5);
        assert_eq!(axis.step, 0.02);
        assert!((axis.lo - 0.46).abs() < 1e-12 && (axis.hi - 0.54).abs() < 1e-12);
        let labels: Vec<_> = axis.ticks().iter().map(|t| axis.label(*t)).collect();
        assert_eq!(labels, ["0.46", "0.48", "0.50", "0.52", "0.54"]);
    }

    #[test]
    fn flat_and_large_ranges_get_sensible_steps() {
        let flat = Axis::covering(3.0, 3.0, 4);
        assert!(flat.lo < 3.0 && flat.hi > 3.0);
        let large = Axis::covering(0.0, 870.0, 5);
        assert_eq!((large.step, large.decimals()), (200.0, 0));
        assert_eq!(large.ticks().last(), Some(&1000.0));
    }
}
