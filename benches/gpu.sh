#!/usr/bin/env bash
# The GPU check of docs/results.md ("On a GPU"), in one run of at most 8 minutes on one H200:
#   1. parity: a tiny random Qwen2 through taso-forward on the CPU and the GPU, f32 and bf16, and
#      against transformers on the GPU;
#   2. data-parallel on the device: scoring and training on 2 ranks against 1 process;
#   3. training: TASO and dense LoRA r=1 / r=8 in bf16 on a decoder with Qwen2.5-1.5B's shapes
#      (random weights made there from benches/gpu/qwen2.5-1.5b.json), the same steps of the same
#      shapes with transformers + PEFT, side by side: tokens/s, step time, peak GPU memory, the
#      ratio ours / PEFT and model FLOP utilisation;
#   4. scoring 512 calibration examples on the same model.
# It prints one markdown table and leaves it in OUT/gpu.md, the stages' output in OUT/gpu.log.
#
# Usage: benches/gpu.sh [--dry-run] [OUT]
#   On the GPU machine: release binaries (stripped) in $TASO_BIN (default target/release), the
#   python3 that holds torch, transformers and peft, and SmolLM2's tokenizer in $TOKENIZER_DIR.
#   --dry-run: the same steps on the CPU with tiny shapes (what CI runs); the transformers and
#   PEFT rows are skipped when those packages are missing.
set -euo pipefail
dry=0
if [ "${1:-}" = --dry-run ]; then dry=1; shift; fi
out=$(realpath -m "${1:-${OUT:-runs/gpu}}")
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "${TASO_BIN:-$root/target/release}")
tokenizer=$(realpath "${TOKENIZER_DIR:-$root/models/SmolLM2-135M-Instruct}")
tools="$root/benches/gpu/tools.py"
python=${PYTHON:-python3}
# Models, data and run folders go to $WORK (default OUT/work): several GB on the GPU machine,
# where OUT should hold only the table and the log that come back.
work=$(realpath -m "${WORK:-$out/work}")
mkdir -p "$out" "$work"
if [ $dry = 1 ]; then
  device=cpu; shapes=tiny; steps=2; rows=4; words=32; score_batches=2; score_rows=4
