#!/usr/bin/env python3
"""Check a GGUF file written by `taso-export-gguf` with llama.cpp's own reader (gguf-py).

Dev-time only: never run in CI (it needs the `gguf` package and numpy).

Set-up (once): pip install gguf safetensors numpy   (into any venv; gguf-py is llama.cpp's reader)

Usage:

    cargo build --release -p taso-gguf
    target/release/taso-export-gguf models/SmolLM2-135M-Instruct /tmp/smol-q8_0.gguf --type q8_0
    python scripts/reference/check_gguf.py --model models/SmolLM2-135M-Instruct \\
        --gguf /tmp/smol-q8_0.gguf [--original ~/.cache/taso/SmolLM2-135M-Instruct.Q4_1.gguf]

What it checks, printing one line per check and exiting non-zero on a failure:

1. weights: every tensor read by gguf.GGUFReader and dequantised by gguf.quants.dequantize,
   renamed to its Hugging Face name and, for llama attn_q / attn_k, un-permuted here with numpy,
   against the model.safetensors tensor: the max abs error per ggml type (F32 must be 0, F16
   within f16 rounding, Q8_0 within amax/254 plus the f16 rounding of the scale, per block of
   32), vectors stored as F32. Q8_0 tensors are also quantised by gguf-py
   (gguf.quants.quantize) and the bytes compared with the file's.
2. metadata: architecture and sizes against config.json; the token list against tokenizer.json
   (vocabulary and added tokens, in id order), token types (control for special added tokens,
   user-defined for the others), merges, bos/eos/unk/pad ids against tokenizer_config.json,
   the chat template.
3. with --original FILE (the GGUF file the folder was imported from): every tokenizer.* and
   <arch>.* key against the exported file's, listing the keys only one holds; and each tensor
   the export stores as F32 against the original's, both dequantised by gguf-py, in GGUF layout
   (q/k rows permuted), so that an F32 export must give the original's values back.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader
from gguf.quants import dequantize, quantize
from safetensors.numpy import load_file

LAYER_NAMES = {
    "attn_q.bias": "self_attn.q_proj.bias",
    "attn_k.bias": "self_attn.k_proj.bias",
    "attn_v.bias": "self_attn.v_proj.bias",
    "attn_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
GLOBAL_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
CONTROL, USER_DEFINED = 3, 4


def hf_name(name: str) -> str:
    if name in GLOBAL_NAMES:
        return GLOBAL_NAMES[name]
    match = re.fullmatch(r"blk\.(\d+)\.(.+)", name)
    return f"model.layers.{match.group(1)}.{LAYER_NAMES[match.group(2)]}"


def unpermute(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp stores rows of each head as [rows/heads/2, 2]; Hugging Face as [2, rows/heads/2]."""
    rows = w.shape[0]
    return w.reshape(heads, rows // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def field(reader: GGUFReader, key: str):
    return reader.fields[key].contents() if key in reader.fields else None


def q8_0_bound(expected: np.ndarray) -> np.ndarray:
    """Per value: amax/254 of its block of 32, plus 127 times the f16 rounding of d = amax/127."""
    blocks = expected.reshape(-1, 32)
    d = np.abs(blocks).max(axis=1, keepdims=True) / 127
    d16 = d.astype(np.float16).astype(np.float32)
    return np.broadcast_to(d / 2 + 127 * np.abs(d16 - d), blocks.shape).reshape(expected.shape)


def check_weights(reader: GGUFReader, model: Path, config: dict) -> bool:
    arch = field(reader, "general.architecture")
    heads = {"attn_q.weight": config["num_attention_heads"],
             "attn_k.weight": config.get("num_key_value_heads", config["num_attention_heads"])}
    heads = heads if arch == "llama" else {}
    ours = load_file(str(model / "model.safetensors"))
    if config.get("tie_word_embeddings"):
        ours.pop("lm_head.weight", None)
    worst: dict[str, float] = {}
    ok = True
    q8_identical = q8_total = 0
    for tensor in reader.tensors:
        kind = tensor.tensor_type.name
        values = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        values = values.reshape([int(d) for d in reversed(tensor.shape)])
        suffix = tensor.name.split(".", 2)[-1]
        if suffix in heads:
            values = unpermute(values, heads[suffix])
        expected = ours.pop(hf_name(tensor.name)).astype(np.float32)
        assert expected.shape == values.shape, (tensor.name, expected.shape, values.shape)
        error = np.abs(expected - values)
        worst[kind] = max(worst.get(kind, 0.0), float(error.max()))
        if expected.ndim == 1 and kind != "F32":
            print(f"  {tensor.name}: a vector stored as {kind}, not F32")
            ok = False
        if kind == "F32":
            ok &= bool((error == 0).all())
        elif kind == "F16":
            ok &= bool((values == expected.astype(np.float16).astype(np.float32)).all())
        elif kind == "Q8_0":
            ok &= bool((error <= q8_0_bound(expected) * (1 + 1e-6)).all())
            ref = quantize(np.ascontiguousarray(_gguf_order(expected, heads, suffix)),
                           GGMLQuantizationType.Q8_0)
            q8_total += 1
            q8_identical += int(np.array_equal(ref.reshape(-1), tensor.data.reshape(-1)))
        else:
            print(f"  {tensor.name}: unexpected type {kind}")
            ok = False
    ok &= not ours
    errors = ", ".join(f"{kind} {value:.3g}" for kind, value in sorted(worst.items()))
    print(f"weights: {len(reader.tensors)} tensors; max abs error vs model.safetensors by type: "
          f"{errors}; tensors left unwritten {sorted(ours)} -> {'ok' if ok else 'FAIL'}")
    if q8_total:
        print(f"  Q8_0 bytes identical to gguf-py's quantize(): {q8_identical}/{q8_total} tensors")
    return ok


def _gguf_order(hf: np.ndarray, heads: dict, suffix: str) -> np.ndarray:
    """The Hugging Face tensor in GGUF row order (q/k rows permuted for llama)."""
    if suffix not in heads:
        return hf
    n = heads[suffix]
    rows = hf.shape[0]
    return hf.reshape(n, 2, rows // n // 2, *hf.shape[1:]).swapaxes(1, 2).reshape(hf.shape)


def hf_tokens(model: Path, vocab_size: int) -> tuple[list[str], list[int], list[str], dict]:
    tokenizer = json.loads((model / "tokenizer.json").read_text())
    tokens = [f"[PAD{i}]" for i in range(vocab_size)]
    types = [5] * vocab_size
    for token, index in tokenizer["model"]["vocab"].items():
        tokens[index], types[index] = token, 1
    for added in tokenizer.get("added_tokens", []):
        tokens[added["id"]] = added["content"]
        types[added["id"]] = CONTROL if added.get("special") else USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]]
    return tokens, types, merges, tokenizer


