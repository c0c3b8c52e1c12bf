"""Zero-shot transfer along a training curve: a beeFormer model of the miniature scored, while it trains, on the
validation phase of its own split and on those of other splits (zero-shot: their users and items it never saw).

    python benchmarks/transfer_curve.py --mini ../mini-run --encoder bee-movielens --also goodbooks-item \
        [--max-steps 48] [--threads 1]

The encoder trains with its train settings of config/paper-mini.yaml (seed included: the same steps as its run in
the workflow), for ``--max-steps`` steps without early stopping, scored every ``eval_every`` steps on each phase, in
``curves/transfer-<encoder>/`` of the miniature's folder (it resumes there when started again). Prints each
phase's recall@20 and its ratio to step 0 (the pretrained model), and writes docs/curve-transfer-<encoder>.png.

What it answers: whether the step count chosen on the encoder's own validation phase (what the miniature's zero-shot
rows use: choosing on the target domain's validation would tune on the target) also suits another domain.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
METRIC = "recall@20"


def phase_files(mini: Path, split: str) -> list[Path]:
    """A split's validation source, target and candidates in the miniature's folder."""
    folder = mini / "results" / "splits" / split
    return [folder / f"validation_{part}.parquet" for part in ("source", "target", "candidates")]


def items_of(mini: Path, config: dict, split: str) -> Path:
    return mini / "results" / "data" / config["splits"][split]["dataset"] / "items.parquet"


def run(mini: Path, config: dict, encoder: str, also: list[str], max_steps: int) -> pd.DataFrame:
    """Train ``encoder`` scored on its own splits' and ``also``'s validation phases; its log's scored rows."""
    from beeformer.train.trainer import TrainConfig, train
    from beeformer.train.validation import Validation, ValidationPhase

    spec = config["encoders"][encoder]
    settings = {**spec["train"], "base_model": spec["base"], "max_steps": max_steps, "patience": None}
    sources = [
        (split, mini / "results" / "splits" / split / "train.parquet", items_of(mini, config, split))
        for split in spec["train_on"]
    ]
    phases = [
        ValidationPhase.load(split, *phase_files(mini, split), items_of(mini, config, split))
        for split in [*spec["train_on"], *also]
    ]
    folder = mini / "curves" / f"transfer-{encoder}"
    train(TrainConfig.from_dict(settings), sources, folder / "model", folder, validation=Validation(phases))
    log = pd.read_csv(folder / "training_log.csv")
    columns = [f"{METRIC}/{phase.name}" for phase in phases]
    return log.dropna(subset=[columns[0]])[["step", *columns]].reset_index(drop=True)


def relative(curve: pd.DataFrame) -> pd.DataFrame:
    """Each phase's score over its score at step 0."""
    scores = curve.drop(columns="step")
    return scores / scores.iloc[0]


def plot(curve: pd.DataFrame, encoder: str, own: list[str]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for column, values in relative(curve).items():
        split = column.split("/", 1)[1]
        kind = "its own split" if split in own else "zero-shot"
        ax.plot(curve["step"], values, marker="o", ms=3, lw=1, label=f"{split} ({kind})")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="training step", ylabel=f"validation {METRIC} / step 0", title=f"{encoder}: own split and transfer")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = REPO / "docs" / f"curve-transfer-{encoder}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mini", type=Path, required=True, help="a folder where config/paper-mini.yaml ran")
    parser.add_argument("--encoder", required=True, help="an encoder of config/paper-mini.yaml with train settings")
    parser.add_argument("--also", nargs="+", required=True, help="other splits whose validation phase is scored")
    parser.add_argument("--max-steps", type=int, default=48, help="steps trained, scored every eval_every")
    parser.add_argument("--threads", type=int, help="PyTorch threads (default: PyTorch's)")
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        import torch

        torch.set_num_threads(args.threads)
    config = yaml.safe_load((REPO / "config" / "paper-mini.yaml").read_text())
    curve = run(args.mini, config, args.encoder, args.also, args.max_steps)
    table = pd.concat([curve, relative(curve).add_suffix(" / step 0").round(3)], axis=1)
    print(table.round(4).to_markdown(index=False))
    print(f"\nwrote {plot(curve, args.encoder, config['encoders'][args.encoder]['train_on'])}")


if __name__ == "__main__":
    main()
