//! `cargo run -p taso-gguf --example write_tiny_gguf OUT.gguf`: writes the tiny untied test
//! model of `taso_gguf::testing` (every supported tensor type), so that
//! `scripts/reference/check_gguf_import.py --weights-only` can compare the import of it with
//! gguf-py's dequantisation.

use std::path::PathBuf;

use anyhow::{Context, Result};
use taso_gguf::testing::{write_tiny_model, TinyModel};

fn main() -> Result<()> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .context("usage: write_tiny_gguf OUT.gguf")?
        .into();
    let model = TinyModel {
        tied: false,
        ..TinyModel::default()
    };
    write_tiny_model(&path, &model).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}
