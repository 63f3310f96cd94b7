//! Every config the project ships (configs/ and configs/paper/) reads and validates whole, and
//! names a task that loads: a typo in one is caught here, not by the user who runs it.

use std::path::{Path, PathBuf};
use taso::run::ResolvedConfig;

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && path.file_name().is_some_and(|n| n != "tasks") {
            toml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

#[test]
fn every_shipped_config_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut configs = Vec::new();
    toml_files(&root.join("configs"), &mut configs);
    assert!(configs.len() >= 15, "found only {configs:?}");
    assert!(configs.iter().any(|p| p.ends_with("paper/gsm8k.toml")));
    for path in &configs {
        let config =
            ResolvedConfig::load(path, &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let run = config
            .run()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        taso::data::load_any_task(&run.task)
            .unwrap_or_else(|e| panic!("{}: task {}: {e}", path.display(), run.task));
    }
}
