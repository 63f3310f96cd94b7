//! Draws the taso project's charts as PNG files, from plain data.
//!
//! The crate knows nothing about the other taso crates: callers hand it numbers and labels.
//! It draws four kinds of chart:
//!
//! * [`method_bars`]: one bar per method (mean ± std over runs), for comparing methods on a task;
//! * [`run_curves`]: a two-panel figure of one training run, training loss per epoch on the left
//!   and the dev / hold-out metric per epoch on the right, with the best epoch marked;
//! * [`line_chart`]: lines over a whole-number axis on one panel, e.g. a share per layer;
//! * [`grouped_bars`]: groups of bars, one per series, optionally with ± whiskers and dashed
//!   reference lines, e.g. a score per matrix type with and without its adapters against the
//!   whole adapter, or each method's mean ± std task by task.
//!
//! Text is drawn with the DejaVu Sans font embedded in the crate (`assets/DejaVuSans.ttf`, under
//! the Bitstream Vera licence in `assets/DejaVuSans-LICENSE.txt`), so no system font is needed.
//! Every PNG is written atomically: it is drawn to a temporary file in the target folder (created
//! when missing) and renamed into place, so the target path never holds a partial image.

#![warn(missing_docs)]

mod axis;
mod bars;
mod curves;
mod error;
mod grouped;
mod render;

pub use bars::{method_bars, MethodBar};
pub use curves::{line_chart, run_curves, Curve};
pub use error::PlotError;
pub use grouped::{grouped_bars, BarGroup, Reference, Series};
