//! One run of stage 2 on a run folder: read the config and the importance, select, write the
//! `regions` artifact, the resolved config, `regions.md`, the heat-maps and the coverage chart.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use taso_artifact::{
    model_fingerprint, write_atomic, Artifact, ArtifactError, ArtifactKind, ArtifactMeta,
};
use taso_run::{Method, ResolvedConfig, RunPaths, RunSettings, Sections};

use crate::config::{Allocation, RegionsConfig};
use crate::error::RegionsError;
use crate::heatmap;
use crate::importance::{read_importance, ScoreMatrix};
use crate::layer_chart::{write_layer_chart, LAYER_CHART_FILE};
use crate::model::model_targets;
use crate::plan::{dense_regions, select_regions};
use crate::report::{self, percent, Pictures, Provenance, Totals};
use taso_artifact::Regions;

/// The report file written beside the artifact.
pub const REPORT_FILE: &str = "regions.md";
/// The folder of the heat-maps inside the run folder.
pub const HEATMAP_DIR: &str = "heatmaps";

/// What one run of the stage did.
#[derive(Debug)]
pub enum Outcome {
    /// The run's method trains no LoRA adapter (`bitfit`, `full`, `head-only`): nothing to do.
    NothingToDo(Method),
    /// Regions were selected and written.
    Written(Written),
}

/// The regions a run wrote, and where.
#[derive(Debug)]
pub struct Written {
    /// The run's method.
    pub method: Method,
    /// The regions written.
    pub regions: Regions,
    /// The run folder.
    pub paths: RunPaths,
    /// The digest of the written `regions.safetensors`.
    pub digest: String,
    /// The heat-maps drawn.
    pub heatmaps: Vec<PathBuf>,
    /// The coverage-per-layer chart, when drawn (heat-maps on, matrices in two or more layers).
    pub layer_chart: Option<PathBuf>,
    /// Whether coverage was estimated from marginals (no full scores).
    pub coverage_estimated: bool,
}

/// Runs stage 2 for the resolved config: checks the whole config first, then selects
/// per `run.method` (`taso`; `random-regions` forces `allocation = "random"`; `lora` keeps
/// every row and column of the targets read from the model's safetensors header) and writes
/// the outputs into the run folder.
pub fn run_stage(config: &ResolvedConfig) -> Result<Outcome, RegionsError> {
    let Sections {
        run,
        regions: mut settings,
        ..
    } = config.sections()?;
    if !run.method.uses_adapter() {
        return Ok(Outcome::NothingToDo(run.method));
    }
    if run.method == Method::RandomRegions && settings.allocation != Allocation::Random {
        tracing::info!("method random-regions: allocation set to \"random\"");
        settings.allocation = Allocation::Random;
    }
    let fingerprint = base_fingerprint(&run)?;
    let paths = run.paths();
    let Selection {
        regions,
        parent,
        scores,
    } = select(&run, &settings, &paths, &fingerprint)?;
    let digest = write_regions(&run, &settings, &paths, fingerprint, &regions, parent)?;
    config.write(&paths.config())?;

    let heatmaps = if settings.heatmaps {
        write_heatmaps(&paths.dir.join(HEATMAP_DIR), &scores, &regions)?
    } else {
        Vec::new()
    };
    let chart_path = paths.dir.join(LAYER_CHART_FILE);
    let layer_chart = (settings.heatmaps
        && write_layer_chart(&chart_path, &regions.coverage, &run.targets)?)
    .then_some(chart_path.clone());
    if layer_chart.is_none() && chart_path.exists() {
        // An earlier selection's chart would not describe these regions.
        std::fs::remove_file(&chart_path)
            .map_err(|e| file_error("cannot remove the stale chart", &chart_path, e))?;
    }
    let coverage_estimated = scores.iter().any(|m| m.scores.is_none());
    let provenance = match run.method {
        Method::Lora => Provenance::Dense,
        _ => Provenance::Scores {
            config: &settings,
            estimated: coverage_estimated,
        },
    };
    let pictures = Pictures {
        heatmaps: (!heatmaps.is_empty()).then_some(HEATMAP_DIR),
        layer_chart: layer_chart.is_some().then_some(LAYER_CHART_FILE),
    };
    write_report(&paths.dir, &regions, &provenance, pictures)?;
    Ok(Outcome::Written(Written {
        method: run.method,
        regions,
        paths,
        digest,
        heatmaps,
        layer_chart,
        coverage_estimated,
    }))
}

/// The fingerprint of the run's base model (`run.model`), which its artifacts must carry.
pub(crate) fn base_fingerprint(run: &RunSettings) -> Result<String, RegionsError> {
    model_fingerprint(&run.model).map_err(|source| RegionsError::Artifact {
        what: format!(
            "fingerprinting the base model (run.model = {})",
            run.model.display()
        ),
        source,
    })
}

/// Writes `regions.safetensors` (atomically) into the run folder, made for the model
/// `fingerprint` from the importance artifact with digest `parent`; returns its digest.
fn write_regions(
    run: &RunSettings,
    settings: &RegionsConfig,
    paths: &RunPaths,
    fingerprint: String,
    regions: &Regions,
    parent: Option<String>,
) -> Result<String, RegionsError> {
    std::fs::create_dir_all(&paths.dir).map_err(|e| file_error("cannot create", &paths.dir, e))?;
    let mut meta = ArtifactMeta::new(
        ArtifactKind::Regions,
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        fingerprint,
        run.task_name(),
        settings,
    )
    .map_err(|source| writing(&paths.regions(), source))?;
    if let Some(parent) = parent {
        meta = meta.with_parent(parent);
    }
    regions
        .write(&paths.regions(), meta)
        .map_err(|source| writing(&paths.regions(), source))
}

