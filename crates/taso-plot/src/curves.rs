//! Line charts over a whole-number axis: the two-panel run figure (training loss and dev /
//! hold-out metric per epoch) and the one-panel [`line_chart`] (e.g. a share per layer).

use std::path::Path;

use plotters::element::ComposedElement;
use plotters::prelude::*;

use crate::axis::Axis;
use crate::render::{render_png, series_color, Area, FONT, GRID, MUTED};
use crate::PlotError;

/// One line of [`run_curves`] or [`line_chart`]: `(x, value)` points under a legend label.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The legend label, e.g. "train loss", "dev accuracy", "hold-out accuracy".
    pub label: String,
    /// `(x, value)` points (x an epoch, a layer): they are drawn in order of x.
    pub points: Vec<(f64, f64)>,
}

/// Image size of [`run_curves`] figures, in pixels.
const SIZE: (u32, u32) = (1000, 450);

/// Image size of [`line_chart`] figures, in pixels.
const LINE_CHART_SIZE: (u32, u32) = (900, 500);

/// Draws a run's two-panel figure to the PNG file `path`: training loss per epoch on the left
/// (`loss`, one line per curve), the metric per epoch on the right (`metrics`, one line per
/// curve, e.g. dev and hold-out), with a legend in each panel.
///
/// The best epoch is the one where the first metric curve (the curve the run selects on, e.g.
/// "dev accuracy") is highest, the earliest on a tie: every metric curve gets a `+` mark there
/// and both panels a grey vertical line. `metric_name` labels the metric axis. Errors when
/// `loss` or `metrics` is empty, when a curve has no points, or when a value is NaN or infinite.
pub fn run_curves(
    path: &Path,
    title: &str,
    loss: &[Curve],
    metrics: &[Curve],
    metric_name: &str,
) -> Result<(), PlotError> {
    let loss = sorted_curves("loss", loss)?;
    let metrics = sorted_curves("metric", metrics)?;
    let best_epoch = best_point(&metrics[0]).0;
    let epochs = whole_axis(loss.iter().chain(&metrics));
    let loss_panel = Panel {
        caption: "training loss".into(),
        x_desc: "epoch",
        y_desc: "loss".into(),
        curves: &loss,
        xs: epochs,
        best: Some((best_epoch, None)),
        from_zero: false,
    };
    let best_label = format!(
        "best epoch {} (by {})",
        x_label(best_epoch),
        metrics[0].label
    );
    let metric_panel = Panel {
        caption: format!("{metric_name} per epoch"),
        x_desc: "epoch",
        y_desc: metric_name.into(),
        curves: &metrics,
        xs: epochs,
        best: Some((best_epoch, Some(best_label))),
        from_zero: false,
    };
    render_png(path, SIZE, |root| {
        let body = root.margin(8, 0, 0, 0).titled(title, (FONT, 22))?;
        let (left, right) = body.split_horizontally(SIZE.0 / 2);
        loss_panel.draw(&left)?;
        metric_panel.draw(&right)
    })
}

/// Draws `curves` on one panel to the PNG file `path` (900 × 500): x on a whole-number axis
/// described by `x_desc` (e.g. "layer"), values described by `y_desc` on an axis that reaches
/// zero (shares and counts keep their scale), one line per curve with a legend. Errors when `curves` is empty, when a curve has no points, or when a value is NaN
/// or infinite.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    curves: &[Curve],
) -> Result<(), PlotError> {
    let curves = sorted_curves("line", curves)?;
    let panel = Panel {
        caption: title.into(),
        x_desc,
        y_desc: y_desc.into(),
        curves: &curves,
        xs: whole_axis(curves.iter()),
        best: None,
        from_zero: true,
    };
    render_png(path, LINE_CHART_SIZE, |root| {
        panel.draw(&root.margin(8, 0, 0, 0))
    })
}

/// Checks the curves (`kind` names them in errors) and returns them with points sorted by x.
fn sorted_curves(kind: &str, curves: &[Curve]) -> Result<Vec<Curve>, PlotError> {
    if curves.is_empty() {
        return Err(PlotError::Empty(format!("no {kind} curves")));
    }
    curves.iter().map(sorted_curve).collect()
}

/// Checks one curve and sorts its points by x.
fn sorted_curve(curve: &Curve) -> Result<Curve, PlotError> {
    if curve.points.is_empty() {
        return Err(PlotError::Empty(format!(
            "curve `{}` has no points",
            curve.label
        )));
    }
    if curve
        .points
        .iter()
        .any(|(x, y)| !x.is_finite() || !y.is_finite())
    {
        return Err(PlotError::NonFinite {
            item: format!("curve `{}`", curve.label),
        });
    }
    let mut points = curve.points.clone();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(Curve {
        label: curve.label.clone(),
        points,
    })
}

/// The curve's highest point, the earliest one on a tie.
fn best_point(curve: &Curve) -> (f64, f64) {
    curve
        .points
        .iter()
        .copied()
        .reduce(|best, p| if p.1 > best.1 { p } else { best })
        .expect("curves are checked to have points")
}

/// The x axis of every point of `curves`: whole-number ticks, half a unit of room at each end.
fn whole_axis<'a>(curves: impl Iterator<Item = &'a Curve>) -> Axis {
    let (first, last) = curves
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
    let ticks = Axis::covering(first, last, 8);
    Axis {
        lo: first - 0.5,
        hi: last + 0.5,
        step: ticks.step.max(1.0),
    }
}

