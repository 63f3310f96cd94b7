#!/usr/bin/env python3
"""Generate the Hugging Face reference fixtures that taso's Rust tests compare against.

Dev-time only: never run in CI. The fixtures it writes are committed under tests/fixtures/ and are
regenerated only by this script.

Set-up (once, from the repo root):

    python3 -m venv .venv-ref && .venv-ref/bin/pip install torch==2.11.0 transformers safetensors numpy

Usage (from anywhere; relative defaults are resolved against the repo root):

    .venv-ref/bin/python scripts/reference/make_fixtures.py                 # write all fixtures
    .venv-ref/bin/python scripts/reference/make_fixtures.py --verify        # only check existing ones
    .venv-ref/bin/python scripts/reference/make_fixtures.py \\
        --minilm models/all-MiniLM-L6-v2 --out tests/fixtures               # the defaults

    --minilm DIR  the all-MiniLM-L6-v2 HF folder (config.json, model.safetensors, tokenizer.json);
                  default models/all-MiniLM-L6-v2 (scripts/bootstrap.sh downloads it).
    --smollm DIR  the SmolLM2-135M-Instruct HF folder that taso-import-gguf writes; default
                  models/SmolLM2-135M-Instruct. Skipped (with a message) while it does not exist.
                  Run the script again once it does, to write smollm2/ (see below):

                      .venv-ref/bin/python scripts/reference/make_fixtures.py --only smollm2
    --only NAME   write only this fixture (a tiny model's name, minilm or smollm2).
    --out DIR     where the fixtures go; default tests/fixtures.
    --verify      do not write anything: reload the saved tiny models with transformers and check
                  they reproduce the stored logits / hidden states, and recompute the MiniLM
                  reference from its stored input ids.

What it writes (all CPU, float32, eval mode, no grad, fixed seeds, eager attention):

    tiny-bert/             BertForSequenceClassification, random (seed 0), 3 labels
    tiny-roberta/          RobertaForSequenceClassification, random (seed 1), 2 labels
    tiny-bert-regression/  BertForSequenceClassification, random (seed 2), 1 label, regression
        each: config.json + model.safetensors (save_pretrained) + reference.safetensors
    minilm/                reference.safetensors + inputs.jsonl (the model itself is not copied)
    tiny-llama/            LlamaForCausalLM, random (seed 3): GQA (4 query / 2 kv heads), tied
                           embeddings, llama3 rope_scaling
    tiny-qwen2/            Qwen2ForCausalLM, random (seed 4): q/k/v bias, GQA (4 / 1), untied lm_head
        each: config.json + model.safetensors + reference.safetensors
    smollm2/               reference.safetensors + inputs.jsonl for the imported SmolLM2-135M-Instruct

reference.safetensors holds input_ids / attention_mask / token_type_ids (i64 [n, seq]),
last_hidden_state (f32 [n, seq, hidden]), hidden_states (f32 [layers+1, n, seq, hidden]; for
minilm only hidden_states_0 and _3; the last layer is last_hidden_state), pooler_output (f32 [n, hidden], BERT models only) and logits
(f32 [n, num_labels], tiny models). Values at padded positions are included as HF computes them.

The decoders' reference.safetensors: input_ids / attention_mask (i64 [n, seq], right padding with
pad id 0), hidden_states (f32 [layers+1, n, seq, hidden]: embeddings, each block but the last, then
the final norm's output, as HF returns them), last_hidden_state and logits (f32 [n, seq, vocab]).
smollm2/reference.safetensors: input_ids / attention_mask of the inputs.jsonl texts tokenized by
the folder's tokenizer.json (right padding with id 0), last_logits (f32 [n, vocab], at each text's last real token) and token_nll
(f32 [n, seq-1]: -log p(token t+1 | tokens ..t), 0 where token t+1 is padding).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
from pathlib import Path

import torch
import transformers
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    RobertaConfig,
    RobertaForSequenceClassification,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_LENGTH = 128
TINY_LENGTHS = [12, 7, 3, 10]  # padded to max(TINY_LENGTHS)
INPUT_SEED = 1234  # generator seed of the tiny models' input ids (offset by the model seed)
ATTN = "eager"

TINY_COMMON = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    hidden_act="gelu",
    # 0.2 instead of HF's 0.02 so that attention is far from uniform and logits are O(1): with
    # 0.02 the tiny models' logits are ~1e-2 and a 1e-4 tolerance would be a weak test.
    initializer_range=0.2,
    hidden_dropout_prob=0.1,  # irrelevant in eval mode, kept at HF defaults
    attention_probs_dropout_prob=0.1,
)

TINY_MODELS = {
    "tiny-bert": dict(
        kind="bert",
        seed=0,
        config=dict(
            TINY_COMMON,
            max_position_embeddings=64,
            type_vocab_size=2,
            layer_norm_eps=1e-12,
            num_labels=3,
            pad_token_id=0,
        ),
    ),
    "tiny-roberta": dict(
        kind="roberta",
        seed=1,
        config=dict(
            TINY_COMMON,
            max_position_embeddings=66,
            type_vocab_size=1,
            layer_norm_eps=1e-5,
            num_labels=2,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
        ),
    ),
    "tiny-bert-regression": dict(
        kind="bert",
        seed=2,
        config=dict(
            TINY_COMMON,
            max_position_embeddings=64,
            type_vocab_size=2,
            layer_norm_eps=1e-12,
            num_labels=1,
            problem_type="regression",
            pad_token_id=0,
        ),
    ),
}

DECODER_COMMON = dict(
    vocab_size=99,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    hidden_act="silu",
    initializer_range=0.2,  # as TINY_COMMON: O(1) logits, attention far from uniform
    max_position_embeddings=128,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
)

TINY_DECODERS = {
    "tiny-llama": dict(
        kind="llama",
        seed=3,
        config=dict(
            DECODER_COMMON,
            num_key_value_heads=2,
            rms_norm_eps=1e-5,
            tie_word_embeddings=True,
            # head_dim 8: inverse frequencies 1, 0.1, 0.01, 0.001, i.e. wavelengths 6.3 (kept),
            # 63 (blended) and 628, 6283 (divided by 8) for an original context of 64.
            rope_scaling=dict(
                rope_type="llama3",
                rope_theta=10000.0,
                factor=8.0,
                low_freq_factor=1.0,
                high_freq_factor=4.0,
                original_max_position_embeddings=64,
            ),
        ),
    ),
    "tiny-qwen2": dict(
        kind="qwen2",
        seed=4,
        config=dict(
            DECODER_COMMON,
            num_key_value_heads=1,
            rms_norm_eps=1e-6,
            rope_theta=1_000_000.0,
            tie_word_embeddings=False,
        ),
    ),
}

SMOLLM_INPUTS = [
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "The quick brown fox jumps over the lazy dog. Rust and tch make a small, fast decoder.",
]

# Single sentences and pairs of clearly different lengths: upper case, punctuation, numbers, an
# accent (é) and words that split into several word pieces.
MINILM_INPUTS = [
    {"text": "Hi!"},
    {"text": "The café on Rue de Rivoli opened in 1987, and it's still PACKED every morning."},
    {
        "text": "Is the weather nice today?",
        "pair": "No, it's raining.",
    },
    {
        "text": "Electroencephalography measurements were inconclusive; the neurophysiologist "
        "recommended a follow-up in 3 weeks.",
        "pair": "A Patient's EEG showed nothing unusual.",
    },
    {
        "text": "In 2019 the committee published a 240-page report on the long-term effects of "
        "urbanisation on regional biodiversity, arguing that fragmented habitats, invasive "
        "species and pollution - rather than climate alone - explain most of the observed "
        "decline. Critics, however, pointed out that the data covered only twelve sites, all of "
        "them in Western Europe, and that several key measurements had been taken with "
        "uncalibrated instruments.",
        "pair": "Did the report's critics accept its main conclusion about habitat fragmentation "
        "and pollution, or did they reject it entirely?",
    },
    {"text": "Unbelievably, Zoë's résumé was accepted."},
]


def setup() -> None:
    torch.manual_seed(0)
    torch.set_grad_enabled(False)
    torch.set_num_threads(1)  # deterministic reductions on CPU
    torch.use_deterministic_algorithms(True)


def metadata(model_name: str, **extra: str) -> dict[str, str]:
    meta = {
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "model_name": model_name,
        "generated_by": "scripts/reference/make_fixtures.py",
    }
    meta.update({k: str(v) for k, v in extra.items()})
    return meta


def save_tensors(tensors: dict[str, torch.Tensor], path: Path, meta: dict[str, str]) -> None:
    # clone(): hidden states can share memory with last_hidden_state, which save_file refuses.
    out = {k: v.detach().to("cpu").clone().contiguous() for k, v in tensors.items()}
    save_file(out, str(path), metadata=meta)
    canonicalize_header(path)


def canonicalize_header(path: Path) -> None:
    """safetensors writes __metadata__ in hash-map order, so reruns differ byte-wise. Rewrite the
    header with sorted metadata keys (same length, same data) to keep the fixtures reproducible."""
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    assert len(text) <= n
    path.write_bytes(raw[:8] + text + b" " * (n - len(text)) + raw[8 + n :])


def summarize(name: str, tensors: dict[str, torch.Tensor]) -> None:
    print(f"[{name}]")
    for k, v in tensors.items():
        mx = v.abs().max().item() if v.numel() else 0.0
        print(f"  {k:20s} {str(v.dtype):14s} {str(tuple(v.shape)):22s} max|v|={mx:.6g}")


def tiny_inputs(kind: str, seed: int, vocab: int, pad_id: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(INPUT_SEED + seed)
    n, seq = len(TINY_LENGTHS), max(TINY_LENGTHS)
    input_ids = torch.full((n, seq), pad_id, dtype=torch.int64)
    attention_mask = torch.zeros((n, seq), dtype=torch.int64)
    token_type_ids = torch.zeros((n, seq), dtype=torch.int64)
    for i, length in enumerate(TINY_LENGTHS):
        # ids in [3, vocab): never a pad (0 for BERT, 1 for RoBERTa) nor bos/eos/cls stand-ins.
        ids = torch.randint(3, vocab, (length,), generator=gen, dtype=torch.int64)
        ids[0] = 2 if kind == "bert" else 0  # CLS stand-in (BERT) / bos (RoBERTa)
        input_ids[i, :length] = ids
        attention_mask[i, :length] = 1
        if kind == "bert":
            token_type_ids[i, (length + 1) // 2 : length] = 1
    if kind == "roberta":
        assert not (input_ids[attention_mask.bool()] == pad_id).any()
    return dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)


def build_tiny(spec: dict):
    torch.manual_seed(spec["seed"])
    if spec["kind"] == "bert":
        config = BertConfig(**spec["config"])
        model = BertForSequenceClassification._from_config(config, attn_implementation=ATTN)
    else:
        config = RobertaConfig(**spec["config"])
        model = RobertaForSequenceClassification._from_config(config, attn_implementation=ATTN)
    perturb(model, spec["seed"])
    return model.to(torch.float32).eval()


def perturb(model, seed: int) -> None:
    """HF initialises every bias to 0 and LayerNorm to (1, 0): a loader that dropped biases or
    LayerNorm parameters would still match. Give them seeded random values instead."""
    gen = torch.Generator().manual_seed(10_000 + seed)
    for name, p in model.named_parameters():
        if name.endswith(".bias"):
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
        elif "LayerNorm" in name and name.endswith(".weight"):
            p.copy_(1.0 + torch.randn(p.shape, generator=gen) * 0.1)


def run_tiny(model, kind: str, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    base = model.bert if kind == "bert" else model.roberta
    # No position_ids: RoBERTa derives them from input_ids (padding_idx + 1 offset).
    enc = base(**inputs, output_hidden_states=True, return_dict=True)
    logits = model(**inputs, return_dict=True).logits
    out = dict(inputs)
    out["last_hidden_state"] = enc.last_hidden_state
    out["hidden_states"] = torch.stack(enc.hidden_states, dim=0)
    if kind == "bert":
        out["pooler_output"] = enc.pooler_output
    out["logits"] = logits
    # Consistency: the classification model's encoder gives the same thing as the base call.
    assert torch.equal(out["hidden_states"][-1], out["last_hidden_state"])
    return {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in out.items()}


def save_model(model, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    import inspect

    kwargs = {}
    if "safe_serialization" in inspect.signature(model.save_pretrained).parameters:
        kwargs["safe_serialization"] = True  # transformers 4; always safetensors in 5
    model.save_pretrained(str(directory), **kwargs)
    assert (directory / "model.safetensors").exists(), "expected a single model.safetensors"


def make_tiny(name: str, spec: dict, out_dir: Path) -> None:
    model = build_tiny(spec)
    cfg = spec["config"]
    inputs = tiny_inputs(spec["kind"], spec["seed"], cfg["vocab_size"], cfg["pad_token_id"])
    ref = run_tiny(model, spec["kind"], inputs)
    d = out_dir / name
    save_model(model, d)
    save_tensors(ref, d / "reference.safetensors", metadata(name, seed=spec["seed"]))
    summarize(name, ref)


def build_tiny_decoder(spec: dict):
    torch.manual_seed(spec["seed"])
    if spec["kind"] == "llama":
        model = LlamaForCausalLM._from_config(LlamaConfig(**spec["config"]), attn_implementation=ATTN)
    else:
        model = Qwen2ForCausalLM._from_config(Qwen2Config(**spec["config"]), attn_implementation=ATTN)
    perturb_decoder(model, spec["seed"])
    return model.to(torch.float32).eval()


def perturb_decoder(model, seed: int) -> None:
    """As perturb(): HF's RMSNorm weights are 1 and biases 0; give them seeded random values."""
    gen = torch.Generator().manual_seed(10_000 + seed)
    for name, p in model.named_parameters():
        if name.endswith(".bias"):
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
        elif "norm" in name and name.endswith(".weight"):
            p.copy_(1.0 + torch.randn(p.shape, generator=gen) * 0.1)


