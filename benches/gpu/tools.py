"""Helpers of benches/gpu.sh, each a subcommand:

  make-model CONFIG TOKENIZER_DIR OUT   a Qwen2-layout model folder with random bf16 weights
                                        (torch when importable, else pure Python for tiny shapes)
  make-task OUT WORDS EXAMPLES          a synthetic prompt task: every prompt WORDS tokens long
  compare A B                           largest difference between two taso-forward outputs,
                                        relative to A's largest magnitude
  max-diff A B                          largest difference between the same-named tensors of two
                                        artifacts, and that relative to A's largest magnitude
  hf-compare MODEL OURS                 the same against transformers in f32 (on the GPU when
                                        there is one), on the input ids OURS holds
  peft MODEL RANK ROWS LENGTH STEPS     transformers + PEFT LoRA training steps on the same shapes
                                        as ours, in bf16 on the GPU (the CPU without one): tokens/s, step time, peak memory

Nothing here needs the network; make-model and compare need no third-party package at all.
"""

import json
import math
import os
import random
import shutil
import struct
import sys
import time

WEIGHT_STD = 0.02


def qwen2_shapes(c):
    """Every tensor of a Qwen2 checkpoint with its shape, in Hugging Face's names."""
    h, i, layers = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    head_dim = c.get("head_dim") or h // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * head_dim, c["num_key_value_heads"] * head_dim
    shapes = [("model.embed_tokens.weight", [c["vocab_size"], h])]
    for n in range(layers):
        p = f"model.layers.{n}"
        shapes += [
            (f"{p}.input_layernorm.weight", [h]),
            (f"{p}.self_attn.q_proj.weight", [q, h]),
            (f"{p}.self_attn.q_proj.bias", [q]),
            (f"{p}.self_attn.k_proj.weight", [kv, h]),
            (f"{p}.self_attn.k_proj.bias", [kv]),
            (f"{p}.self_attn.v_proj.weight", [kv, h]),
            (f"{p}.self_attn.v_proj.bias", [kv]),
            (f"{p}.self_attn.o_proj.weight", [h, q]),
            (f"{p}.post_attention_layernorm.weight", [h]),
            (f"{p}.mlp.gate_proj.weight", [i, h]),
            (f"{p}.mlp.up_proj.weight", [i, h]),
            (f"{p}.mlp.down_proj.weight", [h, i]),
        ]
    shapes.append(("model.norm.weight", [h]))
    if not c.get("tie_word_embeddings", False):
        shapes.append(("lm_head.weight", [c["vocab_size"], h]))
    return shapes


def bf16_bytes(name, shape, rng):
    """Norm scales 1, biases 0, weights N(0, 0.02^2), as bf16 little-endian bytes."""
    count = math.prod(shape)
    if name.endswith("layernorm.weight") or name == "model.norm.weight":
        return struct.pack("<H", 0x3F80) * count
    if name.endswith(".bias"):
        return b"\0\0" * count
    try:
        import torch

        gen = torch.Generator().manual_seed(rng.randrange(2**31))
        values = torch.randn(count, generator=gen) * WEIGHT_STD
        return values.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    except ImportError:
        out = bytearray()
        for _ in range(count):
            bits = struct.unpack("<I", struct.pack("<f", rng.gauss(0.0, WEIGHT_STD)))[0]
            out += struct.pack("<H", bits >> 16)
        return bytes(out)


def make_model(config_path, tokenizer_dir, out):
    config = json.load(open(config_path))
    os.makedirs(out, exist_ok=True)
    shapes = qwen2_shapes(config)
    header, offset = {}, 0
    for name, shape in shapes:
        size = 2 * math.prod(shape)
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    rng = random.Random(0)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name, shape in shapes:
            f.write(bf16_bytes(name, shape, rng))
    json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=1)
    for file in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(os.path.join(tokenizer_dir, file), out)
    params = sum(math.prod(s) for _, s in shapes)
    print(f"{out}: {params / 1e9:.3f}B parameters ({config['num_hidden_layers']} blocks)")