/// An x value (an epoch, a layer) as printed: without decimals when it is whole.
fn x_label(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// One panel of the figure.
struct Panel<'a> {
    caption: String,
    x_desc: &'a str,
    y_desc: String,
    curves: &'a [Curve],
    xs: Axis,
    /// The best epoch, where a grey vertical line goes, and the legend label under which the
    /// curves get `+` marks there (no marks without one); `None`: no line, no marks.
    best: Option<(f64, Option<String>)>,
    /// Whether the value axis reaches zero (otherwise it spans the values with a little room).
    from_zero: bool,
}

/// The chart type a panel is drawn on.
type PanelChart<'a> = ChartContext<'a, BitMapBackend<'a>, Cartesian2d<Axis, Axis>>;

impl Panel<'_> {
    /// Draws the panel on `area`: axes, the best-epoch line, the curves, the best-epoch marks
    /// and the legend (the best epoch's line and marks where the panel has them).
    fn draw(&self, area: &Area<'_>) -> Result<(), PlotError> {
        let values = self.value_axis();
        let mut chart = ChartBuilder::on(area)
            .caption(&self.caption, (FONT, 18))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(self.xs, values)?;
        chart
            .configure_mesh()
            .bold_line_style(GRID)
            .x_desc(self.x_desc)
            .y_desc(self.y_desc.as_str())
            .x_label_formatter(&|x| x_label(*x))
            .y_label_formatter(&|y| values.label(*y))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .draw()?;
        if let Some((best, _)) = self.best {
            let line = [(best, values.lo), (best, values.hi)];
            chart.draw_series([PathElement::new(line, MUTED.mix(0.5).stroke_width(1))])?;
        }
        for (i, curve) in self.curves.iter().enumerate() {
            draw_curve(&mut chart, curve, series_color(i))?;
        }
        if let Some((best, Some(label))) = &self.best {
            self.draw_best_marks(&mut chart, *best, label)?;
        }
        draw_legend(&mut chart, self.legend_corner(&values))
    }

    /// The value axis: all points (and zero, when the panel reaches it), with a little room
    /// beyond them; none below a zero the axis was made to reach.
    fn value_axis(&self) -> Axis {
        let values = || {
            self.curves
                .iter()
                .flat_map(|c| c.points.iter().map(|p| p.1))
        };
        let zero = self.from_zero.then_some(0.0);
        let low = values().chain(zero).fold(f64::INFINITY, f64::min);
        let high = values().chain(zero).fold(f64::NEG_INFINITY, f64::max);
        let room = 0.08 * (high - low);
        let below = if self.from_zero && low == 0.0 {
            0.0
        } else {
            room
        };
        Axis::covering(low - below, high + room, 5)
    }

    /// `+` marks on every curve's point at the best epoch, with one legend entry.
    fn draw_best_marks(
        &self,
        chart: &mut PanelChart<'_>,
        best: f64,
        label: &str,
    ) -> Result<(), PlotError> {
        let marks = self
            .curves
            .iter()
            .flat_map(|c| c.points.iter().filter(|p| p.0 == best))
            .map(|&p| plus_mark(p, 9));
        chart
            .draw_series(marks)?
            .label(label)
            .legend(|(x, y)| plus_mark((x + 10, y), 6));
        Ok(())
    }

    /// The plot corner with the fewest points near it, where the legend hides the least.
    fn legend_corner(&self, values: &Axis) -> SeriesLabelPosition {
        let x_mid = (self.xs.lo + self.xs.hi) / 2.0;
        let y_mid = (values.lo + values.hi) / 2.0;
        let points = || self.curves.iter().flat_map(|c| c.points.iter());
        let count = |right: bool, upper: bool| {
            points()
                .filter(|p| (p.0 > x_mid) == right && (p.1 > y_mid) == upper)
                .count()
        };
        let mut corners = [
            (SeriesLabelPosition::UpperRight, count(true, true)),
            (SeriesLabelPosition::LowerRight, count(true, false)),
            (SeriesLabelPosition::UpperLeft, count(false, true)),
            (SeriesLabelPosition::LowerLeft, count(false, false)),
        ];
        // A stable sort: on a tie, the corner listed first wins.
        corners.sort_by_key(|(_, n)| *n);
        let [(corner, _), ..] = corners;
        corner
    }
}

/// Draws one curve as a line with dots on its points, with its legend entry.
fn draw_curve(chart: &mut PanelChart<'_>, curve: &Curve, color: RGBColor) -> Result<(), PlotError> {
    let line = LineSeries::new(curve.points.iter().copied(), color.stroke_width(2)).point_size(3);
    chart
        .draw_series(line)?
        .label(curve.label.as_str())
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    Ok(())
}

/// Draws the legend box in `corner`.
fn draw_legend(chart: &mut PanelChart<'_>, corner: SeriesLabelPosition) -> Result<(), PlotError> {
    chart
        .configure_series_labels()
        .position(corner)
        .background_style(WHITE.mix(0.85))
        .border_style(GRID)
        .label_font((FONT, 14))
        .draw()?;
    Ok(())
}

/// A `+` mark: two short strokes around a point.
type PlusMark<'a, C> =
    ComposedElement<C, BitMapBackend<'a>, PathElement<(i32, i32)>, PathElement<(i32, i32)>>;

/// A black `+` of `arm` pixels each way, centred on `at`.
fn plus_mark<'a, C>(at: C, arm: i32) -> PlusMark<'a, C> {
    let ink = BLACK.stroke_width(2);
    EmptyElement::at(at)
        + PathElement::new([(-arm, 0), (arm, 0)], ink)
        + PathElement::new([(0, -arm), (0, arm)], ink)
}
