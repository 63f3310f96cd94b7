//! `taso-eval` as a user meets it first: a config that is not there. (Training then evaluating
//! is tested where both stages are at hand, in the workspace's `tests/train_then_eval.rs`.)

use std::process::Command;

#[test]
fn a_missing_config_is_named_with_the_flag_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.toml");
    let output = Command::new(env!("CARGO_BIN_EXE_taso-eval"))
        .arg("--config")
        .arg(&missing)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("nowhere.toml") && stderr.contains("--config"),
        "{stderr}"
    );
}
