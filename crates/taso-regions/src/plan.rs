//! From importance to [`Regions`]: the whole selection as pure functions.

use crate::allocate::{self, Kept};
use crate::config::{Allocation, RegionsConfig};
use crate::coverage::coverage;
use crate::error::RegionsError;
use crate::importance::ScoreMatrix;
use crate::select::line_values;
use taso_artifact::{MatrixRegion, Regions, Target};

/// Selects the kept rows and columns of every matrix per `config` and measures their coverage.
/// `seed` drives `random` allocation (the run's seed).
pub fn select_regions(
    matrices: &[ScoreMatrix],
    config: &RegionsConfig,
    seed: u64,
) -> Result<Regions, RegionsError> {
    if matrices.is_empty() {
        return Err(RegionsError::NoMatrices);
    }
    let targets: Vec<Target> = matrices.iter().map(|m| m.target.clone()).collect();
    let budget = config.budget.resolve(&targets);
    let rank = config.rank;
    let kept = match config.allocation {
        Allocation::Random => allocate::random(&targets, rank, budget, config.shape, seed)?,
        Allocation::Uniform | Allocation::Global => {
            if matrices.iter().all(|m| m.total() == 0.0) {
                return Err(RegionsError::ZeroImportance);
            }
            let lines = line_values(matrices, config)?;
            if config.allocation == Allocation::Uniform {
                allocate::uniform(&targets, &lines, rank, budget, config.shape)?
            } else {
                allocate::global(&lines, rank, budget, config.min_rows, config.min_cols)?
            }
        }
    };
    let mut regions = Regions {
        targets,
        matrices: Vec::new(),
        rank,
        budget,
        coverage: Vec::new(),
    };
    for (matrix, kept) in matrices.iter().zip(kept) {
        if let Some(Kept { rows, cols }) = kept {
            regions.coverage.push(coverage(matrix, &rows, &cols));
            regions.matrices.push(region(&matrix.target, rows, cols));
        }
    }
    Ok(regions)
}

/// Dense LoRA regions (the `lora` baseline): every row and column of every target at `rank`;
/// the budget is what that uses. No coverage (no importance is read).
pub fn dense_regions(targets: Vec<Target>, rank: usize) -> Regions {
    let matrices: Vec<MatrixRegion> = targets
        .iter()
        .map(|t| region(t, (0..t.d_out).collect(), (0..t.d_in).collect()))
        .collect();
    let mut regions = Regions {
        targets,
        matrices,
        rank,
        budget: 0,
        coverage: Vec::new(),
    };
    regions.budget = regions.used();
    regions
}

fn region(target: &Target, rows: Vec<usize>, cols: Vec<usize>) -> MatrixRegion {
    let to_i64 = |v: Vec<usize>| v.into_iter().map(|i| i as i64).collect();
    MatrixRegion {
        target: target.clone(),
        rows: to_i64(rows),
        cols: to_i64(cols),
    }
}
