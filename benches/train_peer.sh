#!/usr/bin/env bash
# Training speed and memory against PyTorch + PEFT on the same machine, on the same batches
# (docs/results.md, "Training against PyTorch + PEFT"). For each of dense LoRA r=1, LoRA r=8 and
# the TASO adapter: taso-train and benches/peer/peft_train.py step through the batches
# `taso-train --write-batches` writes, starting from the same adapter-init, with the same
# threads; rounds interleave the two. Then taso's default (length-bucketed) batches against the
# peer on random batches (each side's default). Examples/s and tokens/s count training steps only
# (forward, backward, clipping, AdamW); peak RSS is the whole process's (/usr/bin/time).
#
# Usage: benches/train_peer.sh [TASK] [ROUNDS]   (from the project root, after `just build`)
#   TASK: rte (MiniLM-L6, 640 pairs, batch 32, max length 128; default) or sst2-prompt
#   (SmolLM2-135M-Instruct, 128 prompts, batch 8, max length 96). ROUNDS: default 2.
#   PYTHON: the interpreter with torch, transformers and peft (default .venv-ref/bin/python).
# Table: runs/bench-TASK/train-peer.md.
set -euo pipefail
task=${1:-rte}
rounds=${2:-2}
python=${PYTHON:-.venv-ref/bin/python}
threads=2
case $task in
  rte) settings=(--set train.train_subset=640 --set train.batch_size=32 --set run.max_len=128); labels=2 ;;
  sst2-prompt) settings=(--set train.train_subset=128 --set train.batch_size=8 --set run.max_len=96); labels=0 ;;
  *) echo "TASK must be rte or sst2-prompt" >&2; exit 2 ;;
esac
out=runs/bench-$task
mkdir -p "$out"
common=(--config "configs/$task.toml" --set "run.runs_dir=$out" --set "run.threads=$threads"
  --set train.epochs=1 --set train.eval_every_epoch=false --set train.dev_subset=32
  --set run.holdout=0 --set score.batches=4 "${settings[@]}")
methods=(lora-r1 lora-r8 taso)
method_settings() {
  case $1 in
    lora-r1) echo "--set run.method=lora --set regions.rank=1" ;;
    lora-r8) echo "--set run.method=lora --set regions.rank=8" ;;
    taso) echo "--set run.method=taso" ;;
  esac
}
peer_method() { [ "$1" = taso ] && echo taso || echo lora; }
log=$out/train-peer.log
: >"$log"
quiet() { "$@" >>"$log" 2>&1 || { echo "failed: $* (log: $log)" >&2; tail -20 "$log" >&2; exit 1; }; }

# Adapter-inits, and the batches of each batching strategy (the same for every method).
for m in "${methods[@]}"; do
  for stage in score regions lora; do
    # shellcheck disable=SC2046
    quiet target/release/taso-$stage "${common[@]}" $(method_settings "$m") --set "run.name=$m"
  done
done
for batching in random bucketed; do
  quiet target/release/taso-train "${common[@]}" --set run.name=lora-r1 --set "train.batching=$batching" \
    --write-batches "$out/batches-$batching.safetensors"
done

# One timed run: prints "examples/s tokens/s peak-RSS-bytes".
taso_run() { # METHOD BATCHING
  # shellcheck disable=SC2046
  /usr/bin/time -f %M -o "$out/rss" target/release/taso-train "${common[@]}" $(method_settings "$1") \
    --set "run.name=$1" --set "train.batching=$2" >>"$log" 2>&1
  "$python" -c 'import json, sys; m = json.load(open(sys.argv[1])); print(m["examples_per_second"], m["tokens_per_second"], int(open(sys.argv[2]).read().split()[-1]) * 1024)' \
    "$out/$task/$1/metrics.json" "$out/rss"
}
peer_run() { # METHOD BATCHING
  local init=$out/$task/$1/adapter-init.safetensors
  "$python" benches/peer/peft_train.py --model "$(model_dir)" --batches "$out/batches-$2.safetensors" \
    --adapter-init "$init" --method "$(peer_method "$1")" --threads $threads --labels $labels 2>>"$log" |
    "$python" -c 'import json, sys; m = json.loads(sys.stdin.read().strip().splitlines()[-1]); print(m["examples_per_second"], m["tokens_per_second"], m["peak_rss_bytes"])'
}
# Scoring: taso-score's 16 calibration batches against the peer's importance over the first 16
# batches of the random plan (the same batch size); examples/s of the scoring loop. Both score
# the training loss (the peer has no choice loss, the default on a prompt task with candidates).
score_steps=16
taso_score() {
  target/release/taso-score "${common[@]}" --set run.method=taso --set run.name=score-time \
    --set "score.batches=$score_steps" --set score.loss=answer >"$out/score.log" 2>&1 ||
    { tail "$out/score.log" >&2; exit 1; }
  cat "$out/score.log" >>"$log"
  grep -o "batch $score_steps/$score_steps: [^,]*, [0-9.]* examples/s" "$out/score.log" | awk '{ print $(NF-1) }'
}
peer_score() {
  "$python" benches/peer/peft_train.py --model "$(model_dir)" --batches "$out/batches-random.safetensors" \
    --adapter-init "$out/$task/taso/adapter-init.safetensors" --method taso --threads $threads \
    --labels $labels --score-steps $score_steps 2>>"$log" |
    "$python" -c 'import json, sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["examples_per_second"])'
}
model_dir() { awk -F'"' '/^model *=/ { print $2; exit }' "configs/$task.toml" | sed 's|^\.\./||'; }

