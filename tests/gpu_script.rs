//! `benches/gpu.sh --dry-run`: every step of the GPU check on the CPU with tiny shapes — model
//! generation, parity through `taso-forward`, the three methods' stages in bf16, the table — so
//! the script is right before it meets a GPU machine. The transformers and PEFT rows are skipped
//! where python3 lacks those packages.

use std::path::Path;
use std::process::Command;
use taso::run::testing::workspace_binary;

#[test]
fn the_gpu_script_runs_dry_on_the_cpu() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tokenizer = root.join("models/SmolLM2-135M-Instruct");
    if !tokenizer.join("tokenizer.json").is_file() {
        eprintln!(
            "skipped: no {} (scripts/bootstrap.sh imports it)",
            tokenizer.display()
        );
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let bin = workspace_binary("taso-train");
    let output = Command::new("bash")
        .arg(root.join("benches/gpu.sh"))
        .arg("--dry-run")
        .arg(out.path())
        .env("TASO_BIN", bin.parent().unwrap())
        .env("TOKENIZER_DIR", &tokenizer)
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{log}");
    let table = std::fs::read_to_string(out.path().join("gpu.md")).unwrap();
    assert!(
        table.contains("| cpu f32 | CPU f32 | 0.00e+00 |"),
        "{table}"
    );
    for method in ["taso", "lora-r1", "lora-r8"] {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {method} |")))
            .unwrap_or_else(|| panic!("no {method} row in {table}"));
        let tokens_per_second: f64 = row.split('|').nth(2).unwrap().trim().parse().unwrap();
        assert!(tokens_per_second > 0.0, "{row}");
    }
    assert!(table.contains("Scoring 8 calibration examples"), "{table}");
}