else
  device=cuda; shapes=qwen2.5-1.5b; steps=20; rows=16; words=511; score_batches=32; score_rows=16
  # The image's torch holds the CUDA build of libtorch 2.11 that the binaries were linked against.
  # Its torch/lib, and the CUDA runtime wheels' lib folders (libcudart, libcupti) beside it.
  libs=$("$python" -c 'import glob, os, torch
site = os.path.dirname(os.path.dirname(torch.__file__))
print(":".join([os.path.join(site, "torch", "lib")] + sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib")))))')
  export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# The transformers and PEFT rows: on the GPU machine always; in a dry run when the packages are there.
has_hf=$("$python" -c 'import torch, transformers, peft; print(int(torch.cuda.is_available() or '$dry'))' 2>/dev/null || echo 0)
table="$out/gpu.md"
log="$out/gpu.log"
: >"$log"
row() { echo "$*" | tee -a "$table"; }
quiet() { "$@" >>"$log" 2>&1 || { echo "failed: $* (log: $log)" >&2; tail -20 "$log" >&2; exit 1; }; }

# Peak GPU memory of one command, from nvidia-smi every 100 ms (what the process holds, context
# and allocator cache included, for ours and PEFT alike); "n/a" without nvidia-smi.
peak_memory() {
  local file="$work/memory.samples"
  if ! command -v nvidia-smi >/dev/null; then "$@"; echo n/a >"$work/peak"; return; fi
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$file" &
  local poller=$!
  "$@"
  kill $poller
  sort -n "$file" | tail -1 | awk '{ printf "%.1f GiB\n", $1 / 1024 }' >"$work/peak"
}

echo "# taso on $device ($(date -u +%F))" >"$table"
row ""
row "## Parity (tiny random Qwen2, 2 blocks; largest logit difference / largest logit)"
row ""
row "| run | against | gap |"
row "|---|---|---|"
quiet "$python" "$tools" make-model "$root/benches/gpu/tiny.json" "$tokenizer" "$work/tiny"
# The CUDA-against-CPU tests of taso-models (`just gpu-bundle` puts them beside the binaries).
if [ "$device" != cpu ] && [ -x "$bin/cuda-tests" ]; then
  if "$bin/cuda-tests" --test-threads 1 >>"$log" 2>&1; then verdict=passed; else verdict="FAILED (log: gpu.log)"; fi
  row "| taso-models tests/cuda.rs (tiny decoder logits, encoder head gradients, f32 and bf16) | CPU | $verdict |"
fi
printf '{"text": "The capital of France is Paris, and the capital of Italy is"}\n{"text": "the the"}\n' >"$work/inputs.jsonl"
forward() { quiet "$bin/taso-forward" --model "$work/tiny" --input "$work/inputs.jsonl" --out "$work/$1.safetensors" --device "$2" --dtype "$3"; }
forward cpu-f32 cpu f32
forward dev-f32 "$device" f32
forward dev-bf16 "$device" bf16
row "| $device f32 | CPU f32 | $("$python" "$tools" compare "$work/cpu-f32.safetensors" "$work/dev-f32.safetensors") |"
row "| $device bf16 | CPU f32 | $("$python" "$tools" compare "$work/cpu-f32.safetensors" "$work/dev-bf16.safetensors") |"
if [ "$has_hf" = 1 ]; then
  row "| $device f32 | transformers f32 | $("$python" "$tools" hf-compare "$work/tiny" "$work/dev-f32.safetensors" 2>>"$log") |"
else
  row "| transformers | — | skipped: no python3 with torch, transformers and peft |"
fi

# Data-parallel on the device: 2 ranks (torchrun when python3 has torch, else scripts/dist-run.sh;
# Gloo, device tensors through host copies) against one process, on the tiny Qwen2 in f32:
# scoring 4 batches, then training 6 steps from the same adapter-init.
row ""
against_cpu=""; [ "$device" = cpu ] || against_cpu=", and training against the CPU"
row "## Data-parallel on the $device (tiny Qwen2, f32, 2 ranks against 1 process)$against_cpu"
row ""
row "| stage | largest difference |"
row "|---|---|"
if "$python" -c 'import torch.distributed.run' 2>/dev/null; then
  launch=("$python" -m torch.distributed.run --no-python --nproc-per-node 2 --master-port 29517)
else
  launch=(env MASTER_PORT=29517 "$root/scripts/dist-run.sh" 2)
fi
quiet "$python" "$tools" make-task "$work/tiny-data" 32 64
for name in dp-one dp-two dp-cpu; do
  on=$device; [ $name = dp-cpu ] && on=cpu
  cat >"$work/$name.toml" <<TOML
[run]
task = "$work/tiny-data/synthetic.toml"
model = "$work/tiny"
data_dir = "$work/tiny-data"
runs_dir = "$work/runs"
name = "$name"
device = "$on"
max_len = 48
threads = 1
targets = ["self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"]

[score]
batches = 4
batch_size = 8

[regions]
heatmaps = false

[train]
epochs = 1
max_steps = 6
batch_size = 8
train_subset = 48
dev_subset = 8
TOML
done
one="$work/runs/synthetic/dp-one"
two="$work/runs/synthetic/dp-two"
for stage in score regions lora train; do quiet "$bin/taso-$stage" --config "$work/dp-one.toml"; done
quiet "${launch[@]}" "$bin/taso-score" --config "$work/dp-two.toml"
row "| scoring: importance | $("$python" "$tools" max-diff "$one/importance.safetensors" "$two/importance.safetensors") |"
cp "$one/importance.safetensors" "$one/regions.safetensors" "$one/adapter-init.safetensors" "$two/"
quiet "${launch[@]}" "$bin/taso-train" --config "$work/dp-two.toml"
row "| training 6 steps: adapter | $("$python" "$tools" max-diff "$one/adapter.safetensors" "$two/adapter.safetensors") |"
if [ "$device" != cpu ]; then
  cpu="$work/runs/synthetic/dp-cpu"
  mkdir -p "$cpu" && cp "$one/importance.safetensors" "$one/regions.safetensors" "$one/adapter-init.safetensors" "$cpu/"
  quiet "$bin/taso-train" --config "$work/dp-cpu.toml"
  row "| training 6 steps, 1 process: adapter on the CPU against the $device | $("$python" "$tools" max-diff "$cpu/adapter.safetensors" "$one/adapter.safetensors") |"
fi

quiet "$python" "$tools" make-model "$root/benches/gpu/$shapes.json" "$tokenizer" "$work/model"
quiet "$python" "$tools" make-task "$work/data" "$words" $((rows * steps + 64))
params=$(grep -o '[0-9.]*B parameters' "$log" | tail -1 | cut -dB -f1)

config() { # METHOD RANK
  cat >"$work/$1.toml" <<TOML
[run]
task = "$work/data/synthetic.toml"
model = "$work/model"
data_dir = "$work/data"
runs_dir = "$work/runs"
name = "$1"
method = "$2"
device = "$device"
dtype = "bf16"
max_len = $((words + 8))
targets = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]

[score]
batches = $score_batches
batch_size = $score_rows
dtype = "bf16"

[regions]
rank = $3
budget = "lora-r1"
heatmaps = false

[train]
epochs = 1
max_steps = $steps
batch_size = $rows
train_subset = $((rows * steps))
dev_subset = $rows
eval_every_epoch = false
log_every = 5

[eval]
batch_size = $rows
TOML
}

row ""
row "## Training ($shapes shapes, ${params}B parameters, bf16, batches of $rows rows of $words prompt words + a one-token answer, $steps steps)"
row ""
row "| method | ours tokens/s | PEFT tokens/s | ours / PEFT | ours step | PEFT step | MFU (4N/token) | ours peak | PEFT peak |"
row "|---|---|---|---|---|---|---|---|---|"
for spec in taso:taso:8 lora-r1:lora:1 lora-r8:lora:8; do
  IFS=: read -r name method rank <<<"$spec"
  config "$name" "$method" "$rank"
  for stage in score regions lora; do
    start=$(date +%s%N)
    quiet "$bin/taso-$stage" --config "$work/$name.toml"
    if [ "$name/$stage" = taso/score ]; then
      tenths=$((($(date +%s%N) - start) / 100000000))
      score_seconds="$((tenths / 10)).$((tenths % 10))"
    fi
  done
  peak_memory quiet "$bin/taso-train" --config "$work/$name.toml"
  ours_peak=$(cat "$work/peak")
  # Tokens per row as taso-train counted them (prompt and answer), for PEFT's rows.
  read -r ours_tps ours_step length < <("$python" -c "
import json; m = json.load(open('$work/runs/synthetic/$name/metrics.json'))
print(m['tokens_per_second'], m['train_seconds'] / m['total_steps'],
      round(m['tokens_per_second'] / m['examples_per_second']))")
  if [ "$has_hf" = 1 ]; then
    peak_memory quiet "$python" "$tools" peft "$work/model" "$rank" "$rows" "$length" "$steps"
    peft_peak=$(cat "$work/peak")
    read -r peft_tps peft_step < <(tail -1 "$log" | "$python" -c "
import json, sys; m = json.loads(sys.stdin.read()); print(m['tokens_per_second'], m['step_seconds'])")
  else
    peft_tps=""; peft_step=""; peft_peak="skipped"
  fi
  "$python" - "$name" "$ours_tps" "$ours_step" "${peft_tps:-0}" "${peft_step:-0}" "$params" "$device" "$ours_peak" "$peft_peak" <<'PY' | tee -a "$table"
import sys
name, ours, ours_step, peft, peft_step, params, device, ours_peak, peft_peak = sys.argv[1:]
ours, peft, ours_step, peft_step, params = map(float, (ours, peft, ours_step, peft_step, params))
ratio = f"{ours / peft:.2f}" if peft else "—"
# Frozen base: forward 2N and the input gradients 2N per token; no weight gradients. H200 bf16
# dense peak: 989 TFLOP/s.
mfu = f"{4 * params * 1e9 * ours / 989e12:.1%}" if device == "cuda" else "—"
peft_cells = (f"{peft:.0f}", f"{peft_step * 1e3:.0f} ms") if peft else ("skipped", "—")
print(f"| {name} | {ours:.0f} | {peft_cells[0]} | {ratio} | {ours_step * 1e3:.0f} ms | {peft_cells[1]} | {mfu} | {ours_peak} | {peft_peak} |")
PY
done
row ""
# As many as taso-score took (the whole training split when it is shorter than the batches asked).
scored=$(grep -o '[0-9]* calibration examples' "$log" | tail -1)
row "Scoring $scored (TASO, bf16 model, batches of $score_rows rows): ${score_seconds} s"
echo "table: $table"
