"""Peer trainer for benches/train_peer.sh: PyTorch + transformers (+ PEFT for dense LoRA) stepping
through exactly the batches taso trains on (`taso-train --write-batches FILE`), with the adapter
taso starts from (its `adapter-init.safetensors`), AdamW and gradient clipping as taso does.

    .venv-ref/bin/python benches/peer/peft_train.py --model DIR --batches FILE \
        --adapter-init FILE --method lora|taso [--lr 5e-4] [--threads 2] [--labels 2]

- lora: a PEFT LoRA (`LoraConfig(r, lora_alpha, target_modules=<taso's adapted modules>)`,
  `modules_to_save=["classifier"]` for an encoder), its A copied from taso's adapter-init;
- taso: the sparse adapter as a plain PyTorch module on each adapted nn.Linear:
  `y = W x + index_add(rows, s · (x[..., cols] Aᵀ) Bᵀ)` (the compact form taso trains).

Prints one JSON line: steps, examples, tokens, train_seconds (forward, backward and optimizer
steps only, as taso's `train_seconds`), examples_per_second, tokens_per_second, peak_rss_bytes,
first_loss, last_loss. Dev-time only (the reference venv of scripts/reference/make_fixtures.py,
plus peft).

`--score-steps N` instead scores the first N batches as taso-score does (the base model, every
adapted weight's `sum |W · dL/dW|` over the batches, no adapter) and reports the same figures.
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import peft
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification


class SparseLora(torch.nn.Module):
    """A frozen nn.Linear plus `s · B A` on its kept rows and columns only (compact factors)."""

    def __init__(self, base, rows, cols, a, b, scale):
        super().__init__()
        self.base = base
        self.register_buffer("rows", rows)
        self.register_buffer("cols", cols)
        self.a = torch.nn.Parameter(a)  # [r, |C|]
        self.b = torch.nn.Parameter(b)  # [|R|, r]
        self.scale = scale

    def forward(self, x):
        update = (x.index_select(-1, self.cols) @ self.a.t() @ self.b.t()) * self.scale
        return self.base(x).index_add(-1, self.rows, update)


def read_batches(path):
    with safe_open(path, "pt") as f:
        meta = f.metadata()
        steps = int(meta["steps"])
        names = {k.split(".", 1)[1] for k in f.keys()}
        return meta["kind"], [{n: f.get_tensor(f"{s:05}.{n}") for n in names} for s in range(steps)]


def read_adapter_init(path):
    with safe_open(path, "pt") as f:
        meta = f.metadata()
        targets = json.loads(meta["taso.extra.targets"])
        matrices = {t["name"]: {k: f.get_tensor(f"{t['name']}.{k}") for k in ["rows", "cols", "lora_A", "lora_B"]}
                    for t in targets}
        return matrices, int(meta["taso.extra.rank"]), float(meta["taso.extra.alpha"]), float(meta["taso.extra.scale"])


def load(args, kind):
    """The frozen base model (f32, eager attention) and the prefix of its adapted modules."""
    common = dict(dtype=torch.float32, attn_implementation="eager")
    if kind == "causal":
        model, prefix = AutoModelForCausalLM.from_pretrained(args.model, **common), ""
    else:
        model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=args.labels, **common)
        prefix = model.base_model_prefix + "."
    for p in model.parameters():
        p.requires_grad_(False)
    return model, prefix


def build(args, kind):
    matrices, rank, alpha, scale = read_adapter_init(args.adapter_init)
    model, prefix = load(args, kind)
    if args.method == "lora":
        config = peft.LoraConfig(
            r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=[prefix + n for n in matrices],
            modules_to_save=None if kind == "causal" else ["classifier"],
        )
        model = peft.get_peft_model(model, config)
        with torch.no_grad():
            for name, m in matrices.items():
                layer = model.get_submodule("base_model.model." + prefix + name)
                layer.lora_A["default"].weight.copy_(m["lora_A"])
                layer.lora_B["default"].weight.zero_()
    else:
        for name, m in matrices.items():
            parent, _, child = (prefix + name).rpartition(".")
            holder = model.get_submodule(parent)
            sparse = SparseLora(getattr(holder, child), m["rows"], m["cols"], m["lora_A"].clone(), m["lora_B"].clone(), scale)
            setattr(holder, child, sparse)
        if kind != "causal":
            for p in model.classifier.parameters():
                p.requires_grad_(True)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--batches", required=True)
    parser.add_argument("--adapter-init", required=True)
    parser.add_argument("--method", choices=["lora", "taso"], required=True)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--labels", type=int, default=2)
    parser.add_argument("--score-steps", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    kind, batches = read_batches(args.batches)
    if args.score_steps:
        report(*score(args, kind, batches[: args.score_steps]))
        return
    model = build(args, kind)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    seconds, losses, examples, tokens = 0.0, [], 0, 0
    for batch in batches:
        start = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds += time.perf_counter() - start
        losses.append(loss.item())
    report(batches, seconds, losses)


def score(args, kind, batches):
    """Importance as taso-score computes it: the frozen base model (eval mode: no dropout), the
    gradient of each batch's loss with respect to every adapted weight, `|W · G|` summed."""
    matrices, *_ = read_adapter_init(args.adapter_init)
    model, prefix = load(args, kind)
    model.eval()
    weights = [model.get_submodule(prefix + name).weight for name in matrices]
    for w in weights:
        w.requires_grad_(True)
    sums = [torch.zeros_like(w) for w in weights]
    seconds, losses = 0.0, []
    for batch in batches:
        start = time.perf_counter()
        loss = model(**batch).loss
        grads = torch.autograd.grad(loss, weights)
        with torch.no_grad():
            for total, w, g in zip(sums, weights, grads):
                total.add_((w * g).abs_())
        seconds += time.perf_counter() - start
        losses.append(loss.item())
    return batches, seconds, losses


def report(batches, seconds, losses):
    examples = sum(b["input_ids"].shape[0] for b in batches)
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    print(json.dumps({
        "steps": len(batches), "examples": examples, "tokens": tokens, "train_seconds": seconds,
        "examples_per_second": examples / seconds, "tokens_per_second": tokens / seconds,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "first_loss": losses[0], "last_loss": losses[-1],
    }))


if __name__ == "__main__":
    main()
