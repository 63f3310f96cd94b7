#!/usr/bin/env python3
"""Train small LoRA adapters with Hugging Face PEFT on the tiny fixture models and save them, with
the logits PEFT computes, for taso's import and merged-export tests; and check a folder that
`taso-export --merged` wrote by loading it with transformers.

Dev-time only: never run in CI. The fixtures it writes are committed under tests/fixtures/ and are
regenerated only by this script (torch 2.11, transformers 5.x, peft 0.21):

    python3 -m venv .venv-ref && .venv-ref/bin/pip install torch==2.11.0 transformers peft safetensors
    .venv-ref/bin/python scripts/reference/make_peft_fixtures.py
        # writes tests/fixtures/peft-tiny-bert/ and tests/fixtures/peft-tiny-llama/
    .venv-ref/bin/python scripts/reference/make_peft_fixtures.py --check-merged DIR FIXTURE
        # loads DIR (a merged model folder) with from_pretrained, runs FIXTURE's inputs
        # (e.g. tests/fixtures/peft-tiny-bert) and compares with the logits PEFT computed

Each fixture folder holds `adapter/` (adapter_config.json, adapter_model.safetensors as
`PeftModel.save_pretrained` writes them) and `reference.safetensors`: the base fixture's inputs
(`input_ids`, `attention_mask`, `token_type_ids` for BERT), `logits` of the PeftModel in eval mode and
`merged_logits` of `merge_and_unload()`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import peft
import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"

# name: (base fixture, PEFT task type, target modules, modules to save)
SPECS = {
    "peft-tiny-bert": ("tiny-bert", "SEQ_CLS", ["query", "value", "output.dense"], ["classifier"]),
    "peft-tiny-llama": ("tiny-llama", "CAUSAL_LM", ["q_proj", "v_proj", "up_proj"], None),
}
RANK, ALPHA, STEPS, LR = 2, 4, 20, 1e-2


def load_base(base: Path, task_type: str):
    cls = AutoModelForSequenceClassification if task_type == "SEQ_CLS" else AutoModelForCausalLM
    return cls.from_pretrained(base, torch_dtype=torch.float32, attn_implementation="eager")


def model_inputs(reference: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    keys = ["input_ids", "attention_mask", "token_type_ids"]
    return {k: reference[k] for k in keys if k in reference}


def train(model, inputs: dict[str, torch.Tensor], task_type: str) -> None:
    """A few AdamW steps on random targets, so that B (and the head) are far from their init."""
    gen = torch.Generator().manual_seed(0)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR)
    model.train()
    for _ in range(STEPS):
        if task_type == "SEQ_CLS":
            labels = torch.randint(0, model.config.num_labels, (inputs["input_ids"].shape[0],), generator=gen)
        else:
            labels = inputs["input_ids"].masked_fill(inputs["attention_mask"] == 0, -100)
        loss = model(**inputs, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def make(name: str) -> None:
    base_name, task_type, targets, to_save = SPECS[name]
    base = Path("tests/fixtures") / base_name  # relative: it is base_model_name_or_path
    torch.manual_seed(0)
    reference = load_file(str(base / "reference.safetensors"))
    inputs = model_inputs(reference)
    config = peft.LoraConfig(
        r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=targets,
        modules_to_save=to_save, task_type=task_type,
    )
    model = peft.get_peft_model(load_base(base, task_type), config)
    train(model, inputs, task_type)
    out = FIXTURES / name
    (out / "adapter").mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out / "adapter")
    (out / "adapter" / "README.md").unlink()  # PEFT's model card template
    with torch.no_grad():
        logits = model(**inputs).logits
        merged = model.merge_and_unload()(**inputs).logits
    meta = {
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "peft_version": peft.__version__,
        "base": f"tests/fixtures/{base_name}",
        "generated_by": "scripts/reference/make_peft_fixtures.py",
    }
    tensors = {**inputs, "logits": logits, "merged_logits": merged}
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / "reference.safetensors"), metadata=meta)
    print(f"{name}: logits {tuple(logits.shape)}, merged vs adapted max |diff| "
          f"{(logits - merged).abs().max().item():.2e}")


def check_merged(merged_dir: Path, fixture: Path) -> bool:
    reference = load_file(str(fixture / "reference.safetensors"))
    task_type = "SEQ_CLS" if "token_type_ids" in reference else "CAUSAL_LM"
    model = load_base(merged_dir, task_type).eval()
    with torch.no_grad():
        logits = model(**model_inputs(reference)).logits
    error = (logits - reference["logits"]).abs().max().item()
    ok = error <= 1e-4
    print(f"{merged_dir}: transformers {transformers.__version__} logits vs PEFT's: max |diff| {error:.2e} "
          f"({'ok' if ok else 'FAIL'}, tolerance 1e-4)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check-merged", nargs=2, metavar=("DIR", "FIXTURE"), type=Path)
    args = parser.parse_args()
    os.chdir(ROOT)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    if args.check_merged:
        return 0 if check_merged(*args.check_merged) else 1
    for name in SPECS:
        make(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
