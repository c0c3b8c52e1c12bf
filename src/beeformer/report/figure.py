"""The figure of a results table: one panel per block, grouped bars per metric with standard-error bars, the
paper's values as black diamonds where known, hatched bars for beeFormer-trained rows (matplotlib, Agg)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from beeformer.report.layout import short_metric


def render_png(frame: pd.DataFrame, caption: str, metrics: tuple[str, ...]) -> bytes:
    """The PNG bytes of the figure of the long results ``frame``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    blocks = list(dict.fromkeys(frame["block"]))
    most_rows = max(frame.groupby("block")["method"].nunique())
    width = min(12.0, max(7.0, 4.0 + 0.22 * most_rows * len(metrics)))
    fig, axes = plt.subplots(len(blocks), 1, figsize=(width, 0.6 + 3.6 * len(blocks)), squeeze=False)
    for ax, block in zip(axes[:, 0], blocks, strict=True):
        _panel(ax, frame[frame["block"] == block], block, metrics)
    fig.suptitle(caption, fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _panel(ax, block: pd.DataFrame, title: str, metrics: tuple[str, ...]) -> None:
    methods = list(dict.fromkeys(block["method"]))
    width = 0.8 / len(methods)
    x = np.arange(len(metrics))
    colors = [f"C{i % 10}" for i in range(len(methods))]
    for i, method in enumerate(methods):
        rows = block[block["method"] == method].set_index("metric").loc[list(metrics)]
        first = rows.iloc[0]
        label = f"{first['label']} ({first['group']})" if first["group"] else str(first["label"])
        position = x + (i - (len(methods) - 1) / 2) * width
        ax.bar(
            position,
            rows["mean"],
            width * 0.92,
            yerr=rows["se"],
            capsize=2,
            color=colors[i],
            hatch="//" if first["trained"] else None,
            edgecolor="white" if first["trained"] else colors[i],
            label=label,
        )
        ax.scatter(position, rows["published"], marker="D", s=18, color="black", zorder=3, label="_paper")
    handles, labels = ax.get_legend_handles_labels()
    if block["published"].notna().any():
        handles.append(ax.scatter([], [], marker="D", s=18, color="black"))
        labels.append("paper")
    ax.set_xticks(x, [short_metric(m) for m in metrics])
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylabel("score")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(
        handles,
        labels,
        title="hatched: trained with beeFormer",
        title_fontsize=7,
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