def make_task(out, words, examples):
    """A prompt task whose prompts are WORDS repetitions of ' the' (one token each in the
    SmolLM2/GPT-2 style vocabularies), answered yes or no, without the chat template: every
    row has the same length, so ours and PEFT's batches have the same shapes."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "train.jsonl"), "w") as f:
        for n in range(examples):
            text = " ".join(["the"] * words)
            f.write(json.dumps({"text": text, "label": "yes" if n % 2 else "no"}) + "\n")
    shutil.copy(os.path.join(out, "train.jsonl"), os.path.join(out, "dev.jsonl"))
    task = (
        'name = "synthetic"\nkind = "prompt"\ntemplate = "{text}"\nchat_template = false\n'
        'answer = { kind = "candidates", field = "label", candidates = '
        '[{ value = "yes", text = "yes" }, { value = "no", text = "no" }] }\n'
        'metrics = ["accuracy"]\n\n[splits]\ntrain = "train.jsonl"\ndev = "dev.jsonl"\n'
    )
    open(os.path.join(out, "synthetic.toml"), "w").write(task)


def float_tensor_names(path):
    """The names of a safetensors file's f32 and bf16 tensors."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
    return [n for n, e in header.items() if n != "__metadata__" and e["dtype"] in ("F32", "BF16")]


def read_safetensors(path, name):
    """One f32 or bf16 tensor of a safetensors file, as a flat list of floats."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        entry = header[name]
        start, end = entry["data_offsets"]
        f.seek(8 + size + start)
        raw = f.read(end - start)
    if entry["dtype"] == "I64":
        return list(struct.unpack(f"<{len(raw) // 8}q", raw)), entry["shape"]
    if entry["dtype"] == "F32":
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if entry["dtype"] == "BF16":
        halves = struct.unpack(f"<{len(raw) // 2}H", raw)
        return [struct.unpack("<f", struct.pack("<I", h << 16))[0] for h in halves]
    raise SystemExit(f"{path}: {name} is {entry['dtype']}, expected F32 or BF16")


def compare(a, b):
    x, y = read_safetensors(a, "logits"), read_safetensors(b, "logits")
    print(f"{relative_gap(x, y):.2e}")


def max_diff(a, b):
    """Largest |a - b| over the float tensors both artifacts hold (the same names must have the
    same sizes), then that relative to the largest |a|."""
    names = [n for n in float_tensor_names(a) if n in set(float_tensor_names(b))]
    if not names:
        raise SystemExit(f"{a} and {b} share no float tensor")
    gap, peak = 0.0, 0.0
    for name in names:
        x, y = read_safetensors(a, name), read_safetensors(b, name)
        if len(x) != len(y):
            raise SystemExit(f"{name}: {len(x)} values in {a}, {len(y)} in {b}")
        gap = max(gap, max(abs(p - q) for p, q in zip(x, y)))
        peak = max(peak, max(abs(v) for v in x))
    print(f"{gap:.1e} ({gap / peak if peak else 0.0:.1e} of the largest)")


def relative_gap(reference, other):
    peak = max(abs(v) for v in reference)
    return max(abs(p - q) for p, q in zip(reference, other)) / peak


def device():
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def hf_compare(model_dir, ours):
    """Ours against transformers at the real (unpadded) positions of every row."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device())
    ids, shape = read_safetensors(ours, "input_ids")
    mask, _ = read_safetensors(ours, "attention_mask")
    ids = torch.tensor(ids).view(shape).to(device())
    mask = torch.tensor(mask).view(shape).to(device())
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    theirs = logits[mask.bool()].flatten().tolist()
    mine = torch.tensor(read_safetensors(ours, "logits")).view(logits.shape)
    mine = mine[mask.bool().cpu()].flatten().tolist()
    print(f"{relative_gap(theirs, mine):.2e}")


def peft(model_dir, rank, rows, length, steps):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    on = device()
    cuda = on == "cuda"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16).to(on)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=rank, target_modules=targets))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    gen = torch.Generator(device="cpu").manual_seed(0)
    vocab = model.config.vocab_size
    ids = torch.randint(3, vocab, (rows, length), generator=gen).to(on)
    labels = torch.full_like(ids, -100)
    labels[:, -1] = ids[:, -1]  # the answer token: the loss on the last position only
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        sync()
        start = time.perf_counter()
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()
        times.append(time.perf_counter() - start)
    # Like taso-train's figures: every step counted, the first (warm-up) included.
    total = sum(times)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    print(json.dumps({"step_seconds": total / steps, "tokens_per_second": rows * length * steps / total, "allocated_peak_gib": peak}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "make-model":
        make_model(*args)
    elif command == "make-task":
        make_task(args[0], int(args[1]), int(args[2]))
    elif command == "compare":
        compare(*args)
    elif command == "max-diff":
        max_diff(*args)
    elif command == "hf-compare":
        hf_compare(*args)
    elif command == "peft":
        peft(args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4]))
    else:
        raise SystemExit(__doc__)
