//! The method comparison chart: one bar per method, mean ± std.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::axis::Axis;
use crate::render::{render_png, series_color, Area, FONT, GRID, MUTED};
use crate::PlotError;

/// One bar of [`method_bars`]: a method's score aggregated over `n` runs.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodBar {
    /// The method's name, printed under its bar (wrapped onto two lines when long).
    pub method: String,
    /// The bar's height: the mean score over the runs.
    pub mean: f64,
    /// The standard deviation over the runs, drawn as a ±std error bar when `n >= 2`.
    pub std: f64,
    /// How many runs the mean is over.
    pub n: usize,
}

/// Image size of [`method_bars`] charts, in pixels.
const SIZE: (u32, u32) = (900, 500);
/// The margin around a bar chart, in pixels.
pub(crate) const MARGIN: u32 = 15;
/// The width of the value axis' labels and title, in pixels.
pub(crate) const Y_LABEL_AREA: u32 = 80;
/// Font sizes tried for method names before the smallest one, largest first.
const NAME_FONTS: [u32; 2] = [16, 14];
/// The smallest font size for method names, used when no larger one fits.
const NAME_FONT_SMALLEST: u32 = 12;
/// Font size of the "n=…" line under each name.
const NOTE_FONT: u32 = 12;

/// Draws one bar per method, in the given order, to the PNG file `path`.
///
/// Each bar's height is the method's mean, with a ±std error bar when it is over two or more
/// runs (`n >= 2`), and the mean printed above it; under each name a grey line gives `n` and the
/// std. The y axis, labelled `metric`, is zoomed on the bars to show their differences: when it
/// does not start at 0 its label says where it starts. Errors when `bars` is empty, when a value
/// is NaN or infinite, or when a std is negative.
pub fn method_bars(
    path: &Path,
    title: &str,
    metric: &str,
    bars: &[MethodBar],
) -> Result<(), PlotError> {
    check_bars(bars)?;
    let y = ValueAxis::for_bars(bars);
    render_png(path, SIZE, |root| draw_chart(root, title, metric, bars, &y))
}

/// Refuses what cannot be drawn: no bars, non-finite values, negative std.
fn check_bars(bars: &[MethodBar]) -> Result<(), PlotError> {
    if bars.is_empty() {
        return Err(PlotError::Empty("no method bars".into()));
    }
    for bar in bars {
        if !bar.mean.is_finite() || !bar.std.is_finite() {
            return Err(PlotError::NonFinite {
                item: format!("method `{}`", bar.method),
            });
        }
        if bar.std < 0.0 {
            return Err(PlotError::NegativeStd {
                item: format!("method `{}`", bar.method),
                std: bar.std,
            });
        }
    }
    Ok(())
}

/// Half the error bar's length: the std when it is over two runs or more, else nothing.
fn error_half(bar: &MethodBar) -> f64 {
    if bar.n >= 2 {
        bar.std
    } else {
        0.0
    }
}

/// The y axis of a bar chart and the baseline the bars grow from.
pub(crate) struct ValueAxis {
    pub(crate) axis: Axis,
    /// 0 when the axis shows it, else the end of the axis nearest to 0.
    pub(crate) baseline: f64,
}

impl ValueAxis {
    /// Zooms on the bars and their error bars, with room at the ends for the value labels (see
    /// [`ValueAxis::for_range`]).
    fn for_bars(bars: &[MethodBar]) -> ValueAxis {
        let low = bars
            .iter()
            .map(|b| b.mean - error_half(b))
            .fold(f64::INFINITY, f64::min);
        let high = bars
            .iter()
            .map(|b| b.mean + error_half(b))
            .fold(f64::NEG_INFINITY, f64::max);
        ValueAxis::for_range(low, high)
    }

    /// Zooms on the values `low..=high`, with room at the ends. 0 is kept in view when the
    /// spread is at least the values' distance from 0, or when `low == high`.
    pub(crate) fn for_range(low: f64, high: f64) -> ValueAxis {
        let distance_to_zero = low.max(-high).max(0.0);
        let (low, high) = if distance_to_zero <= high - low || low == high {
            (low.min(0.0), high.max(0.0))
        } else {
            (low, high)
        };
        let room = 0.15 * (high - low);
        let pad = |end: f64, by: f64| if end == 0.0 { 0.0 } else { end + by };
        let axis = Axis::covering(pad(low, -room), pad(high, room), 6);
        ValueAxis {
            axis,
            baseline: 0f64.clamp(axis.lo, axis.hi),
        }
    }

