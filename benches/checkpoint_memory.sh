#!/usr/bin/env bash
# Peak memory and step time of training with and without activation checkpointing, side by side:
# the same run (its importance, regions and adapter-init copied from a finished run folder)
# trained for a few steps twice, `train.checkpoint_activations` off then on, each under
# `/usr/bin/time -v`. Prints peak RSS, the stage's own memory estimate and the step losses.
#
# Usage: benches/checkpoint_memory.sh RUN_DIR [STEPS] [extra --set arguments]
#   e.g. benches/checkpoint_memory.sh runs/sst2-prompt/cmp-decoder-taso-lr5e-4-s0 4
#   (from the project root, after `just build`; RUN_DIR holds config.toml and the stage-1–3 artifacts)
set -euo pipefail
run_dir=${1:?usage: benches/checkpoint_memory.sh RUN_DIR [STEPS] [--set ...]}
steps=${2:-4}
shift $(($# < 2 ? $# : 2))
model=$(awk -F' *= *' '$1 == "model" { gsub(/"/, "", $2); print $2; exit }' "$run_dir/config.toml")
# A run folder's config names the model from its own folder (older ones from the project root).
case $model in /*) ;; *) [ -e "$run_dir/$model" ] && model=$run_dir/$model ;; esac
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
task=$(basename "$(dirname "$run_dir")")
for checkpointed in false true; do
  mkdir -p "$scratch/$task/ckpt-$checkpointed"
  cp "$run_dir"/{importance,regions,adapter-init}.safetensors "$scratch/$task/ckpt-$checkpointed/"
  /usr/bin/time -v target/release/taso-train --config "$run_dir/config.toml" \
    --set "run.model=$(realpath "$model")" --set "run.runs_dir=$scratch" \
    --set "run.name=ckpt-$checkpointed" --set "train.max_steps=$steps" --set train.dev_subset=8 \
    --set train.log_every=1 --set "train.checkpoint_activations=$checkpointed" "$@" \
    >"$scratch/$checkpointed.log" 2>&1
  echo "checkpoint_activations = $checkpointed"
  grep -E "memory for training|step [0-9]+/$steps|Maximum resident" "$scratch/$checkpointed.log" |
    sed -e 's/^.*INFO [a-z_:]*: /  /' -e 's/^\s*Maximum/  Maximum/'
done
