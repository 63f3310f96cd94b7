//! The workspace's shape, checked from `cargo metadata`: the five stage crates stand side by
//! side on the foundation crates (none depends on another, not even for its tests), the
//! foundation never imports a stage, the artifact crate stays a leaf without the command-line
//! stack, and libraries pull in clap and anyhow only for their binaries (`cli` feature). The
//! fuzzer (`taso-fuzz`, a development tool) may use the foundation but no stage.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

const STAGES: [&str; 5] = [
    "taso-score",
    "taso-regions",
    "taso-lora",
    "taso-train",
    "taso-eval",
];
const FOUNDATION: [&str; 8] = [
    "taso-artifact",
    "taso-data",
    "taso-models",
    "taso-adapter",
    "taso-run",
    "taso-gguf",
    "taso-plot",
    "taso-dist",
];

/// Example crates under `examples/`: users of the libraries, bound by neither list.
const EXAMPLES: [&str; 1] = ["score-mlp"];

/// Development tools (the fuzzer): not published, they may use the foundation but no stage.
const TOOLS: [&str; 1] = ["taso-fuzz"];

/// One dependency as a manifest lists it.
struct Dependency {
    name: String,
    kind: String,
    optional: bool,
}

/// Every workspace package's dependencies, by package name.
fn workspace() -> BTreeMap<String, Vec<Dependency>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    packages
        .iter()
        .map(|package| {
            let dependencies = package["dependencies"].as_array().unwrap();
            let dependencies = dependencies
                .iter()
                .map(|d| Dependency {
                    name: d["name"].as_str().unwrap().to_string(),
                    kind: d["kind"].as_str().unwrap_or("normal").to_string(),
                    optional: d["optional"].as_bool().unwrap_or(false),
                })
                .collect();
            (package["name"].as_str().unwrap().to_string(), dependencies)
        })
        .collect()
}

#[test]
fn every_crate_is_a_stage_or_foundation_and_stages_stand_side_by_side() {
    let workspace = workspace();
    for name in workspace
        .keys()
        .filter(|n| *n != "taso" && !EXAMPLES.contains(&n.as_str()))
    {
        assert!(
            [&STAGES[..], &FOUNDATION, &TOOLS]
                .concat()
                .contains(&name.as_str()),
            "`{name}` is neither a stage nor a foundation crate: add it to this test's lists"
        );
    }
    for (name, dependencies) in &workspace {
        let forbidden: &[&str] = if [&STAGES[..], &FOUNDATION, &TOOLS]
            .concat()
            .contains(&name.as_str())
        {
            &STAGES
        } else {
            &[]
        };
        for d in dependencies {
            assert!(
                d.name == *name || !forbidden.contains(&d.name.as_str()),
                "`{name}` depends on the stage crate `{}` ({} dependency); a crate may use \
                 only foundation crates and reach a stage through its artifacts",
                d.name,
                d.kind
            );
        }
    }
}

#[test]
fn the_artifact_crate_is_a_leaf_without_the_command_line_stack() {
    let workspace = workspace();
    for d in workspace["taso-artifact"]
        .iter()
        .filter(|d| d.kind != "dev")
    {
        assert!(
            !d.name.starts_with("taso-"),
            "taso-artifact depends on `{}`: it must stay the workspace's leaf",
            d.name
        );
        assert!(
            !["clap", "anyhow", "toml", "tracing-subscriber"].contains(&d.name.as_str()),
            "taso-artifact depends on `{}`",
            d.name
        );
    }
}

#[test]
fn libraries_take_clap_and_anyhow_only_for_their_binaries() {
    let workspace = workspace();
    let libraries = workspace.iter().filter(|(n, _)| {
        *n != "taso" && !EXAMPLES.contains(&n.as_str()) && !TOOLS.contains(&n.as_str())
    });
    for (name, dependencies) in libraries {
        for d in dependencies.iter().filter(|d| d.kind == "normal") {
            let cli_only = ["clap", "anyhow", "tracing-subscriber"].contains(&d.name.as_str());
            assert!(
                !cli_only || d.optional,
                "`{name}` depends on `{}` unconditionally: make it optional under the crate's \
                 `cli` feature, which only its binary needs",
                d.name
            );
        }
    }
}

#[test]
fn the_scorer_alone_pulls_in_no_tokenizer_template_engine_or_command_line() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "taso-score",
            "--no-default-features",
            "-e",
            "normal",
        ])
        .args(["--prefix", "none", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8_lossy(&output.stdout);
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        assert!(
            ![
                "tokenizers",
                "minijinja",
                "clap",
                "anyhow",
                "taso-data",
                "taso-models"
            ]
            .contains(&name),
            "taso-score without default features pulls in {name}"
        );
    }
}
