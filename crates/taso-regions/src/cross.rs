//! How much of another importance a run's kept blocks hold — e.g. another task's scores on the
//! same model. Beside the blocks' share of their own task's importance and a random block's
//! share, it tells how much of what the selection finds is specific to the task and how much
//! any task on that model would have found.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use taso_artifact::{target_position, Artifact, ArtifactKind, Coverage, Expect, Regions};
use taso_run::{ResolvedConfig, Sections};

use crate::coverage::coverage;
use crate::importance::{read_importance, ScoreMatrix};
use crate::report::percent;
use crate::stage::base_fingerprint;
use crate::RegionsError;

/// The coverage of a run's kept blocks under another importance artifact.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossCoverage {
    /// The run's `regions.safetensors`.
    pub regions: PathBuf,
    /// The task the regions were selected for.
    pub regions_task: String,
    /// The other importance artifact.
    pub importance: PathBuf,
    /// The task of the other importance.
    pub importance_task: String,
    /// The run's `run.targets`, which name the matrix types.
    pub targets: Vec<String>,
    /// Per adapted matrix, the blocks' share of their own task's importance (empty for dense
    /// regions, which read no importance).
    pub own: Vec<Coverage>,
    /// Per adapted matrix, the blocks' share of the other importance.
    pub under: Vec<Coverage>,
}

/// The coverage of every adapted matrix of `regions` under `scores`: the share of each matrix's
/// importance inside its kept block. Errors when `scores` lacks an adapted matrix or has it in
/// another shape.
pub fn regions_coverage(
    regions: &Regions,
    scores: &[ScoreMatrix],
) -> Result<Vec<Coverage>, RegionsError> {
    let by_name: BTreeMap<&str, &ScoreMatrix> =
        scores.iter().map(|m| (m.target.name.as_str(), m)).collect();
    let indices = |v: &[i64]| v.iter().map(|&i| i as usize).collect::<Vec<_>>();
    regions
        .matrices
        .iter()
        .map(|m| {
            let name = &m.target.name;
            let matrix = by_name
                .get(name.as_str())
                .ok_or_else(|| RegionsError::BadScores {
                    name: name.clone(),
                    reason: "the importance has no scores for this adapted matrix".into(),
                })?;
            if matrix.target != m.target {
                return Err(RegionsError::BadScores {
                    name: name.clone(),
                    reason: format!(
                        "the importance scores it as [{}, {}], the regions as [{}, {}]",
                        matrix.target.d_out, matrix.target.d_in, m.target.d_out, m.target.d_in
                    ),
                });
            }
            Ok(coverage(matrix, &indices(&m.rows), &indices(&m.cols)))
        })
        .collect()
}

/// Measures the run's existing regions (`regions.safetensors` of its folder) under the
/// importance artifact at `importance`, which must score the same base model. Reads only.
pub fn coverage_under(
    config: &ResolvedConfig,
    importance: &Path,
) -> Result<CrossCoverage, RegionsError> {
    let Sections { run, .. } = config.sections()?;
    let fingerprint = base_fingerprint(&run)?;
    let path = run.paths().regions();
    let expect = Expect::kind(ArtifactKind::Regions)
        .model(&fingerprint)
        .task(run.task_name());
    let opened = Artifact::open(&path, &expect).map_err(|source| RegionsError::Artifact {
        what: format!("opening the run's regions {}", path.display()),
        source,
    })?;
    let regions = Regions::from_artifact(&opened).map_err(|source| RegionsError::Artifact {
        what: format!("reading the run's regions {}", path.display()),
        source,
    })?;
    let expect = Expect::kind(ArtifactKind::Importance).model(&fingerprint);
    let other = Artifact::open(importance, &expect).map_err(|source| RegionsError::Artifact {
        what: format!("opening the importance {}", importance.display()),
        source,
    })?;
    let in_file = |source| RegionsError::Selection {
        path: importance.to_path_buf(),
        source: Box::new(source),
    };
    let scores = read_importance(&other).map_err(in_file)?;
    let under = regions_coverage(&regions, &scores).map_err(in_file)?;
    Ok(CrossCoverage {
        regions: path,
        regions_task: opened.meta.task,
        importance: importance.to_path_buf(),
        importance_task: other.meta.task,
        targets: run.targets.clone(),
        own: regions.coverage,
        under,
    })
}

