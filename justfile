# taso task runner. Run `scripts/bootstrap.sh` once (or prefix any command with it): it installs
# libtorch, just, the default encoder and the data link into this folder.

set shell := ["bash", "-euo", "pipefail", "-c"]

model := "models/all-MiniLM-L6-v2"

# A task name (`rte` → configs/rte.toml) or a path to a config file.
config := 'cfg() { if [ -f "$1" ]; then echo "$1"; elif [ -f "configs/$1.toml" ]; then echo "configs/$1.toml"; else echo "no config $1 (nor configs/$1.toml): give a task name of configs/ or a config file" >&2; exit 2; fi; }; cfg'

# Starts NPROC ranks of a program: torchrun where .venv's Python can import torch (the cuda
# flavour) or .venv-torchrun's can (TASO_TORCHRUN=1 scripts/bootstrap.sh), else
# scripts/dist-run.sh (the cpu flavour's torch cannot be imported without CUDA).
launch := 'launch() { n=$1; shift; for v in .venv .venv-torchrun; do if "$v/bin/python" -c "import torch" 2>/dev/null; then "$v/bin/torchrun" --no-python --nproc-per-node "$n" "$@"; return; fi; done; scripts/dist-run.sh "$n" "$@"; }; launch'

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
    cargo test --workspace

# Lints: formatting and clippy, warnings as errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Fuzz the readers of untrusted files for MINUTES CPU-minutes per target (TARGET: safetensors,
# gguf, task-toml, tsv, jsonl or all): `just fuzz all 60 --jobs 2 --record`. See docs/reliability.md.
fuzz TARGET="all" MINUTES="1" *ARGS:
    cargo run --profile fuzz -p taso-fuzz -- run --target {{TARGET}} --cpu-minutes {{MINUTES}} {{ARGS}}

# CPU-hours, inputs and findings of the recorded fuzz campaigns (fuzz/campaign.tsv).
fuzz-summary:
    cargo run --profile fuzz -p taso-fuzz -- summary

# Describe a task: splits, sizes, labels, token lengths and padding of its batches.
task TASK *ARGS: build
    target/release/taso-data {{TASK}} --tokenizer {{model}}/tokenizer.json {{ARGS}}

# Run the base encoder on a jsonl file of {"text", "pair"} lines.
forward INPUT OUT *ARGS: build
    target/release/taso-forward --model {{model}} --input {{INPUT}} --out {{OUT}} {{ARGS}}

# Print an artifact's metadata and tensor table.
inspect FILE *ARGS: build
    target/release/taso-inspect {{FILE}} {{ARGS}}

# The whole method on a task: score -> regions -> lora -> train -> eval, into runs/TASK/default/.
# TASK is a task name or a config file; extra arguments go to every stage, e.g.
# `just pipeline rte --set run.method=lora` or `just pipeline my.toml --data-dir /data`.
pipeline TASK *ARGS: build
    c=$({{config}} {{TASK}}); for stage in score regions lora train eval; do target/release/taso-$stage --config "$c" {{ARGS}}; done

# The same five stages with a few steps on a few examples, into runs/TASK/smoke/: the quick
# installation check (encoders and decoders alike). TASK: a task name or a config file.
smoke TASK *ARGS: build
    c=$({{config}} {{TASK}}); for stage in score regions lora train eval; do target/release/taso-$stage --config "$c" --set run.name=smoke --set score.batches=2 --set score.batch_size=4 --set train.epochs=1 --set train.train_subset=16 --set train.max_steps=2 --set train.batch_size=4 --set train.dev_subset=8 --set eval.max_examples=8 --set generate.max_new_tokens=16 {{ARGS}}; done

# TASO vs LoRA r=1, LoRA r=8, random regions, BitFit and full fine-tuning: `just compare rte --seeds 3`
# (also --methods a,b, --lrs x,y and --jobs 2). Finished runs are reused; table in runs/TASK/compare/results.md.
compare TASK *ARGS: build
    c=$({{config}} {{TASK}}); target/release/taso-compare --config "$c" {{ARGS}}

