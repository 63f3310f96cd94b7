//! Stage 2 of TASO: core-region selection.
//!
//! Reads an `importance` artifact, ranks entries, scores rows and columns, allocates the adapter
//! budget across matrices and writes a `regions` artifact ([`taso_artifact::Regions`]: kept row and column
//! indices per matrix, plus coverage diagnostics). See `docs/method.md`, stage 2.
//!
//! Both formats are plain types of the foundation crate `taso-artifact`
//! ([`taso_artifact::Importance`], [`taso_artifact::Regions`]), so this crate does not depend on
//! the scorer's, and scores from any source can be selected on: build a [`ScoreMatrix`] per
//! matrix from your own marginals (and, optionally, full scores) and call [`select_regions`].
//!
//! The pipeline, one module per step:
//! - [`config`]: the `[regions]` section ([`RegionsConfig`]);
//! - [`importance`]: the importance artifact as plain `f32` vectors ([`ScoreMatrix`]);
//! - [`select`]: core entries and a value per row and column ([`line_values`]);
//! - [`allocate`]: splitting the budget (`uniform`, `global`, `random`);
//! - [`coverage`]: importance inside the kept blocks vs random blocks;
//! - [`cross`]: a run's kept blocks measured under another importance (another task's);
//! - [`plan`]: all of the above as one pure function ([`select_regions`], [`dense_regions`]);
//! - [`recurring`]: the lines kept in most layers of a matrix type, against chance;
//! - [`heatmap`], [`layer_chart`], [`report`]: the PNG heat-maps, the coverage-per-layer chart
//!   and `regions.md`;
//! - [`model`]: the targets of a base model, from its safetensors header (dense `lora` runs);
//! - [`stage`]: one run on a run folder ([`run_stage`]), used by the `taso-regions` binary.
//!
//! ```
//! use taso_artifact::Target;
//! use taso_regions::{select_regions, RegionsConfig, ScoreMatrix};
//!
//! // One 2×3 matrix whose importance sits in row 1 and column 2.
//! let target = Target { name: "encoder.layer.0.attention.self.query".into(), d_out: 2, d_in: 3 };
//! let scores = vec![0.1, 0.1, 0.5, 0.2, 0.3, 9.0];
//! let matrix = ScoreMatrix::new(target, vec![0.7, 9.5], vec![0.3, 0.4, 9.5], Some(scores))?;
//! let config = RegionsConfig {
//!     rank: 1,
//!     budget: taso_regions::Budget::Absolute(2),
//!     ..Default::default()
//! };
//! let regions = select_regions(&[matrix], &config, 0)?;
//! assert_eq!(regions.matrices[0].rows, [1]);
//! assert_eq!(regions.matrices[0].cols, [2]);
//! assert!(regions.coverage[0].share > 0.85); // 9.0 of 10.2
//! # Ok::<(), taso_regions::RegionsError>(())
//! ```

pub mod allocate;
pub mod config;
pub mod coverage;
pub mod cross;
mod error;
pub mod heatmap;
pub mod importance;
pub mod layer_chart;
pub mod model;
pub mod plan;
pub mod recurring;
pub mod report;
pub mod select;
pub mod stage;

pub use config::{Allocation, Budget, LineRule, Normalize, RegionsConfig, Shape};
pub use cross::{coverage_under, regions_coverage, CrossCoverage};
pub use error::RegionsError;
pub use importance::{read_importance, ScoreMatrix};
pub use plan::{dense_regions, select_regions};
pub use select::{line_values, LineValue, MatrixLines};
pub use stage::{run_stage, Outcome, Written};
