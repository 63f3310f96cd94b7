#!/usr/bin/env bash
# How training time and memory grow with sequence length, batch size and model size
# (docs/results.md, "Training against PyTorch + PEFT": the scale table). TASO at the rank-1
# budget, STEPS training steps of random batches at each point, 2 threads, one process at a time:
#   - MiniLM-L6 on RTE, batch 32, max length 32 / 64 / 128 (RTE's pairs fill 32 and 64 tokens);
#   - MiniLM-L6 on RTE, max length 128, batch 8 / 32 / 64;
#   - SmolLM2-135M-Instruct on sst2-prompt, batch 8, max length 96, against MiniLM-L6 at the
#     same batch and length.
# Scoring, regions and adapter-init are made once per model (4 calibration batches) and copied
# into every point's run folder. Peak RSS is the whole process's (/usr/bin/time).
#
# Usage: benches/train_scale.sh [STEPS]   (from the project root, after `just build`; default 6)
# Table: runs/bench-scale/train-scale.md.
set -euo pipefail
steps=${1:-6}
out=runs/bench-scale
mkdir -p "$out"
log=$out/train-scale.log
: >"$log"
quiet() { "$@" >>"$log" 2>&1 || { echo "failed: $* (log: $log)" >&2; tail -20 "$log" >&2; exit 1; }; }
common=(--set "run.runs_dir=$out" --set run.threads=2 --set run.method=taso --set run.holdout=0
  --set score.batches=4 --set train.batching=random --set "train.max_steps=$steps"
  --set train.eval_every_epoch=false --set train.dev_subset=8)

# The stage 1-3 artifacts of each model, made once.
for task in rte sst2-prompt; do
  for stage in score regions lora; do
    quiet target/release/taso-$stage --config "configs/$task.toml" "${common[@]}" --set run.name=init
  done
done

point() { # TASK BATCH MAX_LEN -> "examples/s tokens/s peak-RSS-bytes"
  local task=$1 batch=$2 len=$3 name=b$2-l$3
  mkdir -p "$out/$task/$name"
  cp "$out/$task/init"/{importance,regions,adapter-init}.safetensors "$out/$task/$name/"
  /usr/bin/time -f %M -o "$out/rss" target/release/taso-train --config "configs/$task.toml" \
    "${common[@]}" --set "run.name=$name" --set "train.batch_size=$batch" --set "run.max_len=$len" \
    >>"$log" 2>&1 || { echo "failed: $task $name (log: $log)" >&2; exit 1; }
  local metrics=$out/$task/$name/metrics.json
  awk -v rss="$(tail -1 "$out/rss")" -F'[:,]' '
    /"examples_per_second"/ { ex = $2 } /"tokens_per_second"/ { tok = $2 }
    END { printf "%.1f %.0f %.2f\n", ex, tok, rss / 1048576 }' "$metrics"
}

table=$out/train-scale.md
{
  echo "Training cost, TASO at the rank-1 budget, $steps steps of random batches, 2 threads, $(date -u +%F)."
  echo
  echo "| model | task | batch | max length | examples/s | tokens/s | peak RSS (GiB) |"
  echo "|---|---|---|---|---|---|---|"
  for point in "rte 32 32" "rte 32 64" "rte 32 128" "rte 8 128" "rte 64 128" "rte 8 96" "sst2-prompt 8 96"; do
    read -r task batch len <<<"$point"
    model=MiniLM-L6
    [ "$task" = sst2-prompt ] && model=SmolLM2-135M
    read -r ex tok rss <<<"$(point "$task" "$batch" "$len")"
    echo "| $model | $task | $batch | $len | $ex | $tok | $rss |"
  done
} >"$table"
cat "$table"
