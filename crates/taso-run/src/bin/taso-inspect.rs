//! `taso-inspect FILE [--stats] [--updates] [--json]`: prints the provenance of a taso artifact
//! and a table of the tensors of any safetensors file; for an adapter, with `--updates`, how
//! large its update `s·B·A` is per matrix type.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde::Serialize;
use taso_adapter::AdapterSet;
use taso_artifact::{
    group_by_matrix_type, meta::keys, Artifact, ArtifactKind, ArtifactMeta, SafetensorsFile,
    TensorData, TensorInfo,
};

/// Print the metadata and tensors of a taso artifact or of any safetensors file.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The safetensors file to inspect.
    file: PathBuf,
    /// Add min, max, mean and mean |x| of floating-point tensors (reads every tensor).
    #[arg(long)]
    stats: bool,
    /// For an adapter artifact: the Frobenius norm of each matrix's update `s·B·A`, mean and
    /// largest per matrix type (e.g. to compare how far two runs moved the same model).
    #[arg(long)]
    updates: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Everything printed about a file.
#[derive(Serialize)]
struct Report {
    path: PathBuf,
    size_bytes: u64,
    digest: String,
    /// The parsed provenance, when the file is a valid taso artifact.
    artifact: Option<ArtifactMeta>,
    /// Why a file with `taso.kind` is not a valid artifact for this build.
    artifact_error: Option<String>,
    /// The raw `__metadata__` map.
    metadata: BTreeMap<String, String>,
    tensors: Vec<TensorRow>,
    /// With `--updates`: the size of an adapter's update per matrix type, in model order.
    #[serde(skip_serializing_if = "Option::is_none")]
    updates: Option<Vec<UpdateRow>>,
}

/// The updates `s·B·A` of one matrix type (the module path after the block number).
#[derive(Serialize, Debug, PartialEq)]
struct UpdateRow {
    matrices: String,
    count: usize,
    mean_frobenius: f64,
    max_frobenius: f64,
}

#[derive(Serialize)]
struct TensorRow {
    name: String,
    dtype: String,
    shape: Vec<usize>,
    numel: usize,
    size_bytes: usize,
    /// Present with `--stats` for floating-point tensors.
    stats: Option<Stats>,
}

#[derive(Serialize)]
struct Stats {
    min: f64,
    max: f64,
    mean: f64,
    abs_mean: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    taso_run::cli::exit_with(run(&args), false)
}

fn run(args: &Args) -> Result<()> {
    let mut report = build_report(&args.file, args.stats)?;
    if args.updates {
        report.updates = Some(adapter_updates(&args.file, report.artifact.as_ref())?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_text(&report));
    }
    Ok(())
}

fn build_report(path: &Path, with_stats: bool) -> Result<Report> {
    let file = SafetensorsFile::open(path)?;
    let header = file.header();
    let (artifact, artifact_error) = if header.metadata.contains_key(keys::KIND) {
        match ArtifactMeta::from_file_metadata(&header.metadata, path) {
            Ok(meta) => (Some(meta), None),
            Err(error) => (None, Some(error.to_string())),
        }
    } else {
        (None, None)
    };
    let tensors = header
        .tensors
        .iter()
        .map(|(name, info)| tensor_row(&file, name, info, with_stats))
        .collect::<Result<_>>()?;
    Ok(Report {
        path: path.to_path_buf(),
        size_bytes: header.file_len,
        digest: file.digest()?,
        artifact,
        artifact_error,
        metadata: header.metadata.clone().into_iter().collect(),
        tensors,
        updates: None,
    })
}

