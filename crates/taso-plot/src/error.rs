//! The crate's error type.

use std::path::PathBuf;

use plotters::drawing::DrawingAreaErrorKind;

/// Why a chart could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// There is nothing to draw: no bars, no curves, or a curve without points.
    #[error("nothing to plot: {0}")]
    Empty(String),
    /// A value is NaN or infinite; `item` names the offending method or curve.
    #[error("{item} has a non-finite value (NaN or infinity)")]
    NonFinite {
        /// The method or curve holding the value, e.g. "method `lora`".
        item: String,
    },
    /// A bar's standard deviation (its whisker) is negative.
    #[error("{item} has a negative std ({std})")]
    NegativeStd {
        /// The bar: its method, or its group.
        item: String,
        /// The negative value given.
        std: f64,
    },
    /// A bar group has not one value per series.
    #[error("bar group `{group}` has {values} values for {series} series")]
    SeriesCount {
        /// The group's label.
        group: String,
        /// How many values it has.
        values: usize,
        /// How many series there are.
        series: usize,
    },
    /// The embedded font could not be registered with plotters.
    #[error("the embedded font could not be loaded")]
    Font,
    /// Drawing or PNG encoding failed.
    #[error("rendering failed: {0}")]
    Render(String),
    /// The PNG could not be written to its path.
    #[error("cannot write {}: {source}; {}", path.display(), taso_artifact::io_advice(source))]
    Io {
        /// The PNG path asked for.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(err: DrawingAreaErrorKind<E>) -> Self {
        PlotError::Render(err.to_string())
    }
}