impl CrossCoverage {
    /// A table for the terminal: per matrix type (and over all adapted matrices) the mean share
    /// of the blocks under their own task's importance, under the other importance, and a
    /// random block's.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "kept blocks of {} (task {}) under the importance of {} (task {}):\n\n",
            self.regions.display(),
            self.regions_task,
            self.importance.display(),
            self.importance_task
        );
        let _ = writeln!(
            out,
            "| matrices | n | own task's importance | this importance | random block |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|");
        let mut groups: BTreeMap<(usize, String), Vec<usize>> = BTreeMap::new();
        for (i, c) in self.under.iter().enumerate() {
            let key = match target_position(&c.name, &self.targets) {
                Some((_, t)) => (t, self.targets[t].clone()),
                None => (self.targets.len(), "others".into()),
            };
            groups.entry(key).or_default().push(i);
        }
        let all: Vec<usize> = (0..self.under.len()).collect();
        let rows = groups
            .into_iter()
            .map(|((_, label), members)| (label, members))
            .chain([("**all**".to_string(), all)]);
        for (label, members) in rows {
            let _ = writeln!(out, "{}", self.row(&label, &members));
        }
        out.trim_end().to_string()
    }

    /// One row of the summary: the means over the matrices of `under` at `members` (their own
    /// task's share found by name in `own`).
    fn row(&self, label: &str, members: &[usize]) -> String {
        let mean = |values: Vec<f64>| match values.len() {
            0 => "—".to_string(),
            n => percent(values.iter().sum::<f64>() / n as f64),
        };
        let under = || members.iter().map(|&i| &self.under[i]);
        let own = under()
            .filter_map(|u| self.own.iter().find(|o| o.name == u.name))
            .map(|o| o.share)
            .collect();
        format!(
            "| {label} | {} | {} | {} | {} |",
            members.len(),
            mean(own),
            mean(under().map(|c| c.share).collect()),
            mean(under().map(|c| c.random_share).collect()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use taso_artifact::{MatrixRegion, Target};

    fn target(name: &str) -> Target {
        Target {
            name: name.into(),
            d_out: 2,
            d_in: 2,
        }
    }

    fn regions(names: &[&str]) -> Regions {
        let matrices: Vec<_> = names
            .iter()
            .map(|n| MatrixRegion {
                target: target(n),
                rows: vec![0],
                cols: vec![1],
            })
            .collect();
        Regions {
            targets: matrices.iter().map(|m| m.target.clone()).collect(),
            matrices,
            rank: 1,
            budget: 8,
            coverage: Vec::new(),
        }
    }

    #[test]
    fn the_kept_block_share_of_other_scores() {
        let regions = regions(&["model.layers.0.mlp.up_proj"]);
        let scores = [ScoreMatrix::from_scores(
            target("model.layers.0.mlp.up_proj"),
            vec![1.0, 3.0, 2.0, 2.0],
        )
        .unwrap()];
        let under = regions_coverage(&regions, &scores).unwrap();
        assert_eq!(under.len(), 1);
        assert!((under[0].share - 0.375).abs() < 1e-12, "{under:?}");
        assert!((under[0].random_share - 0.25).abs() < 1e-12);
    }

    #[test]
    fn a_missing_or_reshaped_matrix_is_named() {
        let regions = regions(&["model.layers.0.mlp.up_proj"]);
        let err = regions_coverage(&regions, &[]).unwrap_err().to_string();
        assert!(err.contains("model.layers.0.mlp.up_proj") && err.contains("no scores"));
        let other = Target {
            d_in: 3,
            ..target("model.layers.0.mlp.up_proj")
        };
        let scores = [ScoreMatrix::from_scores(other, vec![1.0; 6]).unwrap()];
        let err = regions_coverage(&regions, &scores).unwrap_err().to_string();
        assert!(err.contains("[2, 3]") && err.contains("[2, 2]"), "{err}");
    }

    #[test]
    fn the_summary_groups_by_matrix_type_and_gives_the_mean() {
        let cov = |name: &str, share: f64| Coverage {
            name: name.into(),
            rows: 1,
            cols: 1,
            share,
            random_share: 0.25,
        };
        let names = [
            "model.layers.0.self_attn.q_proj",
            "model.layers.0.mlp.up_proj",
        ];
        let cross = CrossCoverage {
            regions: "r.safetensors".into(),
            regions_task: "sst2-prompt".into(),
            importance: "i.safetensors".into(),
            importance_task: "rte-prompt".into(),
            targets: vec!["self_attn.q_proj".into(), "mlp.up_proj".into()],
            own: vec![cov(names[1], 0.3), cov(names[0], 0.5)],
            under: vec![cov(names[0], 0.4), cov(names[1], 0.2)],
        };
        let text = cross.summary();
        assert!(text.contains("(task sst2-prompt)") && text.contains("(task rte-prompt)"));
        // Each matrix's own share is found by name, whatever the order of `own`.
        for row in [
            "| self_attn.q_proj | 1 | 50.0% | 40.0% | 25.0% |",
            "| mlp.up_proj | 1 | 30.0% | 20.0% | 25.0% |",
            "| **all** | 2 | 40.0% | 30.0% | 25.0% |",
        ] {
            assert!(text.contains(row), "{row} missing:\n{text}");
        }
        let in_order = text.find("q_proj |").unwrap() < text.find("up_proj |").unwrap();
        assert!(
            in_order,
            "matrix types in the order of run.targets:\n{text}"
        );
    }
}