def check_metadata(reader: GGUFReader, model: Path, config: dict) -> bool:
    arch = field(reader, "general.architecture")
    failures = []

    def expect(what: str, got, want) -> None:
        if got != want:
            failures.append(f"{what}: file {str(got)[:80]!r} vs folder {str(want)[:80]!r}")

    expect("architecture", arch, config["model_type"])
    heads = config["num_attention_heads"]
    sizes = {
        "block_count": config["num_hidden_layers"],
        "context_length": config["max_position_embeddings"],
        "embedding_length": config["hidden_size"],
        "feed_forward_length": config["intermediate_size"],
        "attention.head_count": heads,
        "attention.head_count_kv": config.get("num_key_value_heads", heads),
        "vocab_size": config["vocab_size"],
        "rope.dimension_count": config.get("head_dim") or config["hidden_size"] // heads,
    }
    for key, want in sizes.items():
        expect(f"{arch}.{key}", field(reader, f"{arch}.{key}"), want)
    for key, want in [("rope.freq_base", config.get("rope_theta", 10000.0)),
                      ("attention.layer_norm_rms_epsilon", config["rms_norm_eps"])]:
        expect(f"{arch}.{key}", field(reader, f"{arch}.{key}"), float(np.float32(want)))
    tokens, types, merges, _ = hf_tokens(model, config["vocab_size"])
    expect("tokenizer.ggml.model", field(reader, "tokenizer.ggml.model"), "gpt2")
    expect("tokens", field(reader, "tokenizer.ggml.tokens"), tokens)
    expect("token types", field(reader, "tokenizer.ggml.token_type"), types)
    expect("merges", field(reader, "tokenizer.ggml.merges"), merges)
    tokenizer_config = json.loads((model / "tokenizer_config.json").read_text())
    for name, key in [("bos", "bos"), ("eos", "eos"), ("unk", "unknown"), ("pad", "padding")]:
        token = tokenizer_config.get(f"{name}_token")
        token = token.get("content") if isinstance(token, dict) else token
        want = tokens.index(token) if token in tokens else config.get(f"{name}_token_id")
        expect(f"{name} id", field(reader, f"tokenizer.ggml.{key}_token_id"), want)
    expect("add_bos_token", field(reader, "tokenizer.ggml.add_bos_token"),
           tokenizer_config.get("add_bos_token", False))
    expect("chat template", field(reader, "tokenizer.chat_template"),
           tokenizer_config.get("chat_template"))
    for failure in failures:
        print(f"  {failure}")
    print(f"metadata: architecture, {len(sizes) + 2} sizes, {len(tokens)} tokens, "
          f"{len(merges)} merges, token types, special ids, chat template "
          f"(pre '{field(reader, 'tokenizer.ggml.pre')}') -> {'ok' if not failures else 'FAIL'}")
    return not failures