declare -A ours theirs
scores_ours=()
scores_theirs=()
for round in $(seq "$rounds"); do
  for m in "${methods[@]}"; do
    ours[$m,same,$round]=$(taso_run "$m" random)
    theirs[$m,same,$round]=$(peer_run "$m" random)
    echo "round $round $m same batches: taso ${ours[$m,same,$round]} | peer ${theirs[$m,same,$round]}" >&2
  done
  for m in lora-r1 taso; do
    ours[$m,default,$round]=$(taso_run "$m" bucketed)
    theirs[$m,default,$round]=${theirs[$m,same,$round]}
    echo "round $round $m defaults: taso ${ours[$m,default,$round]}" >&2
  done
  scores_ours+=("$(taso_score)")
  scores_theirs+=("$(peer_score)")
  echo "round $round scoring: taso ${scores_ours[-1]} | peer ${scores_theirs[-1]} examples/s" >&2
done

table=$out/train-peer.md
{
  echo "Training, $task, $threads threads, $(date -u +%F); examples/s per round, ratio of the medians, peak RSS (largest round)."
  echo
  echo "| run | taso ex/s | peer ex/s | ratio | taso tokens/s | peer tokens/s | taso peak RSS | peer peak RSS | RSS ratio |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for row in lora-r1,same lora-r8,same taso,same lora-r1,default taso,default; do
    m=${row%,*}; kind=${row#*,}
    a=(); b=()
    for round in $(seq "$rounds"); do a+=("${ours[$m,$kind,$round]}"); b+=("${theirs[$m,$kind,$round]}"); done
    "$python" - "$m" "$kind" "${a[@]}" -- "${b[@]}" <<'EOF'
import statistics, sys
m, kind, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
cut = rest.index("--")
ours = [list(map(float, r.split())) for r in rest[:cut]]
theirs = [list(map(float, r.split())) for r in rest[cut + 1:]]
name = {"lora-r1": "dense LoRA r=1", "lora-r8": "dense LoRA r=8", "taso": "TASO adapter"}[m]
what = "same random batches" if kind == "same" else "taso bucketed vs peer random (defaults)"
peer = "PEFT" if m != "taso" else "PyTorch sparse module"
col = lambda rows, i: " / ".join(f"{r[i]:.1f}" for r in rows)
med = lambda rows, i: statistics.median(r[i] for r in rows)
rss = lambda rows: max(r[2] for r in rows)
print(f"| {name}, {what} ({peer}) | {col(ours, 0)} | {col(theirs, 0)} | {med(ours, 0) / med(theirs, 0):.2f}× "
      f"| {med(ours, 1):.0f} | {med(theirs, 1):.0f} | {rss(ours) / 2**30:.2f} GiB | {rss(theirs) / 2**30:.2f} GiB "
      f"| {rss(ours) / rss(theirs):.2f} |")
EOF
  done
  "$python" - "${scores_ours[@]}" -- "${scores_theirs[@]}" <<'EOF'
import statistics, sys
rest = sys.argv[1:]
cut = rest.index("--")
ours, theirs = [float(x) for x in rest[:cut]], [float(x) for x in rest[cut + 1:]]
col = lambda xs: " / ".join(f"{x:.1f}" for x in xs)
print(f"| importance scoring, the same batch size (peer: autograd over the adapted weights) | {col(ours)} "
      f"| {col(theirs)} | {statistics.median(ours) / statistics.median(theirs):.2f}× | | | | | |")
EOF
} >"$table"
cat "$table"
