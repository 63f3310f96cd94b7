#!/usr/bin/env bash
# The settings the decoder study favours, back on the encoder tasks (docs/results.md, "The
# settings back on the encoder"): on SST-2 (the 8,000-sentence subset), MRPC and STS-B, under the
# hold-out selection of their tables, TASO and each variant below at TASO's chosen lr, 3 seeds,
# every finished run recorded under benches/results (so the comparison continues where it
# stopped, on any checkout; `--report-only` as an extra argument remakes the tables without
# training). The runs are those of the encoder hold-out tables (`--tag holdout`, the same
# settings), so TASO's rows are theirs, rerun here to pair each variant with them seed by seed.
# Tables: runs/TASK/compare/results-holdout-recheck.md.
#
# Usage: benches/encoder_recheck.sh [sst2|mrpc|stsb|all] [extra taso-compare arguments]
#   (from the project root, after `just build`; about 11-15 minutes of one core per run, two
#   runs at once).
set -euo pipefail
which=${1:-all}
shift $(($# < 1 ? $# : 1))

# The variants: each a name and its `--set`s, as in benches/decoder_study.sh. The choice loss,
# the decoder's new default, has no encoder form (an encoder's loss already is the cross-entropy
# over the classes, so `score.loss = "auto"` scores it and the encoder tables are TASO's as it now
# stands). The input features' loudness divided out is the other setting ahead of TASO on the
# decoder's SST-2 (results.md, "The choice loss on SST-2"), though not the default (behind on
# QNLI): it is the one rechecked here.
variants=(
  'taso-rms=run.method=taso;score.input_norm=rms'
)

# TASK, TASO's lr chosen on the hold-out in its table, and the settings of that table.
recheck() {
  local task=$1 lr=$2
  shift 2
  local names=taso args=()
  for v in "${variants[@]}"; do
    names+=",${v%%=*}"
    args+=(--variant "$v")
  done
  target/release/taso-compare --config "configs/$task.toml" --tag holdout \
    --out results-holdout-recheck.md --seeds 3 --sweep-seeds 1 --jobs 2 \
    --record benches/results --plot --lrs "$lr" --methods "$names" "${args[@]}" "$@"
}

run_task() {
  case $1 in
    sst2) recheck sst2 2e-3 --set run.holdout=800 "${@:2}" ;;
    mrpc) recheck mrpc 1e-3 --set run.holdout=367 "${@:2}" ;;
    stsb) recheck stsb 1e-3 --set run.holdout=575 --set train.epochs=6 "${@:2}" ;;
    *) echo "unknown task '$1': sst2, mrpc, stsb or all" >&2; exit 2 ;;
  esac
}

if [[ $which == all ]]; then
  for task in sst2 mrpc stsb; do run_task "$task" "$@"; done
else
  run_task "$which" "$@"
fi
