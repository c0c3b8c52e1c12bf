"""Table 1 rendered from its CSV: the paper's column beside the first dataset of its source, escaping, the note."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from beeformer.report.table1 import render_table1

FIGURES = ("items", "users", "interactions", "density_x", "density_xtx")


def write_csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def row(dataset: str, figures: tuple, paper: tuple | None = None, label: str = "") -> dict:
    values = {"dataset": dataset, **dict(zip(FIGURES, figures, strict=True)), "paper_label": label}
    return values | {f"paper_{key}": (paper or (float("nan"),) * 5)[i] for i, key in enumerate(FIGURES)}


def test_paper_column_follows_the_first_dataset_of_its_source(tmp_path: Path) -> None:
    gb = (9975, 53365, 4.20e6, 0.77, 41.22)
    rows = [
        row("goodbooks", (120, 40, 300, 6.25, 41.0), gb, "GB10k"),
        row("goodbooks_small", (100, 30, 200, 6.67, 40.0), gb, "GB10k"),
        row("my|data", (20, 25, 250, 50.0, 100.0)),
    ]
    csv, md, tex = write_csv(tmp_path / "t.csv", rows), tmp_path / "t.md", tmp_path / "t.tex"
    render_table1(csv, md, tex)
    text, latex = md.read_text(), tex.read_text()
    header = text.splitlines()[2]
    assert header == r"| | goodbooks (GB10k) | GB10k, paper | goodbooks\_small (GB10k) | my\|data |"
    assert "| # of interactions in X | 300 | 4.20 M | 200 | 250 |" in text  # millions only from a million on
    assert "| density of XᵀX | 41.00 % | 41.22 % | 40.00 % | 100.00 % |" in text
    assert "(ours next to the paper's)" in text and "4.12 M" in text  # the note on the printed GB10k figure
    assert r" & goodbooks (GB10k) & GB10k, paper & goodbooks\_small (GB10k) & my|data \\" in latex
    assert r"density of $X^TX$ & 41.00 \% & 41.22 \% & 40.00 \% & 100.00 \% \\" in latex
    assert r"\# of items in $X$ & 120 & 9,975 & 100 & 20 \\" in latex


def test_own_datasets_do_not_mention_the_papers_figures(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "t.csv", [row("mine", (20, 25, 250, 50.0, 100.0))])
    render_table1(csv, tmp_path / "t.md", tmp_path / "t.tex")
    text, latex = (tmp_path / "t.md").read_text(), (tmp_path / "t.tex").read_text()
    assert text.startswith("Table 1: Detailed statistics of datasets used for evaluation.\n")
    assert "paper" not in text.lower() and "paper" not in latex.lower()