def decoder_inputs(seed: int, vocab: int, pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded random ids in [3, vocab), starting with bos (1)."""
    gen = torch.Generator().manual_seed(INPUT_SEED + seed)
    n, seq = len(TINY_LENGTHS), max(TINY_LENGTHS)
    input_ids = torch.full((n, seq), pad_id, dtype=torch.int64)
    attention_mask = torch.zeros((n, seq), dtype=torch.int64)
    for i, length in enumerate(TINY_LENGTHS):
        ids = torch.randint(3, vocab, (length,), generator=gen, dtype=torch.int64)
        ids[0] = 1
        input_ids[i, :length] = ids
        attention_mask[i, :length] = 1
    return dict(input_ids=input_ids, attention_mask=attention_mask)


def run_decoder(model, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = model(**inputs, output_hidden_states=True, return_dict=True)
    base = model.model(**inputs, return_dict=True)
    ref = dict(inputs)
    ref["hidden_states"] = torch.stack(out.hidden_states, dim=0)
    ref["last_hidden_state"] = base.last_hidden_state
    ref["logits"] = out.logits
    # HF's last hidden state is the final norm's output: the Rust side relies on that layout.
    assert torch.equal(ref["hidden_states"][-1], ref["last_hidden_state"])
    return {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in ref.items()}


def make_tiny_decoder(name: str, spec: dict, out_dir: Path) -> None:
    model = build_tiny_decoder(spec)
    cfg = spec["config"]
    inputs = decoder_inputs(spec["seed"], cfg["vocab_size"], cfg["pad_token_id"])
    ref = run_decoder(model, inputs)
    d = out_dir / name
    save_model(model, d)
    save_tensors(ref, d / "reference.safetensors", metadata(name, seed=spec["seed"]))
    summarize(name, ref)


def run_smollm(smollm_dir: Path, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    model = LlamaForCausalLM.from_pretrained(
        str(smollm_dir), attn_implementation=ATTN, dtype=torch.float32
    ).eval()
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    logits = model(input_ids=ids, attention_mask=mask, return_dict=True).logits.float()
    last = mask.sum(1) - 1
    log_probs = torch.log_softmax(logits[:, :-1], dim=-1)
    nll = -log_probs.gather(-1, ids[:, 1:, None]).squeeze(-1) * mask[:, 1:]
    return dict(inputs, last_logits=logits[torch.arange(len(ids)), last], token_nll=nll)


def make_smollm(smollm_dir: Path, out_dir: Path) -> None:
    if not (smollm_dir / "config.json").is_file():
        print(f"[smollm2] skipped: {smollm_dir} does not exist yet (taso-import-gguf writes it)")
        return
    d = out_dir / "smollm2"
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "inputs.jsonl", "w", encoding="utf-8") as f:
        for text in SMOLLM_INPUTS:
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    # The folder's tokenizer.json as is (no tokenizer_config.json needed, no extra BOS): the Rust
    # test reads the ids from the fixture, so only the model's numerics are compared.
    tok = Tokenizer.from_file(str(smollm_dir / "tokenizer.json"))
    encoded = [tok.encode(text).ids for text in SMOLLM_INPUTS]
    seq = max(len(ids) for ids in encoded)
    input_ids = torch.zeros((len(encoded), seq), dtype=torch.int64)
    attention_mask = torch.zeros((len(encoded), seq), dtype=torch.int64)
    for i, ids in enumerate(encoded):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention_mask[i, : len(ids)] = 1
    inputs = dict(input_ids=input_ids, attention_mask=attention_mask)
    print(f"[smollm2] real lengths {[len(ids) for ids in encoded]}, padded with id 0")
    ref = run_smollm(smollm_dir, inputs)
    save_tensors(ref, d / "reference.safetensors", metadata("SmolLM2-135M-Instruct (imported)"))
    summarize("smollm2", ref)


def load_minilm_tokenizer(minilm_dir: Path):
    tok = AutoTokenizer.from_pretrained(str(minilm_dir))
    # tokenizer.json hard-codes padding/truncation to 128: switch them off and pass ours explicitly.
    backend = getattr(tok, "backend_tokenizer", None) or getattr(tok, "_tokenizer", None)
    if backend is not None:
        backend.no_padding()
        backend.no_truncation()
    return tok


def tokenize_minilm(tok, rows: list[dict]) -> dict[str, torch.Tensor]:
    # Batched call with text_pair requires every row to have a pair, so encode one by one and pad.
    encs = []
    for r in rows:
        e = tok(
            r["text"],
            text_pair=r.get("pair"),
            truncation="longest_first",
            max_length=MAX_LENGTH,
            padding=False,
            return_token_type_ids=True,
            return_attention_mask=True,
        )
        encs.append(e)
    batch = tok.pad(encs, padding="longest", return_tensors="pt")
    return {
        "input_ids": batch["input_ids"].to(torch.int64),
        "attention_mask": batch["attention_mask"].to(torch.int64),
        "token_type_ids": batch["token_type_ids"].to(torch.int64),
    }


def run_minilm(minilm_dir: Path, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    model = BertModel.from_pretrained(
        str(minilm_dir), attn_implementation=ATTN, dtype=torch.float32
    ).eval()
    enc = model(**inputs, output_hidden_states=True, return_dict=True)
    assert enc.pooler_output is not None
    out = dict(inputs)
    out["last_hidden_state"] = enc.last_hidden_state
    for layer in (0, 3):
        out[f"hidden_states_{layer}"] = enc.hidden_states[layer]
    out["pooler_output"] = enc.pooler_output
    return out


def make_minilm(minilm_dir: Path, out_dir: Path) -> None:
    d = out_dir / "minilm"
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "inputs.jsonl", "w", encoding="utf-8") as f:
        for r in MINILM_INPUTS:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tok = load_minilm_tokenizer(minilm_dir)
    inputs = tokenize_minilm(tok, MINILM_INPUTS)
    lengths = inputs["attention_mask"].sum(1).tolist()
    print(f"[minilm] real lengths {lengths}, padded to {inputs['input_ids'].shape[1]}")
    for r, ids, n in zip(MINILM_INPUTS, inputs["input_ids"], lengths):
        print("   ", tok.convert_ids_to_tokens(ids[: int(n)].tolist())[:24])
    ref = run_minilm(minilm_dir, inputs)
    save_tensors(
        ref,
        d / "reference.safetensors",
        metadata("sentence-transformers/all-MiniLM-L6-v2", max_length=MAX_LENGTH,
                 truncation="longest_first", padding="longest"),
    )
    summarize("minilm", ref)


# ----------------------------------------------------------------------------------------------
# --verify


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


def verify(minilm_dir: Path, out_dir: Path) -> bool:
    ok = True
    for name, spec in TINY_MODELS.items():
        d = out_dir / name
        ref = load_file(str(d / "reference.safetensors"))
        cls = BertForSequenceClassification if spec["kind"] == "bert" else RobertaForSequenceClassification
        model = cls.from_pretrained(str(d), attn_implementation=ATTN).eval()
        inputs = {k: ref[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        got = run_tiny(model, spec["kind"], inputs)
        # A fresh rebuild from the seed must give the same weights as the saved ones.
        rebuilt = build_tiny(spec).state_dict()
        saved = load_file(str(d / "model.safetensors"))
        w_err = max(max_err(rebuilt[k], v) for k, v in saved.items() if k in rebuilt)
        errs = {k: max_err(got[k], ref[k]) for k in ref if ref[k].is_floating_point()}
        bad = {k: e for k, e in errs.items() if e > 1e-6} or (w_err > 0)
        print(f"[verify {name}] weights-vs-rebuild {w_err:.3g}; "
              + ", ".join(f"{k} {e:.3g}" for k, e in errs.items())
              + ("  FAIL" if bad else "  ok"))
        ok &= not bad
    for name, spec in TINY_DECODERS.items():
        d = out_dir / name
        ref = load_file(str(d / "reference.safetensors"))
        cls = LlamaForCausalLM if spec["kind"] == "llama" else Qwen2ForCausalLM
        model = cls.from_pretrained(str(d), attn_implementation=ATTN).eval()
        got = run_decoder(model, {k: ref[k] for k in ("input_ids", "attention_mask")})
        rebuilt = build_tiny_decoder(spec).state_dict()
        saved = load_file(str(d / "model.safetensors"))
        w_err = max(max_err(rebuilt[k], v) for k, v in saved.items() if k in rebuilt)
        errs = {k: max_err(got[k], ref[k]) for k in ref if ref[k].is_floating_point()}
        bad = any(e > 1e-6 for e in errs.values()) or w_err > 0
        print(f"[verify {name}] weights-vs-rebuild {w_err:.3g}; " + ", ".join(f"{k} {e:.3g}" for k, e in errs.items())
              + ("  FAIL" if bad else "  ok"))
        ok &= not bad
    ref = load_file(str(out_dir / "minilm" / "reference.safetensors"))
    tok = load_minilm_tokenizer(minilm_dir)
    rows = [json.loads(l) for l in open(out_dir / "minilm" / "inputs.jsonl", encoding="utf-8")]
    inputs = tokenize_minilm(tok, rows)
    tok_ok = all(torch.equal(inputs[k], ref[k]) for k in inputs)
    got = run_minilm(minilm_dir, inputs)
    errs = {k: max_err(got[k], ref[k]) for k in ref if ref[k].is_floating_point()}
    bad = (not tok_ok) or any(e > 1e-6 for e in errs.values())
    print(f"[verify minilm] tokenization {'same' if tok_ok else 'DIFFERENT'}; "
          + ", ".join(f"{k} {e:.3g}" for k, e in errs.items()) + ("  FAIL" if bad else "  ok"))
    ok &= not bad
    with safe_open(str(out_dir / "minilm" / "reference.safetensors"), "pt") as f:
        print(f"[verify minilm] metadata {f.metadata()}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minilm", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--out", default="tests/fixtures")
    ap.add_argument("--smollm", default="models/SmolLM2-135M-Instruct")
    ap.add_argument("--only", default=None)
    ap.add_argument("--verify", action="store_true")
    args = ap.parse_args()
    minilm_dir, smollm_dir, out_dir = (
        p if p.is_absolute() else REPO_ROOT / p
        for p in (Path(args.minilm), Path(args.smollm), Path(args.out))
    )
    setup()
    if args.verify:
        ok = verify(minilm_dir, out_dir)
        print("verify:", "all ok" if ok else "FAILED")
        return 0 if ok else 1
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = lambda name: args.only in (None, name)
    for name, spec in TINY_MODELS.items():
        if wanted(name):
            make_tiny(name, spec, out_dir)
    for name, spec in TINY_DECODERS.items():
        if wanted(name):
            make_tiny_decoder(name, spec, out_dir)
    if wanted("minilm"):
        make_minilm(minilm_dir, out_dir)
    if wanted("smollm2"):
        make_smollm(smollm_dir, out_dir)
    for p in sorted(out_dir.rglob("*")):
        if p.is_file():
            print(f"  {os.path.relpath(p, REPO_ROOT):55s} {p.stat().st_size:>9,d} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
