"""Peer timing for benches/encoder_forward.rs: Hugging Face transformers (PyTorch) running the
same encoder on the same task split with the same sorted-by-length batch plan, no grad, eval mode.

    .venv-ref/bin/python benches/peer/hf_forward.py [TASK] [BATCH] [MAX_LEN] [REPEATS]

Dev-time only (the reference venv of scripts/reference/make_fixtures.py). Only RTE-style
two-text GLUE TSV tasks are read here: rte (default), wnli, mrpc, stsb.
"""
import csv
import sys
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertModel

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = {"rte": ("RTE", "sentence1", "sentence2"), "wnli": ("WNLI", "sentence1", "sentence2"),
           "mrpc": ("MRPC", "#1 String", "#2 String"), "stsb": ("STS-B", "sentence1", "sentence2")}


def read_dev(task):
    folder, a, b = COLUMNS[task]
    path = ROOT / "data/shared/glue" / folder / "dev.tsv"
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r[a] for r in rows], [r[b] for r in rows]


def main():
    args = sys.argv[1:]
    task = args[0] if len(args) > 0 else "rte"
    batch = int(args[1]) if len(args) > 1 else 32
    max_len = int(args[2]) if len(args) > 2 else 128
    repeats = int(args[3]) if len(args) > 3 else 3
    torch.set_num_threads(torch.get_num_threads())
    model_dir = ROOT / "models/all-MiniLM-L6-v2"
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = BertModel.from_pretrained(model_dir).eval()
    texts, pairs = read_dev(task)
    lengths = [len(tok(t, p, truncation="longest_first", max_length=max_len)["input_ids"]) for t, p in zip(texts, pairs)]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])
    batches = [order[i:i + batch] for i in range(0, len(order), batch)]

    # Tokenized up front, as the Rust bench does: both sides time padding-free model work only.
    encoded = [tok([texts[i] for i in idx], [pairs[i] for i in idx], truncation="longest_first",
                   max_length=max_len, padding="longest", return_tensors="pt") for idx in batches]

    def run():
        start = time.perf_counter()
        with torch.no_grad():
            for enc in encoded:
                model(**enc)
        return time.perf_counter() - start

    run()
    best = min(run() for _ in range(repeats))
    print(f"transformers {torch.__version__} sorted: best of {repeats}: {len(texts) / best:.1f} examples/s "
          f"({torch.get_num_threads()} threads, {model.config._attn_implementation} attention)")


if __name__ == "__main__":
    main()