/// The Frobenius norm of every matrix's update `s·B·A` in the adapter at `path`, grouped by
/// matrix type. Errors unless the file is an adapter artifact.
fn adapter_updates(path: &Path, meta: Option<&ArtifactMeta>) -> Result<Vec<UpdateRow>> {
    let kind = meta.map(|m| m.kind);
    if !matches!(
        kind,
        Some(ArtifactKind::Adapter | ArtifactKind::AdapterInit)
    ) {
        let found = kind.map_or("not a taso artifact".to_string(), |k| {
            format!("of kind {k}")
        });
        bail!(
            "--updates reads an adapter (adapter.safetensors, adapter-best.safetensors or              adapter-init.safetensors); {} is {found}",
            path.display()
        );
    }
    let artifact = Artifact::open_any(path)?;
    let adapters = AdapterSet::load(&artifact, tch::Device::Cpu)?;
    let scale = adapters.scale();
    let norms = adapters.matrices().iter().map(|m| {
        let norm = m.delta(scale).norm().double_value(&[]);
        (m.name().to_string(), norm)
    });
    Ok(group_by_type(norms))
}

/// Groups `(matrix name, norm)` by matrix type — the path after the first all-digit component
/// (`model.layers.3.mlp.up_proj` → `mlp.up_proj`), the whole name without one — in order of
/// first appearance.
fn group_by_type(norms: impl Iterator<Item = (String, f64)>) -> Vec<UpdateRow> {
    group_by_matrix_type(norms)
        .into_iter()
        .map(|(matrices, values)| UpdateRow {
            count: values.len(),
            mean_frobenius: values.iter().sum::<f64>() / values.len() as f64,
            max_frobenius: values.iter().copied().fold(0.0, f64::max),
            matrices,
        })
        .collect()
}

fn tensor_row(
    file: &SafetensorsFile,
    name: &str,
    info: &TensorInfo,
    with_stats: bool,
) -> Result<TensorRow> {
    let stats = if with_stats {
        let tensor = file
            .tensor(name)
            .with_context(|| format!("reading tensor '{name}'"))?;
        float_stats(&tensor)
    } else {
        None
    };
    Ok(TensorRow {
        name: name.to_string(),
        dtype: info.dtype.to_string(),
        shape: info.shape.clone(),
        numel: info.shape.iter().product(),
        size_bytes: info.data_offsets.1 - info.data_offsets.0,
        stats,
    })
}

/// Min, max, mean and mean |x| of a floating-point tensor; `None` for other dtypes. NaNs are
/// skipped by min and max and make the means NaN.
fn float_stats(tensor: &TensorData) -> Option<Stats> {
    let values = tensor.float_values()?;
    let (mut min, mut max, mut sum, mut abs_sum, mut count) =
        (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.0, 0usize);
    for value in values {
        min = min.min(value);
        max = max.max(value);
        sum += value;
        abs_sum += value.abs();
        count += 1;
    }
    let n = count as f64;
    Some(Stats {
        min,
        max,
        mean: sum / n,
        abs_mean: abs_sum / n,
    })
}

fn render_text(report: &Report) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: String| out.push_str(&format!("{label:<10}{value}\n"));
    line("file", report.path.display().to_string());
    line("size", human_size(report.size_bytes));
    line("digest", report.digest.clone());
    match &report.artifact {
        Some(meta) => push_meta(&mut out, meta),
        None => push_raw_metadata(&mut out, report),
    }
    out.push('\n');
    out.push_str(&tensor_table(&report.tensors));
    if let Some(updates) = &report.updates {
        out.push('\n');
        out.push_str(&update_table(updates));
    }
    out
}

fn update_table(rows: &[UpdateRow]) -> String {
    let headers = ["matrices", "count", "mean ‖s·B·A‖", "max ‖s·B·A‖"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.matrices.clone(),
                r.count.to_string(),
                format_stat(r.mean_frobenius),
                format_stat(r.max_frobenius),
            ]
        })
        .collect();
    "updates: the Frobenius norm of each matrix's s·B·A, per matrix type\n".to_string()
        + &align_columns(&headers, &cells)
}

