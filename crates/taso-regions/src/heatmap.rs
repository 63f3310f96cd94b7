//! Importance heat-maps, one PNG per matrix.
//!
//! The score matrix is mean-pooled into at most [`MAX_CELLS`] cells along its longer side
//! (square pooling windows, so the picture keeps the matrix's aspect ratio), drawn with a
//! log-scaled dark-to-bright colour map over four decades below the largest cell, and scaled
//! up so that the longer side is about 384 pixels. A strip on the left marks kept rows and one
//! on top marks kept columns: the darker the strip beside a cell, the larger the share of that
//! cell's rows (columns) that is kept.

use image::{ImageFormat, Rgb, RgbImage};
use std::io::Cursor;

/// The largest number of pooled cells along a side.
pub const MAX_CELLS: usize = 192;
/// The longer side of the heat-map area is scaled up to about this many pixels.
const TARGET_PIXELS: usize = 384;
/// Width of the kept-row and kept-column strips, and the gap beside them, in pixels.
const STRIP: usize = 10;
const GAP: usize = 2;
/// Decades of importance below the largest cell that the colour map spans.
const DECADES: f64 = 4.0;
/// Margin colour, and the colour of a fully kept band in the strips.
const PAPER: [u8; 3] = [255, 255, 255];
const KEPT: [u8; 3] = [0, 110, 190];
/// Colour-map anchors from no importance to the most (black, purple, red, orange, pale yellow).
const ANCHORS: [[u8; 3]; 5] = [
    [0, 0, 4],
    [87, 16, 110],
    [188, 55, 84],
    [249, 142, 9],
    [252, 255, 164],
];

/// Draws the heat-map of a row-major `[d_out, d_in]` score matrix with kept `rows` and `cols`.
pub fn render(
    d_out: usize,
    d_in: usize,
    scores: &[f32],
    rows: &[usize],
    cols: &[usize],
) -> RgbImage {
    let window = d_out.max(d_in).div_ceil(MAX_CELLS).max(1);
    let grid = Pooled::new(d_out, d_in, window, scores);
    let row_marks = band_shares(d_out, window, rows);
    let col_marks = band_shares(d_in, window, cols);
    let px = (TARGET_PIXELS / grid.rows.max(grid.cols)).max(1);
    let offset = STRIP + GAP;
    let (width, height) = (offset + grid.cols * px, offset + grid.rows * px);
    let (lo, hi) = grid.log_range();
    RgbImage::from_fn(width as u32, height as u32, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let colour = match (x.checked_sub(offset), y.checked_sub(offset)) {
            (Some(cx), Some(cy)) => colour_map(log_position(grid.at(cy / px, cx / px), lo, hi)),
            (None, Some(cy)) if x < STRIP => blend(PAPER, KEPT, row_marks[cy / px]),
            (Some(cx), None) if y < STRIP => blend(PAPER, KEPT, col_marks[cx / px]),
            _ => PAPER,
        };
        Rgb(colour)
    })
}

/// Encodes an image as PNG bytes.
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>, image::ImageError> {
    let mut bytes = Vec::new();
    image.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)?;
    Ok(bytes)
}

/// The file name of a matrix's heat-map: its module path with anything but letters, digits,
/// `.`, `-` and `_` replaced by `_`, plus `.png`.
pub fn file_name(matrix: &str) -> String {
    let safe: String = matrix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.png")
}

/// Mean-pooled scores.
struct Pooled {
    rows: usize,
    cols: usize,
    cells: Vec<f64>,
}

impl Pooled {
    fn new(d_out: usize, d_in: usize, window: usize, scores: &[f32]) -> Self {
        let (rows, cols) = (d_out.div_ceil(window), d_in.div_ceil(window));
        let mut sums = vec![0.0; rows * cols];
        let mut counts = vec![0u32; rows * cols];
        for (k, &v) in scores.iter().enumerate() {
            let cell = (k / d_in / window) * cols + (k % d_in) / window;
            sums[cell] += f64::from(v);
            counts[cell] += 1;
        }
        let cells = sums
            .iter()
            .zip(&counts)
            .map(|(s, &n)| s / f64::from(n.max(1)))
            .collect();
        Self { rows, cols, cells }
    }