    /// The axis title: the metric, and where the bars start when that is not 0.
    pub(crate) fn title(&self, metric: &str) -> String {
        if self.baseline == 0.0 {
            metric.to_string()
        } else if self.baseline > 0.0 {
            format!(
                "{metric}  (axis starts at {}, not 0)",
                self.axis.label(self.baseline)
            )
        } else {
            format!(
                "{metric}  (axis stops at {}, not 0)",
                self.axis.label(self.baseline)
            )
        }
    }

    /// A bar's value label: one more decimal than the ticks.
    fn value_label(&self, value: f64) -> String {
        format!("{value:.*}", self.axis.decimals() + 1)
    }
}

/// Draws the whole bar chart on `root`.
fn draw_chart(
    root: &Area<'_>,
    title: &str,
    metric: &str,
    bars: &[MethodBar],
    y: &ValueAxis,
) -> Result<(), PlotError> {
    let labels = NameLayout::fit(root, bars, y)?;
    let mut chart = slot_chart(root, title, metric, bars.len(), labels.height(), y)?;
    draw_baseline(&mut chart, bars.len(), y)?;
    for (i, bar) in bars.iter().enumerate() {
        draw_bar(&mut chart, i, bar, y)?;
        let (x, bottom) = chart.backend_coord(&(i as f64, y.axis.lo));
        labels.draw(root, i, (x, bottom + 6))?;
    }
    Ok(())
}

/// The chart type the bars are drawn on.
pub(crate) type BarChart<'a> =
    ChartContext<'a, BitMapBackend<'a>, Cartesian2d<RangedCoordf64, Axis>>;

/// A chart of `slots` slots along x (slot `i` centred on `i`), with its caption (in a smaller
/// font where a long one would not fit the width), the value axis `y` labelled with `metric`, no
/// x labels (the caller draws its own in the `label_height` pixels under the axis) and
/// horizontal grid lines.
pub(crate) fn slot_chart<'a>(
    area: &Area<'a>,
    title: &str,
    metric: &str,
    slots: usize,
    label_height: u32,
    y: &ValueAxis,
) -> Result<BarChart<'a>, PlotError> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, caption_size(area, title)?))
        .margin(MARGIN)
        .x_label_area_size(label_height)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(-0.5..slots as f64 - 0.5, y.axis)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .bold_line_style(GRID)
        .y_desc(y.title(metric))
        .y_label_formatter(&|v| y.axis.label(*v))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()?;
    Ok(chart)
}

/// Draws the line the bars grow from, unless it is the x axis itself.
fn draw_baseline(chart: &mut BarChart<'_>, count: usize, y: &ValueAxis) -> Result<(), PlotError> {
    if y.baseline > y.axis.lo {
        let line = [(-0.5, y.baseline), (count as f64 - 0.5, y.baseline)];
        chart.draw_series([PathElement::new(line, MUTED.stroke_width(1))])?;
    }
    Ok(())
}

/// Draws bar `i`: its rectangle, its error bar and its value label.
fn draw_bar(
    chart: &mut BarChart<'_>,
    i: usize,
    bar: &MethodBar,
    y: &ValueAxis,
) -> Result<(), PlotError> {
    let x = i as f64;
    let color = series_color(i);
    let body = Rectangle::new(
        [(x - 0.32, y.baseline), (x + 0.32, bar.mean)],
        color.filled(),
    );
    chart.draw_series([body])?;
    let half = error_half(bar);
    if half > 0.0 {
        draw_whisker(chart, x, (bar.mean - half, bar.mean + half), 0.08)?;
    }
    let upward = bar.mean >= y.baseline;
    let (tip, offset, vpos) = if upward {
        (bar.mean + half, -5, VPos::Bottom)
    } else {
        (bar.mean - half, 5, VPos::Top)
    };
    let style = TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Center, vpos));
    let label = EmptyElement::at((x, tip)) + Text::new(y.value_label(bar.mean), (0, offset), style);
    chart.draw_series([label])?;
    Ok(())
}

/// Draws an error bar at `x` from `low` to `high` with caps `cap` wide on each side.
pub(crate) fn draw_whisker(
    chart: &mut BarChart<'_>,
    x: f64,
    (low, high): (f64, f64),
    cap: f64,
) -> Result<(), PlotError> {
    let ink = BLACK.stroke_width(2);
    let caps = [low, high].map(|v| PathElement::new([(x - cap, v), (x + cap, v)], ink));
    chart.draw_series([PathElement::new([(x, low), (x, high)], ink)])?;
    chart.draw_series(caps)?;
    Ok(())
}

