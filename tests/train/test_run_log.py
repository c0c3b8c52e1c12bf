"""The training log's plot: a model scored on several validation phases shows each phase beside the mean, and
sources taking turns a loss line each."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from beeformer.train import run


def curve(phases: bool) -> pd.DataFrame:
    steps = np.arange(0, 9)
    records = pd.DataFrame({"step": steps, "loss": 1.0 / (1 + steps)})
    scored = steps % 4 == 0  # scored at steps 0, 4, 8
    books, shop = np.array([0.20, 0.25, 0.24]), np.array([0.040, 0.041, 0.046])
    records.loc[scored, "recall@20"] = np.sqrt(books * shop) if phases else books
    if phases:
        records.loc[scored, "recall@20/books"] = books
        records.loc[scored, "recall@20/shop"] = shop
    return records


def test_several_phases_get_a_panel_of_scores_relative_to_their_first(tmp_path: Path) -> None:
    for phases, panels in ((False, 2), (True, 3)):
        run.write_log(curve(phases), tmp_path)
        with Image.open(tmp_path / "loss.png") as image:  # 5.5 inches a panel at 120 dpi
            assert image.width == round(panels * 5.5 * 120)
    fig, ax = plt.subplots()
    records = curve(True)
    run._plot_relative(ax, records, ["recall@20", "recall@20/books", "recall@20/shop"], None)
    lines = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    plt.close(fig)
    assert list(lines) == ["geometric mean", "books", "shop"]
    np.testing.assert_allclose(lines["books"], [1.0, 1.25, 1.2])
    np.testing.assert_allclose(lines["shop"], [1.0, 1.025, 1.15])
    np.testing.assert_allclose(lines["geometric mean"], np.sqrt(np.array([1.0, 1.25, 1.2]) * [1.0, 1.025, 1.15]))


def test_a_phase_first_scored_at_zero_is_drawn_relative_to_its_first_positive_score() -> None:
    records = pd.DataFrame({"step": [0, 4, 8], "recall@20": [0.0, 0.1, 0.2], "recall@20/cold": [0.0, 0.1, 0.2]})
    records["recall@20/never"] = 0.0
    fig, ax = plt.subplots()
    run._plot_relative(ax, records, ["recall@20/cold", "recall@20/never"], "lr 1e-4")
    lines = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    plt.close(fig)
    assert list(lines) == ["cold, lr 1e-4"]  # a phase never above 0 has no curve
    np.testing.assert_allclose(lines["cold, lr 1e-4"], [0.0, 1.0, 2.0])


def test_sources_taking_turns_get_a_loss_line_each() -> None:
    records = pd.DataFrame({"step": [1, 2, 3, 4, 5], "loss": [0.5, 0.1, 0.4, 0.09, 0.3]})
    records["source"] = [None, "books", "shop", "books", "shop"]  # step 1 from a run resumed from older code
    fig, ax = plt.subplots()
    run._plot_loss(ax, records, "lr 1e-4")
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}
    plt.close(fig)
    assert lines == {
        "source not logged, lr 1e-4": ([1], [0.5]),
        "books, lr 1e-4": ([2, 4], [0.1, 0.09]),
        "shop, lr 1e-4": ([3, 5], [0.4, 0.3]),
    }
