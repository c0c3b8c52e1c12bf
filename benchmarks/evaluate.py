"""Evaluation at the paper's scale: content-based scoring, metrics, bootstrap and the report's paired comparisons.

    python benchmarks/evaluate.py [--users 25000 50000 100000] [--candidates 15000 30000 60000] [--history 100]

Random L2-normalised 384-d item embeddings, users with ~``--history`` items each and ~10 held-out targets among
the candidates, through the real code paths:

- scoring as ``evaluate/cbf.py`` does it: ``interaction_matrix`` of the histories, profiles = history @ embeddings,
  ``rank_users`` (blocks of ``profiles @ candidates.T``, history masked, top 100) and ``predictions_frame``;
- predictions written and read back as the contract's parquet file (``write_table`` / ``read_predictions``);
- ``per_user_metrics`` (Recall@20, Recall@50, NDCG@100) and ``summarize`` (1,000 bootstrap resamples);
- the report's ``paired_differences`` for a block of ten methods (27 comparisons, 1,000 paired resamples).

Two shapes: the ML-20M item split (cold-start candidates, histories from 17,000 other items) grown in users at
17,000 candidates, and the Amazon time split (every item a candidate, histories masked) grown in candidates at
the largest number of users. Each run is its own process, so its peak resident memory is its own. The "floor" is
the same score blocks' matrix products alone, in the same process: ``rank_users`` / floor is the cost of masking
and top-k on top of the unavoidable product.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

K = 100
DIM = 384
TARGETS_PER_USER = 10
METHODS_PER_BLOCK = 10
PHASES = ("profiles", "rank_users", "predictions_frame", "write_read", "metrics", "bootstrap", "paired")


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


@contextlib.contextmanager
def _timed(timings: dict[str, float], phase: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[phase] = time.perf_counter() - started
    timings[f"{phase}_peak_gb"] = _peak_gb()


def worker(shape: str, n_users: int, n_candidates: int, history: int, history_items: int) -> dict[str, float]:
    import numpy as np
    import pandas as pd

    from beeformer import contract
    from beeformer.contract.metrics import per_user_metrics, summarize
    from beeformer.contract.ranking import BLOCK_ENTRIES, interaction_matrix, predictions_frame, rank_users
    from beeformer.report.stats import paired_differences

    rng = np.random.default_rng(0)
    # Items: the candidates first; in the item split also the items the histories are drawn from.
    n_items = n_candidates + (history_items if shape == "item" else 0)
    item_ids = np.array([f"i{i:06d}" for i in range(n_items)], dtype=object)
    user_ids = np.array([f"u{u:07d}" for u in range(n_users)], dtype=object)
    embeddings = rng.standard_normal((n_items, DIM), dtype=np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    history_pool = np.arange(n_candidates, n_items) if shape == "item" else np.arange(n_candidates)
    lengths = rng.integers(history // 2, history * 3 // 2 + 1, size=n_users)
    source = pd.DataFrame(
        {
            "user_id": np.repeat(user_ids, lengths),
            "item_id": item_ids[rng.choice(history_pool, size=int(lengths.sum()))],
        }
    )
    n_targets = rng.integers(1, 2 * TARGETS_PER_USER, size=n_users)
    targets = pd.DataFrame(
        {
            "user_id": np.repeat(user_ids, n_targets),
            "item_id": item_ids[rng.integers(0, n_candidates, size=int(n_targets.sum()))],
        }
    )
    candidates = pd.Series(item_ids[:n_candidates])
    timings: dict[str, float] = {"setup_peak_gb": _peak_gb(), "interactions": len(source)}

    items = pd.Index(item_ids)
    with _timed(timings, "profiles"):
        users = pd.Index(np.sort(source["user_id"].unique()))
        matrix = interaction_matrix(source, users, items)
        profiles = np.asarray(matrix @ embeddings, dtype=np.float32)
        candidate_rows = items.get_indexer(candidates)
        candidate_embeddings = embeddings[candidate_rows]
        seen = matrix[:, candidate_rows].tocsr()
    with _timed(timings, "rank_users"):
        top_index, top_score = rank_users(lambda a, b: profiles[a:b] @ candidate_embeddings.T, seen, K)
    with _timed(timings, "predictions_frame"):
        predictions = predictions_frame(users.to_numpy(), candidates.to_numpy(), top_index, top_score)
    timings["predictions"] = len(predictions)
    with tempfile.TemporaryDirectory() as folder, _timed(timings, "write_read"):
        contract.write_table(predictions, Path(folder) / "predictions.parquet")
        predictions = contract.read_predictions(Path(folder) / "predictions.parquet")
    with _timed(timings, "metrics"):
        per_user = per_user_metrics(predictions, targets)
    with _timed(timings, "bootstrap"):
        summary = summarize(per_user, n_bootstrap=1000, seed=42)
    timings["recall@20"] = summary["recall@20"]["mean"]
    reference = per_user.to_numpy()
    others = np.concatenate(  # the other methods of a block: the same values, each shuffled over users
        [rng.permuted(reference, axis=0) for _ in range(METHODS_PER_BLOCK - 1)], axis=1
    )
    with _timed(timings, "paired"):
        paired_differences(
            others, np.tile(reference, METHODS_PER_BLOCK - 1), n_bootstrap=1000, seed=42, confidence=0.95
        )

    block = max(1, BLOCK_ENTRIES // n_candidates)  # the floor: rank_users' score blocks, products only
    started = time.perf_counter()
    for start in range(0, n_users, block):
        profiles[start : start + block] @ candidate_embeddings.T
    timings["floor"] = time.perf_counter() - started
    timings["peak_gb"] = _peak_gb()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[25_000, 50_000, 100_000])
    parser.add_argument("--candidates", type=int, nargs="+", default=[15_000, 30_000, 60_000])
    parser.add_argument("--item-split-candidates", type=int, default=17_000)
    parser.add_argument("--history", type=int, default=100, help="mean history length (uniform in 0.5x-1.5x)")
    parser.add_argument("--history-items", type=int, default=17_000, help="item split: items histories come from")
    parser.add_argument("--worker", nargs=3, metavar=("SHAPE", "USERS", "CANDIDATES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        shape, n_users, n_candidates = args.worker[0], int(args.worker[1]), int(args.worker[2])
        print(json.dumps(worker(shape, n_users, n_candidates, args.history, args.history_items)))
        return

    runs = [("item", u, args.item_split_candidates) for u in args.users]
    runs += [("time", max(args.users), c) for c in args.candidates]
    print(
        f"# evaluation benchmark: {DIM}-d embeddings, ~{args.history} history items, top {K}, 1,000 bootstrap "
        f"resamples, {METHODS_PER_BLOCK} methods per block in the paired comparison, {os.cpu_count()} CPUs"
    )
    header = [
        "split",
        "users",
        "candidates",
        *PHASES,
        "total s",
        "floor s",
        "rank_users / floor",
        "peak RSS GB",
        "load",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for shape, n_users, n_candidates in runs:
        load = os.getloadavg()[0]
        r = _measure(shape, n_users, n_candidates, args)
        total = sum(r[phase] for phase in PHASES)
        cells = [
            "item (ML-20M)" if shape == "item" else "time (Amazon)",
            f"{n_users:,}",
            f"{n_candidates:,}",
            *(f"{r[phase]:.1f}" for phase in PHASES),
            f"{total:.1f}",
            f"{r['floor']:.1f}",
            f"{r['rank_users'] / r['floor']:.2f}x",
            f"{r['peak_gb']:.2f}",
            f"{load:.2f}",
        ]
        print("| " + " | ".join(cells) + " |", flush=True)


def _measure(shape: str, n_users: int, n_candidates: int, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", shape, str(n_users), str(n_candidates)]
    command += ["--history", str(args.history), "--history-items", str(args.history_items)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


if __name__ == "__main__":
    main()