/// The text under each bar: its method name (one or two lines, one font size for all) and a
/// grey note of its run count and std (one line, or two when the slot is narrow).
struct NameLayout {
    size: u32,
    names: Vec<Vec<String>>,
    notes: Vec<Vec<String>>,
}

impl NameLayout {
    /// The largest font size at which every name fits its bar's slot, wrapping long names onto
    /// two lines; at the smallest size the names are wrapped whether they fit or not.
    fn fit(root: &Area<'_>, bars: &[MethodBar], y: &ValueAxis) -> Result<NameLayout, PlotError> {
        let slot = (SIZE.0 - 2 * MARGIN - Y_LABEL_AREA) / bars.len() as u32;
        let max_width = slot.saturating_sub(6);
        let notes = bars
            .iter()
            .map(|bar| note_lines(root, bar, y, max_width))
            .collect::<Result<_, _>>()?;
        let names_at = |size| {
            bars.iter()
                .map(|bar| wrap_to_width(root, &bar.method, size, max_width))
                .collect::<Result<Vec<_>, _>>()
        };
        for size in NAME_FONTS {
            let names = names_at(size)?;
            if widest(root, &names, size)? <= max_width {
                return Ok(NameLayout { size, names, notes });
            }
        }
        let size = NAME_FONT_SMALLEST;
        Ok(NameLayout {
            size,
            names: names_at(size)?,
            notes,
        })
    }

    /// The pixel height of the area under the x axis that the names and notes need.
    fn height(&self) -> u32 {
        let note_rows = self.notes.iter().map(Vec::len).max().unwrap_or(1) as u32;
        8 + self.note_offset() + note_rows * (NOTE_FONT + 3) + 8
    }

    /// How far below the top of a name its note goes: under the tallest name, so that all the
    /// notes line up.
    fn note_offset(&self) -> u32 {
        let rows = self.names.iter().map(Vec::len).max().unwrap_or(1) as u32;
        rows * (self.size + 4) + 2
    }

    /// Draws bar `i`'s name, then its note, centred below `top` (in pixels).
    fn draw(&self, root: &Area<'_>, i: usize, top: (i32, i32)) -> Result<(), PlotError> {
        let anchor = Pos::new(HPos::Center, VPos::Top);
        let name_style = TextStyle::from((FONT, self.size).into_font()).pos(anchor);
        let note_style = TextStyle::from((FONT, NOTE_FONT).into_font())
            .color(&MUTED)
            .pos(anchor);
        for (row, line) in self.names[i].iter().enumerate() {
            let y = top.1 + row as i32 * (self.size as i32 + 4);
            root.draw(&Text::new(line.as_str(), (top.0, y), name_style.clone()))?;
        }
        for (row, line) in self.notes[i].iter().enumerate() {
            let y = top.1 + (self.note_offset() + row as u32 * (NOTE_FONT + 3)) as i32;
            root.draw(&Text::new(line.as_str(), (top.0, y), note_style.clone()))?;
        }
        Ok(())
    }
}

/// The widest of these lines at font `size`, in pixels.
fn widest(root: &Area<'_>, lines: &[Vec<String>], size: u32) -> Result<u32, PlotError> {
    lines.iter().flatten().try_fold(0, |widest, line| {
        Ok(widest.max(text_width(root, line, size)?))
    })
}

/// A bar's note: "n=…" and, when there is an error bar, "sd=…", side by side when they fit
/// `max_width`, else on two lines.
fn note_lines(
    root: &Area<'_>,
    bar: &MethodBar,
    y: &ValueAxis,
    max_width: u32,
) -> Result<Vec<String>, PlotError> {
    let runs = format!("n={}", bar.n);
    if bar.n < 2 {
        return Ok(vec![runs]);
    }
    let sd = format!("sd={}", y.value_label(bar.std));
    let one_line = format!("{runs}  {sd}");
    if text_width(root, &one_line, NOTE_FONT)? <= max_width {
        Ok(vec![one_line])
    } else {
        Ok(vec![runs, sd])
    }
}

/// The caption's font size: 22, or smaller (down to 12) until `title` fits `area`'s width.
fn caption_size(area: &Area<'_>, title: &str) -> Result<u32, PlotError> {
    let room = area.dim_in_pixel().0.saturating_sub(2 * MARGIN);
    for size in (13..=22).rev() {
        if text_width(area, title, size)? <= room {
            return Ok(size);
        }
    }
    Ok(12)
}

