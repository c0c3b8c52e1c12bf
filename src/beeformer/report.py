"""Report stage: one results table per experiment (markdown, CSV and a bar chart) from metrics.json files."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from beeformer import contract

log = logging.getLogger(__name__)

LABELS = {"recall": "R", "ndcg": "N"}


def collect(rows: Sequence[tuple[str, str | os.PathLike[str]]]) -> pd.DataFrame:
    """One row per method: mean and standard error of each metric."""
    records = []
    for method, path in rows:
        metrics = contract.read_json(path)["metrics"]
        record: dict[str, object] = {"method": method}
        for name, value in metrics.items():
            record[name] = value["mean"]
            record[f"{name}_se"] = value["se"]
            record["users"] = value["users"]
        records.append(record)
    return pd.DataFrame.from_records(records)


def to_markdown(title: str, table: pd.DataFrame) -> str:
    """A markdown table with the best value of each metric in bold."""
    metrics = [c for c in table.columns if "@" in c and not c.endswith("_se")]
    header = ["Method", *(_short(m) for m in metrics), "users"]
    lines = [f"# {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        cells = [str(row["method"])]
        for m in metrics:
            cell = f"{row[m]:.4f} ± {row[m + '_se']:.4f}"
            cells.append(f"**{cell}**" if row[m] == table[m].max() else cell)
        cells.append(str(int(row["users"])))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render(
    title: str,
    rows: Sequence[tuple[str, str | os.PathLike[str]]],
    out_md: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    out_png: str | os.PathLike[str],
) -> pd.DataFrame:
    """Write the experiment's table as markdown, CSV and a bar chart; print the markdown."""
    table = collect(rows)
    markdown = to_markdown(title, table)
    contract.write_text(markdown, out_md)
    with contract.atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    _plot(title, table, Path(out_png))
    print(markdown)
    return table


def _short(metric: str) -> str:
    kind, k = metric.split("@")
    return f"{LABELS.get(kind, kind)}@{k}"


def _plot(title: str, table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    metrics = [c for c in table.columns if "@" in c and not c.endswith("_se")]
    width = 0.8 / max(1, len(table))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(metrics), 3.6))
    x = np.arange(len(metrics))
    for i, (_, row) in enumerate(table.iterrows()):
        ax.bar(
            x + i * width,
            [row[m] for m in metrics],
            width,
            yerr=[row[m + "_se"] for m in metrics],
            label=row["method"],
            capsize=2,
        )
    ax.set_xticks(x + width * (len(table) - 1) / 2, [_short(m) for m in metrics])
    ax.set(title=title, ylabel="score")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    with contract.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