def compare_with_original(reader: GGUFReader, original: GGUFReader) -> bool:
    arch = field(original, "general.architecture")
    prefixes = ("tokenizer.", f"{arch}.")
    keys = lambda r: {k for k in r.fields if k.startswith(prefixes)}  # noqa: E731
    ours, theirs = keys(reader), keys(original)
    same, differ = [], []
    for key in sorted(ours & theirs):
        a, b = field(reader, key), field(original, key)
        (same if a == b else differ).append(key)
    for key in differ:
        print(f"  differs: {key}: exported {str(field(reader, key))[:60]!r} "
              f"original {str(field(original, key))[:60]!r}")
    print(f"original: {len(same)} tokenizer/{arch} keys identical ({', '.join(same)}); "
          f"differing {differ}; only in the export {sorted(ours - theirs)}; "
          f"only in the original {sorted(theirs - ours)} -> {'ok' if not differ else 'FAIL'}")
    theirs_by_name = {t.name: t for t in original.tensors}
    worst, count = 0.0, 0
    for tensor in reader.tensors:
        source = theirs_by_name.get(tensor.name)
        if tensor.tensor_type.name != "F32" or source is None:
            continue
        a = dequantize(tensor.data, tensor.tensor_type).astype(np.float32).reshape(-1)
        b = dequantize(source.data, source.tensor_type).astype(np.float32).reshape(-1)
        worst, count = max(worst, float(np.abs(a - b).max())), count + 1
    names_match = {t.name for t in reader.tensors} == set(theirs_by_name)
    print(f"original: tensor names {'identical' if names_match else 'DIFFER'}; {count} F32 tensors "
          f"of the export against the original's: max abs diff {worst:.3g} "
          f"-> {'ok' if names_match and worst == 0 else 'FAIL'}")
    return not differ and names_match and worst == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="the Hugging Face folder")
    parser.add_argument("--gguf", type=Path, required=True, help="the GGUF file exported from it")
    parser.add_argument("--original", type=Path, help="the GGUF file the folder was imported from")
    args = parser.parse_args()
    reader = GGUFReader(str(args.gguf))
    config = json.loads((args.model / "config.json").read_text())
    print(f"{args.gguf}: GGUF v{field(reader, 'GGUF.version')}, "
          f"file_type {field(reader, 'general.file_type')}, {args.gguf.stat().st_size} bytes")
    results = [check_weights(reader, args.model, config), check_metadata(reader, args.model, config)]
    if args.original:
        results.append(compare_with_original(reader, GGUFReader(str(args.original))))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