/// The pixel width of `text` at font `size`.
pub(crate) fn text_width(root: &Area<'_>, text: &str, size: u32) -> Result<u32, PlotError> {
    let style = TextStyle::from((FONT, size).into_font());
    Ok(root.estimate_text_size(text, &style)?.0)
}

/// `name` on one line when it fits `max_width` at font `size`, else split in two (see
/// [`split_name`]).
pub(crate) fn wrap_to_width(
    root: &Area<'_>,
    name: &str,
    size: u32,
    max_width: u32,
) -> Result<Vec<String>, PlotError> {
    if text_width(root, name, size)? <= max_width {
        return Ok(vec![name.to_string()]);
    }
    let (first, second) = split_name(name);
    Ok(vec![first, second])
}

/// Splits a name in two lines of similar length: after a `_`, `-`, `/`, `+` or `.`, or at a
/// space (dropped); a name without any of those is cut in the middle.
pub(crate) fn split_name(name: &str) -> (String, String) {
    let chars: Vec<char> = name.chars().collect();
    let cut = (1..chars.len())
        .filter(|&i| chars[i] == ' ' || "_-/+.".contains(chars[i - 1]))
        .min_by_key(|&i| i.max(chars.len() - i))
        .unwrap_or(chars.len() / 2);
    let first: String = chars[..cut].iter().collect();
    let second: String = chars[cut..].iter().collect();
    (
        first.trim_end().to_string(),
        second.trim_start().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(method: &str, mean: f64, std: f64, n: usize) -> MethodBar {
        MethodBar {
            method: method.into(),
            mean,
            std,
            n,
        }
    }

    #[test]
    fn split_name_prefers_separators_near_the_middle() {
        assert_eq!(
            split_name("taso_rank8_seed"),
            ("taso_".into(), "rank8_seed".into())
        );
        assert_eq!(
            split_name("full fine-tune"),
            ("full".into(), "fine-tune".into())
        );
        assert_eq!(split_name("abcdef"), ("abc".into(), "def".into()));
    }

    #[test]
    fn close_scores_get_a_zoomed_axis_that_says_where_it_starts() {
        let y = ValueAxis::for_bars(&[bar("a", 0.52, 0.01, 3), bar("b", 0.48, 0.0, 1)]);
        assert!(y.axis.lo > 0.4 && y.axis.lo <= 0.48, "{:?}", y.axis);
        assert_eq!(y.baseline, y.axis.lo);
        assert!(y.title("accuracy").contains("axis starts at"));
    }

    #[test]
    fn spread_out_scores_keep_zero_in_view() {
        let y = ValueAxis::for_bars(&[bar("a", 0.9, 0.0, 1), bar("b", 0.3, 0.0, 1)]);
        assert_eq!((y.axis.lo, y.baseline), (0.0, 0.0));
        assert_eq!(y.title("accuracy"), "accuracy");
        let negative = ValueAxis::for_bars(&[bar("a", -0.2, 0.0, 1), bar("b", -0.5, 0.0, 1)]);
        assert_eq!((negative.axis.hi, negative.baseline), (0.0, 0.0));
    }

    #[test]
    fn a_single_bar_grows_from_zero() {
        let y = ValueAxis::for_bars(&[bar("only", 0.527, 0.0, 1)]);
        assert_eq!((y.axis.lo, y.baseline), (0.0, 0.0));
        assert!(y.axis.hi > 0.527);
    }

    #[test]
    fn a_caption_too_long_for_the_width_gets_a_smaller_font() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("caption.png");
        crate::render::render_png(&path, (400, 100), |area| {
            assert_eq!(caption_size(area, "short")?, 22);
            let long = "a caption far too long to fit in four hundred pixels at 22";
            let size = caption_size(area, long)?;
            assert!(size < 22, "{size}");
            assert!(size == 12 || text_width(area, long, size)? <= 400 - 2 * MARGIN);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn checks_name_the_bad_method() {
        let err = check_bars(&[bar("ok", 0.5, 0.0, 1), bar("broken", f64::NAN, 0.0, 1)]);
        assert!(err.unwrap_err().to_string().contains("`broken`"));
        let err = check_bars(&[bar("neg", 0.5, -0.1, 2)]).unwrap_err();
        assert!(matches!(err, PlotError::NegativeStd { .. }), "{err}");
        assert!(matches!(check_bars(&[]), Err(PlotError::Empty(_))));
    }
}
