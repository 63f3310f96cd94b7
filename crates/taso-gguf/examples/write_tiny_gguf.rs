//! `cargo run -p taso-gguf --example write_tiny_gguf OUT.gguf [llama|qwen2]`: writes the tiny
//! untied test model of `taso_gguf::testing` (every supported tensor type), so that
//! `scripts/reference/check_gguf_import.py --weights-only` can compare the import of it with
//! gguf-py's dequantisation.

use std::path::PathBuf;

use anyhow::{Context, Result};
use taso_gguf::testing::{write_tiny_model, TinyModel};

fn main() -> Result<()> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .context("usage: write_tiny_gguf OUT.gguf [llama|qwen2]")?
        .into();
    let architecture = match std::env::args().nth(2).as_deref() {
        None | Some("llama") => "llama",
        Some("qwen2") => "qwen2",
        Some(other) => anyhow::bail!("unknown architecture '{other}': use llama or qwen2"),
    };
    let model = TinyModel {
        architecture,
        tied: false,
        ..TinyModel::default()
    };
    write_tiny_model(&path, &model).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}