# The decoder study on a prompt task (sst2-prompt, rte-prompt, qnli-prompt; `all`: the three, in
# the order the script gives): the five methods under hold-out selection, then the ablations, recorded in benches/results
# (PART: methods, leading (the variants ahead on another task), default (TASO with the defaults the
# study decided, under the methods' hold-out selection), ablations or all; extra arguments go to
# taso-compare, e.g. --report-only;
# `all verdicts`: the defaults the ablations decide; `all glance`: every task's methods as one chart;
# `all status`: the runs each step still lacks).
decoder-study TASK PART="all" *ARGS: build
    benches/decoder_study.sh {{TASK}} {{PART}} {{ARGS}}

# TASK: sst2, mrpc, stsb or all; TASO and each variant under hold-out selection, 3 seeds, recorded
# in benches/results; extra arguments go to taso-compare (e.g. --report-only).
# The settings the decoder study favours, back on the encoder tasks (benches/encoder_recheck.sh).
encoder-recheck TASK="all" *ARGS: build
    benches/encoder_recheck.sh {{TASK}} {{ARGS}}

# Training throughput of `taso-compare --jobs`: one run on every core vs one one-thread run per
# core at once, side by side (benches/jobs.sh TASK STEPS ROUNDS).
bench-jobs TASK="rte" STEPS="40": build
    benches/jobs.sh {{TASK}} {{STEPS}}

# The GPU check (benches/gpu.sh): the stripped release binaries it needs and the CUDA-against-CPU
# tests of taso-models (as cuda-tests), in .gpu-bin/, to carry to a GPU machine with the tokenizer;
# there: TASO_BIN=.gpu-bin benches/gpu.sh OUT. `just gpu-dry-run` runs it on the CPU with tiny shapes.
gpu-bundle: build
    mkdir -p .gpu-bin && for b in forward score regions lora train; do strip -o .gpu-bin/taso-$b target/release/taso-$b; done
    t=$(cargo test --release -p taso-models --test cuda --no-run 2>&1 | grep -o 'target/release/deps/cuda-[0-9a-f]*' | tail -1) && strip -o .gpu-bin/cuda-tests "$t" && du -sh .gpu-bin

gpu-dry-run OUT="runs/gpu-dry": build
    benches/gpu.sh --dry-run {{OUT}}

# Training against PyTorch + PEFT on the same batches (benches/train_peer.sh TASK ROUNDS): dense
# LoRA r=1, r=8 and the TASO adapter, then each side's default batching; needs .venv-ref with peft.
bench-train TASK="rte" ROUNDS="2": build
    PYTHON=${PYTHON:-.venv-ref/bin/python} benches/train_peer.sh {{TASK}} {{ROUNDS}}

# How training time and memory grow with sequence length, batch size and model size
# (benches/train_scale.sh STEPS): TASO, a few steps at each point.
bench-scale STEPS="6": build
    benches/train_scale.sh {{STEPS}}

# Peak memory with and without activation checkpointing: a finished run's first STEPS training
# steps twice, side by side (benches/checkpoint_memory.sh RUN_DIR STEPS).
bench-checkpoint RUN_DIR STEPS="4": build
    benches/checkpoint_memory.sh {{RUN_DIR}} {{STEPS}}

# Encoder inference throughput (ours: random vs bucketed vs sorted batches; with .venv-ref also
# Hugging Face transformers on the sorted plan), measured side by side in one run.
bench-forward TASK="rte":
    cargo bench --bench encoder_forward -- {{TASK}}
    if [ -x .venv-ref/bin/python ]; then .venv-ref/bin/python benches/peer/hf_forward.py {{TASK}}; else echo "no .venv-ref: skipping the transformers peer (see scripts/reference/make_fixtures.py)"; fi

# Two ranks of taso-dist's example all-reduce on this machine (docs/distributed.md).
dist-check:
    cargo build -p taso-dist --example allreduce
    {{launch}} 2 target/debug/examples/allreduce

# Scoring, training and evaluation shared by the ranks, rank 0 writing; regions and the
# adapter-init (seconds) in one process. Set run.threads so that NPROC × threads fits the cores.
# The pipeline data-parallel on NPROC local processes (docs/distributed.md).
pipeline-parallel TASK NPROC="2" *ARGS: build
    c=$({{config}} {{TASK}}); {{launch}} {{NPROC}} target/release/taso-score --config "$c" {{ARGS}}; for stage in regions lora; do target/release/taso-$stage --config "$c" {{ARGS}}; done; for stage in train eval; do {{launch}} {{NPROC}} target/release/taso-$stage --config "$c" {{ARGS}}; done
