//! Shared drawing plumbing: the embedded font, the colours, the in-memory bitmap, PNG encoding
//! and the atomic write.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::PlotError;

/// The font family every text style of this crate names; it maps to the embedded TTF.
///
/// Keep font sizes even: plotters' ab_glyph text places each glyph at `size / 2` plus the
/// glyph's top, truncated to whole pixels, so odd sizes lift some glyphs (e.g. `.`) a pixel.
pub(crate) const FONT: &str = "sans-serif";

/// DejaVu Sans, embedded so that no system font lookup is ever needed.
const FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// A whole image, drawn in memory.
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Colour-blind friendly series colours (Tableau 10), used in turn.
const PALETTE: [RGBColor; 8] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(89, 161, 79),
    RGBColor(225, 87, 89),
    RGBColor(176, 122, 161),
    RGBColor(118, 183, 178),
    RGBColor(156, 117, 95),
    RGBColor(237, 201, 72),
];

/// Grey for grid lines.
pub(crate) const GRID: RGBColor = RGBColor(225, 225, 225);

/// Grey for secondary text and marks.
pub(crate) const MUTED: RGBColor = RGBColor(110, 110, 110);

/// The colour of the `index`-th series.
pub(crate) fn series_color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// Draws an image of `size` pixels on a white background with `draw`, then writes it to `path`
/// as a PNG (atomically, creating the parent folder when missing).
pub(crate) fn render_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Result<(), PlotError>,
) -> Result<(), PlotError> {
    register_font()?;
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    write_png_file(path, &encode_png(&rgb, size)?)
}

/// Registers the embedded font with plotters, once per process.
fn register_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    ok.then_some(()).ok_or(PlotError::Font)
}

/// Encodes 8-bit RGB pixels as a PNG file's bytes.
fn encode_png(rgb: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>, PlotError> {
    let encode_err = |e: png::EncodingError| PlotError::Render(format!("PNG encoding: {e}"));
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(encode_err)?;
    writer.write_image_data(rgb).map_err(encode_err)?;
    writer.finish().map_err(encode_err)?;
    Ok(bytes)
}

/// Creates `path`'s folder and writes `bytes` there atomically (`taso_artifact::write_atomic`):
/// `path` holds either its old content or the whole new file, never a partial one.
fn write_png_file(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    let io_err = |source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io_err)?;
    }
    taso_artifact::write_atomic(path, bytes).map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_the_folder_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/out.png");
        write_png_file(&path, b"first").unwrap();
        write_png_file(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.png"]);
    }

    #[test]
    fn atomic_write_refuses_a_path_without_file_name() {
        let err = write_png_file(Path::new("/"), b"x").unwrap_err();
        assert!(matches!(err, PlotError::Io { .. }), "{err}");
    }

    #[test]
    fn failed_rename_removes_the_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("taken.png");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), b"x").unwrap();
        assert!(write_png_file(&target, b"png").is_err());
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only the folder itself is left");
    }
}
