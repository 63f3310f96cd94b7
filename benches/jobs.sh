#!/usr/bin/env bash
# Training throughput of `taso-compare --jobs`: one LoRA r=1 run on every core against one run
# per core at once (one thread each), STEPS steps of the task's config each, side by side in
# ROUNDS alternating rounds. Prints each round's times and the throughput ratio (all jobs / one).
# Usage: benches/jobs.sh [TASK] [STEPS] [ROUNDS]   (from the project root, after `just build`)
set -euo pipefail
task=${1:-rte} steps=${2:-40} rounds=${3:-2}
cores=$(nproc)
bin=target/release
common=(--config "configs/$task.toml" --set run.method=lora --set regions.rank=1)
names=(one $(seq -f "job%g" 1 "$cores"))
trap 'for n in "${names[@]}"; do rm -rf "runs/$task/bench-jobs-$n"; done' EXIT
for n in "${names[@]}"; do
  for stage in regions lora; do
    "$bin/taso-$stage" "${common[@]}" --set run.name="bench-jobs-$n" > /dev/null
  done
done
train() { # NAME THREADS
  "$bin/taso-train" "${common[@]}" --set run.name="bench-jobs-$1" --set run.threads="$2" \
    --set train.max_steps="$steps" --set train.epochs=1 --set train.dev_subset=32 > /dev/null 2>&1
}
now() { date +%s.%N; }
for round in $(seq 1 "$rounds"); do
  t0=$(now); train one "$cores"; t1=$(now)
  for job in $(seq 1 "$cores"); do train "job$job" 1 & done; wait; t2=$(now)
  python3 -c "one=$t1-$t0; jobs=$t2-$t1; print(f'round $round: 1 run x $cores threads {one:.1f}s for $steps steps; $cores runs x 1 thread {jobs:.1f}s for $cores x $steps steps; throughput ratio {$cores*one/jobs:.2f}')"
done
