//! Reading an `importance` artifact (format in `docs/artifacts.md`) into plain `f32` vectors.
//!
//! The file is read with [`taso_artifact::Importance`] (the format's type lives in the
//! foundation crate, not in the scorer's), then checked for shape and values here. Scores from
//! any other source become a [`ScoreMatrix`] through [`ScoreMatrix::new`].

use taso_artifact::Importance;
use taso_artifact::{Artifact, ArtifactError};

use crate::error::RegionsError;
use taso_artifact::Target;

/// The importance of one target matrix as plain numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreMatrix {
    /// Which matrix.
    pub target: Target,
    /// Row marginals `Σ_j S[i, j]`, `[d_out]`.
    pub row: Vec<f32>,
    /// Column marginals `Σ_i S[i, j]`, `[d_in]`.
    pub col: Vec<f32>,
    /// The full scores, row-major `[d_out, d_in]`, when the artifact stores them.
    pub scores: Option<Vec<f32>>,
}

impl ScoreMatrix {
    /// Checks that the vectors fit the target's shape and hold finite, non-negative values.
    pub fn new(
        target: Target,
        row: Vec<f32>,
        col: Vec<f32>,
        scores: Option<Vec<f32>>,
    ) -> Result<Self, RegionsError> {
        let bad = |reason: String| {
            Err(RegionsError::BadScores {
                name: target.name.clone(),
                reason,
            })
        };
        let (d_out, d_in) = (target.d_out, target.d_in);
        if d_out == 0 || d_in == 0 {
            return bad(format!("the matrix has shape [{d_out}, {d_in}]"));
        }
        let lengths = [
            ("row marginals", row.len(), d_out),
            ("column marginals", col.len(), d_in),
            (
                "scores",
                scores.as_ref().map_or(d_out * d_in, Vec::len),
                d_out * d_in,
            ),
        ];
        for (what, found, expected) in lengths {
            if found != expected {
                return bad(format!(
                    "{what} have {found} values, the matrix [{d_out}, {d_in}] needs {expected}"
                ));
            }
        }
        let all = row.iter().chain(&col).chain(scores.iter().flatten());
        if let Some(v) = all.copied().find(|v| !v.is_finite() || *v < 0.0) {
            return bad(format!(
                "it holds the value {v}; scores are finite and non-negative"
            ));
        }
        Ok(Self {
            target,
            row,
            col,
            scores,
        })
    }

    /// A matrix from its full scores (row-major `[d_out, d_in]`), marginals summed from them.
    pub fn from_scores(target: Target, scores: Vec<f32>) -> Result<Self, RegionsError> {
        let (d_out, d_in) = (target.d_out, target.d_in);
        if scores.len() != d_out * d_in {
            return Err(RegionsError::BadScores {
                name: target.name,
                reason: format!("{} scores for a [{d_out}, {d_in}] matrix", scores.len()),
            });
        }
        let row = (0..d_out)
            .map(|i| scores[i * d_in..(i + 1) * d_in].iter().sum())
            .collect();
        let col = (0..d_in)
            .map(|j| (0..d_out).map(|i| scores[i * d_in + j]).sum())
            .collect();
        Self::new(target, row, col, Some(scores))
    }

    /// The total importance of the matrix (sum of its row marginals).
    pub fn total(&self) -> f64 {
        self.row.iter().map(|&v| f64::from(v)).sum()
    }
}

/// Reads every target matrix of an opened `importance` artifact, in the artifact's order.
pub fn read_importance(artifact: &Artifact) -> Result<Vec<ScoreMatrix>, RegionsError> {
    let wrap = |source: ArtifactError| RegionsError::Artifact {
        what: format!(
            "reading the importance scores in {}",
            artifact.path.display()
        ),
        source,
    };
    let importance = Importance::from_artifact(artifact).map_err(wrap)?;
    importance
        .matrices
        .into_iter()
        .map(|m| {
            let scores = m.scores_f32().transpose().map_err(wrap)?;
            ScoreMatrix::new(m.target, m.row, m.col, scores)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            name: "m".into(),
            d_out: 2,
            d_in: 3,
        }
    }

    #[test]
    fn shapes_and_values_are_checked() {
        let ok = ScoreMatrix::new(target(), vec![1.0; 2], vec![1.0; 3], Some(vec![0.5; 6]));
        assert_eq!(ok.unwrap().total(), 2.0);
        let short = ScoreMatrix::new(target(), vec![1.0; 2], vec![1.0; 2], None);
        assert!(short.unwrap_err().to_string().contains("column marginals"));
        let nan = ScoreMatrix::new(target(), vec![f32::NAN, 1.0], vec![1.0; 3], None);
        assert!(nan.unwrap_err().to_string().contains("NaN"));
        let neg = ScoreMatrix::new(target(), vec![1.0; 2], vec![1.0; 3], Some(vec![-1.0; 6]));
        assert!(neg.unwrap_err().to_string().contains("taso-score"));
    }

    #[test]
    fn marginals_are_summed_from_full_scores() {
        let m = ScoreMatrix::from_scores(target(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!((m.row, m.col), (vec![6.0, 15.0], vec![5.0, 7.0, 9.0]));
        let err = ScoreMatrix::from_scores(target(), vec![1.0; 5])
            .unwrap_err()
            .to_string();
        assert!(err.contains("5 scores for a [2, 3] matrix"), "{err}");
    }
}
