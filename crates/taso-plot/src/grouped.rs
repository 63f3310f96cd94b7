//! Grouped bars: for each group (e.g. a matrix type) one bar per series (e.g. "without it" and
//! "it alone"), optionally with ± whiskers, and dashed reference lines across the chart (e.g. the
//! whole adapter and none).

use std::path::Path;

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::bars::{
    draw_whisker, slot_chart, split_name, text_width, wrap_to_width, BarChart, ValueAxis, MARGIN,
    Y_LABEL_AREA,
};
use crate::render::{render_png, series_color, Area, FONT, MUTED};
use crate::PlotError;

/// One group of [`grouped_bars`]: its label under the x axis and one value per series.
#[derive(Debug, Clone, PartialEq)]
pub struct BarGroup {
    /// Printed under the group (wrapped onto two lines when long).
    pub label: String,
    /// One bar height per series, in the series' order.
    pub values: Vec<f64>,
    /// Empty, or one spread per series (e.g. a std over seeds), drawn as a ± whisker on its bar
    /// where it is above 0.
    pub spreads: Vec<f64>,
}

/// One series of [`grouped_bars`]: a bar in every group, named in the legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend label, e.g. "it alone".
    pub label: String,
    /// Drawn in grey rather than a colour: a baseline beside the series compared (e.g. the
    /// base model zero-shot), so the eye goes to the others.
    pub muted: bool,
}

impl Series {
    /// A coloured series.
    pub fn new(label: impl Into<String>) -> Self {
        Series {
            label: label.into(),
            muted: false,
        }
    }

    /// A grey series: a baseline.
    pub fn muted(label: impl Into<String>) -> Self {
        Series {
            label: label.into(),
            muted: true,
        }
    }
}

/// Muted series are drawn in these greys, in turn.
const MUTED_FILLS: [RGBColor; 3] = [
    RGBColor(150, 150, 150),
    RGBColor(200, 200, 200),
    RGBColor(105, 105, 105),
];

/// Each series' fill: greys for the muted ones, the palette in turn for the others.
fn fills(series: &[Series]) -> Vec<RGBColor> {
    let (mut muted, mut coloured) = (0, 0);
    series
        .iter()
        .map(|s| {
            if s.muted {
                muted += 1;
                MUTED_FILLS[(muted - 1) % MUTED_FILLS.len()]
            } else {
                coloured += 1;
                series_color(coloured - 1)
            }
        })
        .collect()
}

/// A dashed horizontal line across a [`grouped_bars`] chart, named in the legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The legend label, e.g. "whole adapter".
    pub label: String,
    /// Where the line is drawn.
    pub value: f64,
}

/// Image size of [`grouped_bars`] charts, in pixels.
const SIZE: (u32, u32) = (1000, 500);
/// Width of the legend column at the right.
const LEGEND_WIDTH: u32 = 210;
const GROUP_FONT: u32 = 14;
/// The share of a group's slot its bars fill.
const GROUP_FILL: f64 = 0.8;

/// Reference lines are drawn in these greys and blacks, in turn, so that they stand apart from
/// the coloured bars.
const REFERENCE_INKS: [RGBColor; 3] = [BLACK, MUTED, RGBColor(170, 170, 170)];

/// Draws `groups` of bars, one bar per entry of `series` in each, to the PNG file `path`
/// (1000 × 500), with the groups' spreads as whiskers, the `references` as dashed lines and a
/// legend at the right naming the series and the lines. The y axis, labelled `metric`, is zoomed
/// on the values and whiskers as [`method_bars`](crate::method_bars)' is. Errors when there are
/// no groups or no series, when a group has not one value (and, if any, one spread) per series,
/// when a value or spread is NaN or infinite, or when a spread is negative.
pub fn grouped_bars(
    path: &Path,
    title: &str,
    metric: &str,
    series: &[Series],
    groups: &[BarGroup],
    references: &[Reference],
) -> Result<(), PlotError> {
    check(series, groups, references)?;
    let fills = fills(series);
    let ends = groups
        .iter()
        .flat_map(|g| (0..g.values.len()).map(|i| (g.values[i], g.spread(i))))
        .flat_map(|(value, spread)| [value - spread, value + spread])
        .chain(references.iter().map(|r| r.value));
    let (low, high) = ends.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let y = ValueAxis::for_range(low, high);
    render_png(path, SIZE, |root| {
        let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
        draw_bars(&plot, title, metric, groups, &fills, references, &y)?;
        draw_legend(&legend, series, &fills, references)
    })
}

