#!/usr/bin/env bash
# A single-node stand-in for `torchrun --no-python --nproc-per-node N PROGRAM ARGS...`.
#
#   scripts/dist-run.sh 2 target/debug/examples/allreduce
#   MASTER_PORT=29600 scripts/dist-run.sh 4 PROGRAM ARGS...
#
# For the cpu flavour of .venv (scripts/bootstrap.sh), where torchrun cannot start: Python's
# `import torch` loads libtorch_cuda.so and the CUDA libraries that flavour leaves out. It sets
# the variables torchrun sets for a program (WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE,
# MASTER_ADDR, default 127.0.0.1, and MASTER_PORT, default 29500; rank 0 hosts the store) and
# starts the N ranks. When one fails it stops the others, and exits with the first failure's
# status (0 when every rank succeeds). No restarts, no multi-node: use torchrun for those.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 NPROC PROGRAM [ARGS...]" >&2; exit 2; }
n=$1
shift
case "$n" in
    '' | *[!0-9]* | 0) echo "dist-run: NPROC must be a positive integer, not '$n'" >&2; exit 2 ;;
esac

export WORLD_SIZE=$n LOCAL_WORLD_SIZE=$n
export MASTER_ADDR=${MASTER_ADDR:-127.0.0.1} MASTER_PORT=${MASTER_PORT:-29500}
unset TORCHELASTIC_USE_AGENT_STORE

pids=()
for ((r = 0; r < n; r++)); do
    RANK=$r LOCAL_RANK=$r "$@" &
    pids+=($!)
done
status=0
for ((i = 0; i < n; i++)); do
    code=0
    wait -n || code=$?
    if [ "$code" -ne 0 ] && [ "$status" -eq 0 ]; then
        status=$code
        kill "${pids[@]}" 2>/dev/null || true
    fi
done
exit "$status"
