//! Every chart lands as a whole, decodable PNG of the documented size; bad input gives errors.

use std::io::Cursor;
use std::path::Path;

use taso_plot::{
    grouped_bars, line_chart, method_bars, run_curves, BarGroup, Curve, MethodBar, PlotError,
    Reference, Series,
};

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Decodes the PNG at `path` whole and returns its width and height.
fn decoded_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes[..8], PNG_SIGNATURE, "{} is not a PNG", path.display());
    let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    (frame.width, frame.height)
}

fn bar(method: &str, mean: f64, std: f64, n: usize) -> MethodBar {
    MethodBar {
        method: method.into(),
        mean,
        std,
        n,
    }
}

fn curve(label: &str, points: &[(f64, f64)]) -> Curve {
    Curve {
        label: label.into(),
        points: points.to_vec(),
    }
}

fn sst2_bars() -> Vec<MethodBar> {
    vec![
        bar("full fine-tune", 0.912, 0.004, 3),
        bar("lora_r8", 0.905, 0.006, 3),
        bar("taso_sparse_r8", 0.909, 0.003, 3),
        bar("bitfit", 0.871, 0.0, 1),
    ]
}

#[test]
fn method_bars_writes_a_900_by_500_png() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bars.png");
    method_bars(&path, "SST-2, 3 seeds", "accuracy", &sst2_bars()).unwrap();
    assert_eq!(decoded_size(&path), (900, 500));
}

#[test]
fn many_long_method_names_still_draw() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.png");
    let bars: Vec<_> = (0..12)
        .map(|i| {
            bar(
                &format!("method_number_{i:02}"),
                0.5 + i as f64 / 100.0,
                0.01,
                2,
            )
        })
        .collect();
    method_bars(&path, "twelve methods", "f1", &bars).unwrap();
    assert_eq!(decoded_size(&path), (900, 500));
}

#[test]
fn run_curves_writes_a_1000_by_450_png_and_creates_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs/sst2/curves.png");
    let loss = [curve(
        "train loss",
        &[(1.0, 0.69), (2.0, 0.52), (3.0, 0.41)],
    )];
    let metrics = [
        curve("dev accuracy", &[(1.0, 0.80), (2.0, 0.86), (3.0, 0.85)]),
        curve(
            "hold-out accuracy",
            &[(1.0, 0.79), (2.0, 0.84), (3.0, 0.85)],
        ),
    ];
    run_curves(&path, "sst2 / taso", &loss, &metrics, "accuracy").unwrap();
    assert_eq!(decoded_size(&path), (1000, 450));
}

#[test]
fn line_chart_writes_a_900_by_500_png_with_eight_curves_over_thirty_layers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coverage-by-layer.png");
    let curves: Vec<_> = (0..8)
        .map(|c| {
            let points: Vec<_> = (0..30)
                .map(|layer| (layer as f64, 2.0 + c as f64 + (layer % 7) as f64))
                .collect();
            curve(&format!("mlp.proj_{c}"), &points)
        })
        .collect();
    line_chart(&path, "coverage per layer", "layer", "share (%)", &curves).unwrap();
    assert_eq!(decoded_size(&path), (900, 500));
}

#[test]
fn line_chart_refuses_no_curves_and_non_finite_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.png");
    let err = line_chart(&path, "t", "layer", "%", &[]).unwrap_err();
    assert!(matches!(err, PlotError::Empty(_)), "{err}");
    let bad = [curve("q_proj", &[(0.0, 1.0), (1.0, f64::INFINITY)])];
    let err = line_chart(&path, "t", "layer", "%", &bad).unwrap_err();
    assert!(err.to_string().contains("curve `q_proj`"), "{err}");
    assert!(!path.exists());
}

#[test]
fn a_redraw_replaces_the_file_and_leaves_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bars.png");
    std::fs::write(&path, b"old").unwrap();
    method_bars(&path, "t", "accuracy", &sst2_bars()[..1]).unwrap();
    assert_eq!(decoded_size(&path), (900, 500));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn empty_input_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.png");
    let some = [curve("c", &[(1.0, 1.0)])];
    let empty_curve = [curve("dev accuracy", &[])];
    assert!(matches!(
        method_bars(&path, "t", "m", &[]),
        Err(PlotError::Empty(_))
    ));
    assert!(matches!(
        run_curves(&path, "t", &[], &some, "m"),
        Err(PlotError::Empty(_))
    ));
    assert!(matches!(
        run_curves(&path, "t", &some, &[], "m"),
        Err(PlotError::Empty(_))
    ));
    let err = run_curves(&path, "t", &some, &empty_curve, "m").unwrap_err();
    assert!(err.to_string().contains("`dev accuracy`"), "{err}");
    assert!(!path.exists());
}

#[test]
fn nan_is_refused_naming_the_method_or_curve() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.png");
    let bars = [
        bar("lora_r8", 0.9, 0.0, 1),
        bar("taso_r8", f64::NAN, 0.0, 1),
    ];
    let err = method_bars(&path, "t", "accuracy", &bars).unwrap_err();
    assert!(matches!(err, PlotError::NonFinite { .. }));
    assert!(err.to_string().contains("method `taso_r8`"), "{err}");

    let loss = [curve("train loss", &[(1.0, 0.5), (2.0, f64::NAN)])];
    let metrics = [curve("dev accuracy", &[(1.0, 0.5)])];
    let err = run_curves(&path, "t", &loss, &metrics, "accuracy").unwrap_err();
    assert!(err.to_string().contains("curve `train loss`"), "{err}");
    assert!(!path.exists());
}

#[test]
fn grouped_bars_write_a_1000_by_500_png_with_long_labels_whiskers_and_reference_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("knockout.png");
    // A grey baseline beside the two coloured series.
    let series = [
        Series::muted("base model"),
        Series::new("without it"),
        Series::new("it alone"),
    ];
    let groups: Vec<BarGroup> = ["self_attn.q_proj", "self_attn.k_proj", "mlp.down_proj"]
        .iter()
        .enumerate()
        .map(|(i, label)| BarGroup {
            label: label.to_string(),
            values: vec![0.63, 0.87 - 0.01 * i as f64, 0.70 + 0.05 * i as f64],
            // Whiskers on the first group only: a group may go without.
            spreads: if i == 0 {
                vec![0.0, 0.01, 0.02]
            } else {
                Vec::new()
            },
        })
        .collect();
    let references = [
        Reference {
            label: "all adapters attached".into(),
            value: 0.8716,
        },
        Reference {
            label: "none (the base model)".into(),
            value: 0.6319,
        },
    ];
    grouped_bars(
        &path,
        "Knock-out",
        "accuracy",
        &series,
        &groups,
        &references,
    )
    .unwrap();
    assert_eq!(decoded_size(&path), (1000, 500));
    let err = grouped_bars(&path, "t", "m", &series, &groups[..0], &[]).unwrap_err();
    assert!(matches!(err, PlotError::Empty(_)), "{err}");
}