/// Refuses what cannot be drawn.
fn check(
    series: &[Series],
    groups: &[BarGroup],
    references: &[Reference],
) -> Result<(), PlotError> {
    if groups.is_empty() || series.is_empty() {
        return Err(PlotError::Empty("no bar groups or no series".into()));
    }
    for group in groups {
        if group.values.len() != series.len() {
            return Err(PlotError::SeriesCount {
                group: group.label.clone(),
                values: group.values.len(),
                series: series.len(),
            });
        }
        if !group.spreads.is_empty() && group.spreads.len() != series.len() {
            return Err(PlotError::SeriesCount {
                group: format!("{} (spreads)", group.label),
                values: group.spreads.len(),
                series: series.len(),
            });
        }
        if group
            .values
            .iter()
            .chain(&group.spreads)
            .any(|v| !v.is_finite())
        {
            return Err(PlotError::NonFinite {
                item: format!("group `{}`", group.label),
            });
        }
        if let Some(&std) = group.spreads.iter().find(|s| **s < 0.0) {
            return Err(PlotError::NegativeStd {
                item: format!("group `{}`", group.label),
                std,
            });
        }
    }
    match references.iter().find(|r| !r.value.is_finite()) {
        Some(r) => Err(PlotError::NonFinite {
            item: format!("reference line `{}`", r.label),
        }),
        None => Ok(()),
    }
}

/// Draws the axes, the bars, the reference lines and the group labels on `area`.
fn draw_bars(
    area: &Area<'_>,
    title: &str,
    metric: &str,
    groups: &[BarGroup],
    fills: &[RGBColor],
    references: &[Reference],
    y: &ValueAxis,
) -> Result<(), PlotError> {
    let slot = (SIZE.0 - LEGEND_WIDTH - 2 * MARGIN - Y_LABEL_AREA) / groups.len() as u32;
    let labels = group_labels(area, groups, slot.saturating_sub(16))?;
    let rows = labels.iter().map(Vec::len).max().unwrap_or(1) as u32;
    let label_height = 12 + rows * (GROUP_FONT + 4);
    let mut chart = slot_chart(area, title, metric, groups.len(), label_height, y)?;
    for (g, group) in groups.iter().enumerate() {
        draw_group(&mut chart, g, group, fills, y)?;
        let (x, bottom) = chart.backend_coord(&(g as f64, y.axis.lo));
        draw_label(area, &labels[g], (x, bottom + 8))?;
    }
    for (i, reference) in references.iter().enumerate() {
        let line = [
            (-0.5, reference.value),
            (groups.len() as f64 - 0.5, reference.value),
        ];
        let ink = REFERENCE_INKS[i % REFERENCE_INKS.len()].stroke_width(2);
        chart.draw_series([DashedPathElement::new(line, 8, 5, ink)])?;
    }
    Ok(())
}

/// The groups' labels, each on one line when all fit `max_width` at the group font, else each
/// split in two (alike labels wrap alike).
fn group_labels(
    area: &Area<'_>,
    groups: &[BarGroup],
    max_width: u32,
) -> Result<Vec<Vec<String>>, PlotError> {
    let mut fits = true;
    for group in groups {
        fits &= text_width(area, &group.label, GROUP_FONT)? <= max_width;
    }
    Ok(groups
        .iter()
        .map(|g| match fits {
            true => vec![g.label.clone()],
            false => {
                let (first, second) = split_name(&g.label);
                vec![first, second]
            }
        })
        .collect())
}

impl BarGroup {
    /// Series `i`'s spread: 0 where the group has none.
    fn spread(&self, i: usize) -> f64 {
        self.spreads.get(i).copied().unwrap_or(0.0)
    }
}

/// Draws group `g`'s bars side by side in its slot, each with its whisker.
fn draw_group(
    chart: &mut BarChart<'_>,
    g: usize,
    group: &BarGroup,
    fills: &[RGBColor],
    y: &ValueAxis,
) -> Result<(), PlotError> {
    let width = GROUP_FILL / group.values.len() as f64;
    let left = g as f64 - GROUP_FILL / 2.0;
    let bars = group.values.iter().enumerate().map(|(i, &value)| {
        let x = left + i as f64 * width;
        let corners = [(x + 0.06 * width, y.baseline), (x + 0.94 * width, value)];
        Rectangle::new(corners, fills[i].filled())
    });
    chart.draw_series(bars)?;
    for (i, &value) in group.values.iter().enumerate() {
        let half = group.spread(i);
        if half > 0.0 {
            let x = left + (i as f64 + 0.5) * width;
            draw_whisker(chart, x, (value - half, value + half), 0.15 * width)?;
        }
    }
    Ok(())
}