/// The regions selected for a run, the digest of the importance they came from (their parent
/// artifact) and the scores (empty for dense LoRA, which reads no importance).
struct Selection {
    regions: Regions,
    parent: Option<String>,
    scores: Vec<ScoreMatrix>,
}

/// Selects per `run.method`: dense LoRA keeps every row and column of the model's targets; TASO
/// and random regions select from the run's importance scores as `settings` say.
fn select(
    run: &RunSettings,
    settings: &RegionsConfig,
    paths: &RunPaths,
    fingerprint: &str,
) -> Result<Selection, RegionsError> {
    if run.method == Method::Lora {
        let targets = model_targets(&run.model, &run.targets)?;
        return Ok(Selection {
            regions: dense_regions(targets, settings.rank),
            parent: None,
            scores: Vec::new(),
        });
    }
    let path = paths.importance();
    let expect = paths.expect(ArtifactKind::Importance, fingerprint, &run.task_name());
    let importance = Artifact::open(&path, &expect).map_err(|source| RegionsError::Artifact {
        what: format!("opening the importance scores {}", path.display()),
        source,
    })?;
    let in_file = |source| RegionsError::Selection {
        path: path.clone(),
        source: Box::new(source),
    };
    let scores = read_importance(&importance).map_err(in_file)?;
    let regions = select_regions(&scores, settings, run.seed).map_err(in_file)?;
    Ok(Selection {
        regions,
        parent: Some(importance.digest),
        scores,
    })
}

/// Writes `regions.md` into the run folder.
fn write_report(
    dir: &Path,
    regions: &Regions,
    provenance: &Provenance,
    pictures: Pictures,
) -> Result<(), RegionsError> {
    let text = report::render(regions, provenance, pictures);
    let path = dir.join(REPORT_FILE);
    write_atomic(&path, text.as_bytes())
        .map_err(|e| file_error("cannot write the report", &path, e))
}

impl Outcome {
    /// A few lines for the terminal.
    pub fn summary(&self) -> String {
        match self {
            Outcome::NothingToDo(method) => format!(
                "method {method} trains no LoRA adapter: no regions to select, nothing to do"
            ),
            Outcome::Written(written) => written.summary(),
        }
    }
}

impl Written {
    /// What was kept, the budget, the coverage, the files.
    pub fn summary(&self) -> String {
        let t = Totals::of(&self.regions);
        let mut out = format!("wrote {}\n", self.paths.regions().display());
        let _ = writeln!(
            out,
            "  {} of {} matrices adapted (method {}); kept {} rows and {} columns at rank {}",
            t.adapted, t.targets, self.method, t.rows, t.cols, self.regions.rank
        );
        let _ = writeln!(
            out,
            "  budget: used {} of {} adapter parameters",
            t.used, t.budget
        );
        if let Some((share, random)) = t.coverage {
            let how = if self.coverage_estimated {
                " (estimated from marginals)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  coverage: mean {} of importance in the kept blocks vs {} for random blocks{how}",
                percent(share),
                percent(random),
            );
        }
        let _ = write!(
            out,
            "  report: {}",
            self.paths.dir.join(REPORT_FILE).display()
        );
        if !self.heatmaps.is_empty() {
            let _ = write!(
                out,
                "; heat-maps: {} PNG in {}",
                self.heatmaps.len(),
                self.paths.dir.join(HEATMAP_DIR).display()
            );
        }
        if let Some(chart) = &self.layer_chart {
            let _ = write!(out, "; coverage per layer: {}", chart.display());
        }
        out
    }
}

/// Draws one heat-map per matrix that has full scores into `dir`; returns the files.
fn write_heatmaps(
    dir: &Path,
    scores: &[ScoreMatrix],
    regions: &Regions,
) -> Result<Vec<PathBuf>, RegionsError> {
    let with_scores: Vec<(&ScoreMatrix, &[f32])> = scores
        .iter()
        .filter_map(|m| Some((m, m.scores.as_deref()?)))
        .collect();
    if with_scores.is_empty() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(dir).map_err(|e| file_error("cannot create", dir, e))?;
    let mut written = Vec::new();
    for (matrix, values) in with_scores {
        let t = &matrix.target;
        let indices = |v: &[i64]| v.iter().map(|&i| i as usize).collect::<Vec<_>>();
        let (rows, cols) = match regions.matrices.iter().find(|m| m.target == *t) {
            Some(m) => (indices(&m.rows), indices(&m.cols)),
            None => (Vec::new(), Vec::new()),
        };
        let image = heatmap::render(t.d_out, t.d_in, values, &rows, &cols);
        let path = dir.join(heatmap::file_name(&t.name));
        let bytes = heatmap::encode_png(&image).map_err(|e| RegionsError::File {
            what: "cannot encode the heat-map".into(),
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&path, &bytes).map_err(|e| file_error("cannot write", &path, e))?;
        written.push(path);
    }
    Ok(written)
}

fn writing(path: &Path, source: ArtifactError) -> RegionsError {
    RegionsError::Artifact {
        what: format!("writing the regions {}", path.display()),
        source,
    }
}

fn file_error(what: &str, path: &Path, error: std::io::Error) -> RegionsError {
    RegionsError::File {
        what: what.to_string(),
        path: path.to_path_buf(),
        reason: format!("{error}; {}", taso_artifact::io_advice(&error)),
    }
}
