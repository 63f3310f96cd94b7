# taso task runner. Run `scripts/bootstrap.sh` once (or prefix any command with it): it installs
# libtorch, just, the default encoder and the data link into this folder.

set shell := ["bash", "-euo", "pipefail", "-c"]

model := "models/all-MiniLM-L6-v2"

# List the recipes.
default:
    @just --list

# Install what is missing (idempotent).
setup:
    scripts/bootstrap.sh

# Build every binary in release mode.
build:
    cargo build --release --workspace --bins

# The whole test suite (what CI runs).
test:
    cargo test --workspace --all-targets

# Lints: formatting and clippy, warnings as errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Describe a task: splits, sizes, labels, token lengths and padding of its batches.
task TASK *ARGS: build
    target/release/taso-data {{TASK}} --tokenizer {{model}}/tokenizer.json {{ARGS}}

# Run the base encoder on a jsonl file of {"text", "pair"} lines.
forward INPUT OUT *ARGS: build
    target/release/taso-forward --model {{model}} --input {{INPUT}} --out {{OUT}} {{ARGS}}

# Print an artifact's metadata and tensor table.
inspect FILE *ARGS: build
    target/release/taso-inspect {{FILE}} {{ARGS}}

# The TASO pipeline on a task. The five stage binaries land with issue 3; today this checks the
# foundation on the task: data, tokenization, batching, and the base model.
pipeline TASK: build
    target/release/taso-data {{TASK}} --tokenizer {{model}}/tokenizer.json
    @echo "pipeline: the stages score -> regions -> lora -> train -> eval are not implemented yet (issue 3)."

# Encoder inference throughput (ours: random vs bucketed vs sorted batches; with .venv-ref also
# Hugging Face transformers on the sorted plan), measured side by side in one run.
bench-forward TASK="rte":
    cargo bench --bench encoder_forward -- {{TASK}}
    if [ -x .venv-ref/bin/python ]; then .venv-ref/bin/python benches/peer/hf_forward.py {{TASK}}; else echo "no .venv-ref: skipping the transformers peer (see scripts/reference/make_fixtures.py)"; fi
