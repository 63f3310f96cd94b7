#!/usr/bin/env python3
"""Check a real model's exports with the tools users load them in (dev-time only, never in CI).

Given the base model folder, a folder that `taso-export --merged` wrote, a folder that
`taso-export --peft` (or `taso-eval --export-peft`) wrote, and the `forward` artifact that
`taso-forward --model MERGED` wrote, this loads

  - MERGED with transformers' `from_pretrained` (the class its config.json names), and
  - BASE with PEFT's `PeftModel.from_pretrained(base, PEFT)`,

runs both on the forward artifact's input ids and prints the largest differences: transformers on
the merged folder against PEFT on the unmerged adapter (decoders: logits; encoders: the
classifier's logits), and against taso's own forward pass over the merged folder (decoders:
logits; encoders: the encoder's last hidden state). Exit status 1 when one exceeds 1e-4 (1e-3 on
decoder logits, the tolerance of the SmolLM2 parity fixture).

    .venv-ref/bin/python scripts/reference/check_export.py --base models/SmolLM2-135M-Instruct \\
        --merged /tmp/x/merged --peft /tmp/x/peft --forward /tmp/x/forward.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import peft
import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification


def real_tokens(t: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return t[mask.bool()]


def report(what: str, ours: torch.Tensor, theirs: torch.Tensor, tolerance: float) -> bool:
    error = (ours.float() - theirs.float()).abs().max().item()
    ok = error <= tolerance
    print(f"{what}: max |diff| {error:.2e} ({'ok' if ok else 'FAIL'}, tolerance {tolerance:g})")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ["base", "merged", "peft", "forward"]:
        parser.add_argument(f"--{name}", type=Path, required=True)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    config = json.loads((args.merged / "config.json").read_text())
    decoder = any(a.endswith("ForCausalLM") for a in config.get("architectures", []))
    forward = load_file(str(args.forward))
    ids, mask = forward["input_ids"], forward["attention_mask"]
    inputs = {"input_ids": ids, "attention_mask": mask}
    if not decoder and "token_type_ids" in forward:
        inputs["token_type_ids"] = forward["token_type_ids"]
    kwargs = dict(dtype=torch.float32, attn_implementation="eager")
    cls = AutoModelForCausalLM if decoder else AutoModelForSequenceClassification
    merged = cls.from_pretrained(args.merged, **kwargs).eval()
    num_labels = {} if decoder else {"num_labels": merged.config.num_labels}
    base = cls.from_pretrained(args.base, **kwargs, **num_labels)
    adapted = peft.PeftModel.from_pretrained(base, args.peft).eval()
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}; "
          f"{'decoder' if decoder else 'encoder'}, {ids.shape[0]} inputs of up to {ids.shape[1]} tokens")
    ours = merged(**inputs)
    theirs = adapted(**inputs)
    ok = True
    if decoder:
        ok &= report("merged (transformers) vs adapter (PEFT), logits",
                     real_tokens(ours.logits, mask), real_tokens(theirs.logits, mask), 1e-3)
        ok &= report("merged (transformers) vs merged (taso-forward), logits",
                     real_tokens(ours.logits, mask), real_tokens(forward["logits"], mask), 1e-3)
    else:
        ok &= report("merged (transformers) vs adapter (PEFT), classifier logits", ours.logits, theirs.logits, 1e-4)
        hidden = merged.base_model(**inputs).last_hidden_state
        ok &= report("merged (transformers) vs merged (taso-forward), last hidden state",
                     real_tokens(hidden, mask), real_tokens(forward["last_hidden_state"], mask), 1e-4)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