fn push_meta(out: &mut String, meta: &ArtifactMeta) {
    let parent = meta.parent_digest.as_deref().unwrap_or("none");
    let rows = [
        (
            "kind",
            format!("{} (schema {})", meta.kind, meta.schema_version),
        ),
        ("producer", meta.producer.clone()),
        ("model", meta.model_fingerprint.clone()),
        ("task", meta.task.clone()),
        ("parent", parent.to_string()),
    ];
    for (label, value) in rows {
        out.push_str(&format!("{label:<10}{value}\n"));
    }
    for (key, value) in &meta.extra {
        out.push_str(&format!("extra     {key} = {value}\n"));
    }
    let config = serde_json::to_string_pretty(&meta.config).unwrap_or_default();
    out.push_str("config\n");
    for config_line in config.lines() {
        out.push_str(&format!("  {config_line}\n"));
    }
}

fn push_raw_metadata(out: &mut String, report: &Report) {
    if let Some(error) = &report.artifact_error {
        out.push_str(&format!("note      not a valid taso artifact: {error}\n"));
    }
    if report.metadata.is_empty() {
        out.push_str("metadata  (none)\n");
    }
    for (key, value) in &report.metadata {
        out.push_str(&format!("metadata  {key} = {value}\n"));
    }
}

fn tensor_table(rows: &[TensorRow]) -> String {
    let with_stats = rows.iter().any(|row| row.stats.is_some());
    let mut headers = vec!["name", "dtype", "shape", "numel", "size"];
    if with_stats {
        headers.extend(["min", "max", "mean", "abs-mean"]);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let mut cells = vec![
                row.name.clone(),
                row.dtype.clone(),
                format!("{:?}", row.shape),
                row.numel.to_string(),
                human_size(row.size_bytes as u64),
            ];
            if with_stats {
                cells.extend(stat_cells(row.stats.as_ref()));
            }
            cells
        })
        .collect();
    let total: usize = rows.iter().map(|row| row.size_bytes).sum();
    let title = format!(
        "tensors: {} ({} of data)\n",
        rows.len(),
        human_size(total as u64)
    );
    title + &align_columns(&headers, &cells)
}

fn stat_cells(stats: Option<&Stats>) -> Vec<String> {
    match stats {
        Some(s) => [s.min, s.max, s.mean, s.abs_mean]
            .iter()
            .map(|&v| format_stat(v))
            .collect(),
        None => vec!["-".to_string(); 4],
    }
}

/// Plain decimals for moderate magnitudes, scientific notation otherwise.
fn format_stat(value: f64) -> String {
    let magnitude = value.abs();
    if value == 0.0 || (1e-4..1e6).contains(&magnitude) {
        format!("{value:.6}")
    } else {
        format!("{value:.4e}")
    }
}

/// Left-aligns `cells` under `headers`, two spaces between columns.
fn align_columns(headers: &[&str], cells: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header_row: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    std::iter::once(&header_row)
        .chain(cells)
        .map(|row| {
            let padded: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            padded.join("  ").trim_end().to_string() + "\n"
        })
        .collect()
}

/// `123 B`, `1.5 KiB`, `3.2 MiB`, ...
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_group_by_the_path_after_the_block_number_in_model_order() {
        let norms = [
            ("model.layers.0.self_attn.q_proj", 1.0),
            ("model.layers.0.mlp.up_proj", 4.0),
            ("model.layers.1.self_attn.q_proj", 3.0),
            ("lm_head", 2.0),
        ];
        let rows = group_by_type(norms.iter().map(|(n, v)| (n.to_string(), *v)));
        let row = |matrices: &str, count, mean, max| UpdateRow {
            matrices: matrices.into(),
            count,
            mean_frobenius: mean,
            max_frobenius: max,
        };
        assert_eq!(
            rows,
            [
                row("self_attn.q_proj", 2, 2.0, 3.0),
                row("mlp.up_proj", 1, 4.0, 4.0),
                row("lm_head", 1, 2.0, 2.0),
            ]
        );
    }
}
