//! Stage 2 of TASO: core-region selection.
//!
//! Reads an `importance` artifact, ranks entries, scores rows and columns, allocates the adapter
//! budget across matrices and writes a `regions` artifact ([`Regions`]: kept row and column
//! indices per matrix, plus coverage diagnostics). See `../shared/docs/method.md`, stage 2.

mod format;

pub use format::{Coverage, MatrixRegion, Regions, Target};
