"""Where a workflow run's time and memory went, and how each beeFormer model's steps were chosen.

    python benchmarks/run_summary.py ../mini-run [--top 40]

Reads a run folder (Snakemake's ``--directory``) as it stands, finished or not:

1. every job's benchmark file (``results/benchmarks/<stage>/<job>.tsv``: wall seconds, CPU seconds, peak RSS),
   per stage and then job by job, longest first;
2. per beeFormer validation run (``results/training/<encoder>/validation/run-*``, one per grid point): the step
   count chosen, its score, whether the curve had turned there and the scores after it (``tuning.json``), or, for
   a run still going, the best step so far and the last step its log has written (``training_log.csv``, rewritten
   at each score and checkpoint), with its training and validation CPU time, their wall time and the peak memory
   of its steps.

Wall seconds include whatever else ran on the machine; CPU seconds count this job's threads only. A job that was
interrupted and resumed has a benchmark file of its last invocation only; a training run's own log (part 2) counts
every step and score it kept, across invocations (steps lost to an interruption are retrained and counted once).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def job_table(run: Path) -> pd.DataFrame:
    """One row per job benchmark: stage, job, wall and CPU seconds, peak RSS in GB."""
    rows = []
    for path in sorted((run / "results" / "benchmarks").rglob("*.tsv")):
        frame = pd.read_csv(path, sep="\t")
        rows.append(
            {
                "stage": path.relative_to(run / "results" / "benchmarks").parts[0],
                "job": str(path.relative_to(run / "results" / "benchmarks").with_suffix("")),
                "wall_s": float(frame["s"].iloc[-1]),
                "cpu_s": float(frame["cpu_time"].iloc[-1]),
                "peak_rss_gb": float(frame["max_rss"].iloc[-1]) / 1024,
            }
        )
    return pd.DataFrame(rows, columns=["stage", "job", "wall_s", "cpu_s", "peak_rss_gb"])


def training_table(run: Path) -> pd.DataFrame:
    """One row per beeFormer validation run (a grid point's folder): chosen (or best so far) step, score, turned,
    later scores, training and validation CPU seconds, their wall seconds, peak memory."""
    rows = []
    for log in sorted((run / "results" / "training").glob("*/validation/run-*/training_log.csv")):
        folder, curve = log.parents[1], pd.read_csv(log)
        metric = next((c for c in curve.columns if c.startswith("recall@") and "/" not in c), None)
        scored = curve.dropna(subset=[metric]) if metric else curve.iloc[0:0]
        row = {
            "encoder": folder.parent.name,
            "run": log.parent.name,
            "steps_logged": int(curve["step"].max()),
            "train_cpu_s": float(column(curve, "cpu_seconds").sum()),
            "validation_cpu_s": float(column(curve, "validation_cpu_seconds").sum()),
            "wall_s": float(column(curve, "seconds").sum() + column(curve, "validation_seconds").sum()),
            "peak_gb": float(column(curve, "peak_memory_gb").max()),
            "curve": " ".join(f"{int(s)}:{v:.4f}" for s, v in zip(scored["step"], scored[metric], strict=True)),
        }
        tuning = folder / "tuning.json"
        chosen = json.loads(tuning.read_text()) if tuning.exists() else {}
        if any(p["run"] == log.parent.name and p["settings"] == chosen["chosen"] for p in chosen.get("grid", [])):
            row.update(
                state="done",
                chosen_step=chosen["chosen"].get("max_steps"),
                score=chosen["validation"][chosen["select_by"]],
                turned=chosen.get("turned"),
                after=" ".join(f"{v:.4f}" for v in chosen.get("scores_after_chosen", [])),
            )
        elif (log.parent / "summary.json").exists():
            row.update(state="done (not chosen)")
        elif (scored["step"] > 0).any():  # step 0, the base model, is never the choice
            best = scored.loc[scored.loc[scored["step"] > 0, metric].idxmax()]
            row.update(state="running", chosen_step=int(best["step"]), score=float(best[metric]))
        rows.append(row)
    return pd.DataFrame(rows)


def column(curve: pd.DataFrame, name: str) -> pd.Series:
    """A column of a training log, empty where the log has none."""
    return curve.get(name, pd.Series(dtype=float))


def markdown(frame: pd.DataFrame) -> str:
    """A frame as a markdown table (numbers as pandas prints them)."""
    cells = frame.astype(object).where(frame.notna(), "").astype(str)
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="the run folder (Snakemake's --directory)")
    parser.add_argument("--top", type=int, default=40, help="jobs listed one by one, longest first")
    args = parser.parse_args()
    jobs = job_table(args.run)
    if jobs.empty:
        print(f"{args.run}: no job benchmarks yet")
    else:
        stages = jobs.groupby("stage").agg(
            jobs=("job", "size"), wall_s=("wall_s", "sum"), cpu_s=("cpu_s", "sum"), peak_rss_gb=("peak_rss_gb", "max")
        )
        print(markdown(stages.sort_values("wall_s", ascending=False).round(2).reset_index()))
        print()
        print(markdown(jobs.sort_values("wall_s", ascending=False).head(args.top).round(2)))
        print(f"\n{len(jobs)} jobs finished: {jobs['wall_s'].sum():,.0f} s wall, {jobs['cpu_s'].sum():,.0f} s CPU")
    training = training_table(args.run)
    if not training.empty:
        print()
        print(markdown(training.round(4)))


if __name__ == "__main__":
    main()