    fn at(&self, row: usize, col: usize) -> f64 {
        self.cells[row * self.cols + col]
    }

    /// `ln` of the lowest and highest values the colour map spans.
    fn log_range(&self) -> (f64, f64) {
        let hi = self.cells.iter().copied().fold(0.0, f64::max);
        let floor = hi * 10f64.powf(-DECADES);
        let lo = self
            .cells
            .iter()
            .copied()
            .filter(|&v| v > 0.0)
            .fold(hi, f64::min)
            .max(floor);
        (lo.ln(), hi.ln())
    }
}

/// Where `value` sits between `exp(lo)` and `exp(hi)` on a log scale, in [0, 1]; 0 for zero.
fn log_position(value: f64, lo: f64, hi: f64) -> f64 {
    if value <= 0.0 {
        0.0
    } else if hi > lo {
        ((value.ln() - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// For each pooling band of a dimension of size `d`, the share of its lines that is kept.
fn band_shares(d: usize, window: usize, kept: &[usize]) -> Vec<f64> {
    let mut counts = vec![0usize; d.div_ceil(window)];
    for &i in kept {
        counts[i / window] += 1;
    }
    counts
        .iter()
        .enumerate()
        .map(|(band, &n)| n as f64 / (window.min(d - band * window)) as f64)
        .collect()
}

/// The colour at position `t` in [0, 1] of the colour map.
fn colour_map(t: f64) -> [u8; 3] {
    let scaled = t * (ANCHORS.len() - 1) as f64;
    let i = (scaled.floor() as usize).min(ANCHORS.len() - 2);
    blend(ANCHORS[i], ANCHORS[i + 1], scaled - i as f64)
}

/// `a` moved towards `b` by `t` in [0, 1].
fn blend(a: [u8; 3], b: [u8; 3], t: f64) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    std::array::from_fn(|c| {
        (f64::from(a[c]) + (f64::from(b[c]) - f64::from(a[c])) * t).round() as u8
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_matrices_are_pooled_keeping_their_aspect() {
        let (d_out, d_in) = (400, 100);
        let scores: Vec<f32> = (0..d_out * d_in).map(|k| (k % 7) as f32).collect();
        let image = render(d_out, d_in, &scores, &[0, 1, 2], &[5]);
        // 400 rows pool by 3 into 134 cells of 2 pixels: 268 + strip and gap.
        assert_eq!(image.height() as usize, 134 * 2 + STRIP + GAP);
        assert_eq!(image.width() as usize, 34 * 2 + STRIP + GAP);
    }

    #[test]
    fn strips_mark_kept_lines_and_colours_follow_importance() {
        let scores = [0.0, 1.0, 100.0, 10.0];
        let image = render(2, 2, &scores, &[1], &[0]);
        let px = TARGET_PIXELS / 2;
        let at = |x: usize, y: usize| image.get_pixel(x as u32, y as u32).0;
        let (first, second) = (STRIP + GAP + px / 2, STRIP + GAP + px + px / 2);
        assert_eq!(at(1, first), PAPER, "row 0 is not kept");
        assert_eq!(at(1, second), KEPT, "row 1 is kept");
        assert_eq!(at(first, 1), KEPT, "column 0 is kept");
        assert_eq!(at(second, 1), PAPER, "column 1 is not kept");
        assert_eq!(at(first, first), ANCHORS[0], "zero importance");
        assert_eq!(at(first, second), ANCHORS[4], "the largest cell");
        let brightness = |c: [u8; 3]| c.iter().map(|&v| u32::from(v)).sum::<u32>();
        assert!(brightness(at(second, second)) > brightness(at(second, first)));
    }

    #[test]
    fn pngs_decode_and_names_are_safe() {
        let image = render(3, 2, &[1.0; 6], &[0], &[1]);
        let bytes = encode_png(&image).unwrap();
        let back = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(back, image);
        assert_eq!(file_name("encoder.layer.0/a b"), "encoder.layer.0_a_b.png");
    }
}
