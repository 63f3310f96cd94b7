//! The campaign layer: the record continues where it stopped and sums per target, and the
//! supervisor turns a worker that dies on an allocation past its cap into a saved finding.

use std::process::Command;

use taso_fuzz::campaign::record::{self, Row};
use taso_fuzz::Target;

fn row(target: &str, seed: u64, first_case: u64, cases: u64, finding: &str) -> Row {
    Row {
        date: "2026-12-04T00:00:00Z".into(),
        target: target.into(),
        seed,
        first_case,
        cases,
        cpu_seconds: 1800.0,
        finding: finding.into(),
    }
}

#[test]
fn the_record_round_trips_continues_and_sums() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("campaign.tsv");
    let rows = [
        row("gguf", 0, 0, 100, "-"),
        row("gguf", 0, 100, 50, "panic case 149"),
        row("gguf", 1, 0, 7, "-"),
        row("tsv", 0, 0, 10, "-"),
    ];
    for r in &rows {
        record::append(&path, r).unwrap();
    }
    let read = record::read(&path).unwrap();
    assert_eq!(read, rows);
    assert_eq!(record::next_case(&read, Target::Gguf, 0), 150);
    assert_eq!(record::next_case(&read, Target::Gguf, 1), 7);
    assert_eq!(record::next_case(&read, Target::Jsonl, 0), 0);
    let totals = record::totals(&read);
    let (_, gguf) = totals.iter().find(|(t, _)| *t == Target::Gguf).unwrap();
    assert_eq!((gguf.cases, gguf.findings), (157, 1));
    assert!((gguf.cpu_hours - 1.5).abs() < 1e-9);
}

#[test]
fn a_malformed_record_line_is_refused_with_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("campaign.tsv");
    record::append(&path, &row("tsv", 0, 0, 10, "-")).unwrap();
    std::fs::write(
        &path,
        std::fs::read_to_string(&path).unwrap() + "not a row\n",
    )
    .unwrap();
    let error = record::read(&path).unwrap_err().to_string();
    assert!(error.contains("campaign.tsv:3"), "{error}");
}

#[test]
fn an_allocation_past_the_cap_is_saved_as_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let findings = dir.path().join("findings");
    let output = Command::new(env!("CARGO_BIN_EXE_taso-fuzz"))
        .args(["run", "--target", "gguf", "--cpu-minutes", "0.01"])
        .args(["--memory-mib", "2", "--findings-dir"])
        .arg(&findings)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("FINDING oversized-allocation"), "{stderr}");
    let saved: Vec<String> = std::fs::read_dir(&findings)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        saved
            .iter()
            .any(|n| n.starts_with("gguf-oversized-allocation-seed0-case") && n.ends_with(".bin")),
        "{saved:?}"
    );
}