/// Draws a group's label lines, centred below `top` (in pixels).
fn draw_label(area: &Area<'_>, lines: &[String], top: (i32, i32)) -> Result<(), PlotError> {
    let style =
        TextStyle::from((FONT, GROUP_FONT).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (row, line) in lines.iter().enumerate() {
        let y = top.1 + row as i32 * (GROUP_FONT as i32 + 4);
        area.draw(&Text::new(line.as_str(), (top.0, y), style.clone()))?;
    }
    Ok(())
}

/// The legend column: a swatch per series, then a dashed line per reference, each with its
/// label (wrapped onto two lines when long).
fn draw_legend(
    area: &Area<'_>,
    series: &[Series],
    fills: &[RGBColor],
    references: &[Reference],
) -> Result<(), PlotError> {
    let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let label_width = LEGEND_WIDTH - 50;
    let mut top = 70;
    let mut entry = |label: &str, mark: &dyn Fn(i32) -> Result<(), PlotError>| {
        let lines = wrap_to_width(area, label, 14, label_width)?;
        let middle = top + 9 * (lines.len() as i32 - 1);
        mark(middle)?;
        for (row, line) in lines.iter().enumerate() {
            let y = top + row as i32 * 18;
            area.draw(&Text::new(line.as_str(), (40, y), style.clone()))?;
        }
        top += 18 * lines.len() as i32 + 10;
        Ok::<(), PlotError>(())
    };
    for (s, fill) in series.iter().zip(fills) {
        entry(&s.label, &|y| {
            let swatch = Rectangle::new([(10, y - 7), (30, y + 7)], fill.filled());
            Ok(area.draw(&swatch)?)
        })?;
    }
    for (i, reference) in references.iter().enumerate() {
        let ink = REFERENCE_INKS[i % REFERENCE_INKS.len()].stroke_width(2);
        entry(&reference.label, &|y| {
            Ok(area.draw(&DashedPathElement::new([(6, y), (34, y)], 8, 5, ink))?)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(label: &str, values: &[f64]) -> BarGroup {
        BarGroup {
            label: label.into(),
            values: values.to_vec(),
            spreads: Vec::new(),
        }
    }

    #[test]
    fn muted_series_are_grey_and_the_others_keep_the_palette_in_turn() {
        let series = [
            Series::muted("zero-shot"),
            Series::new("taso"),
            Series::muted("majority"),
            Series::new("lora"),
        ];
        assert_eq!(
            fills(&series),
            [
                MUTED_FILLS[0],
                series_color(0),
                MUTED_FILLS[1],
                series_color(1)
            ]
        );
    }

    #[test]
    fn checks_name_the_bad_group_or_line() {
        let series = [Series::new("without"), Series::new("alone")];
        let err = check(&series, &[group("q", &[0.5])], &[]).unwrap_err();
        assert!(
            matches!(&err, PlotError::SeriesCount { group, values: 1, series: 2 } if group == "q"),
            "{err}"
        );
        let err = check(&series, &[group("k", &[0.5, f64::NAN])], &[]).unwrap_err();
        assert!(err.to_string().contains("group `k`"), "{err}");
        let line = Reference {
            label: "none".into(),
            value: f64::INFINITY,
        };
        let err = check(&series, &[group("v", &[0.5, 0.6])], &[line]).unwrap_err();
        assert!(err.to_string().contains("reference line `none`"), "{err}");
        let spread = |spreads: &[f64]| BarGroup {
            spreads: spreads.to_vec(),
            ..group("up", &[0.5, 0.6])
        };
        let err = check(&series, &[spread(&[0.1])], &[]).unwrap_err();
        assert!(err.to_string().contains("up (spreads)"), "{err}");
        let err = check(&series, &[spread(&[0.1, -0.1])], &[]).unwrap_err();
        assert!(matches!(err, PlotError::NegativeStd { .. }), "{err}");
        let err = check(&series, &[spread(&[0.1, f64::NAN])], &[]).unwrap_err();
        assert!(err.to_string().contains("group `up`"), "{err}");
        assert!(check(&series, &[spread(&[0.1, 0.0])], &[]).is_ok());
        assert!(matches!(check(&series, &[], &[]), Err(PlotError::Empty(_))));
        assert!(matches!(
            check(&[], &[group("o", &[])], &[]),
            Err(PlotError::Empty(_))
        ));
    }
}
