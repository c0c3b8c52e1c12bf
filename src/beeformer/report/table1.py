"""Table 1 of the paper rendered from the data stage's ``table1.csv``: a column per dataset, and after the first
dataset of a paper source the paper's column for it, in Markdown and LaTeX (the escaping of the results tables).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pandas as pd

from beeformer import contract
from beeformer.report.latex import escape as latex_escape
from beeformer.report.markdown import escape as markdown_escape

#: (figure, Markdown label, LaTeX label): the rows of Table 1.
ROWS = (
    ("items", "# of items in X", r"\# of items in $X$"),
    ("users", "# of users in X", r"\# of users in $X$"),
    ("interactions", "# of interactions in X", r"\# of interactions in $X$"),
    ("density_x", "density of X", "density of $X$"),
    ("density_xtx", "density of XᵀX", "density of $X^TX$"),
)
PAPER_NOTE = (
    "Paper: Table 1 of Vančura et al., RecSys 2024, as printed. The authors' README gives 4,119,623 / 9,694,668 / "
    "8,290,500 interactions; the printed 4.20 M for GB10k disagrees with its own density (0.77% of 9,975 x 53,365 "
    "is 4.12 M)."
)


@dataclass(frozen=True)
class Column:
    header: str
    figures: dict[str, Any]
    paper: bool = False


def render_table1(
    csv_path: str | os.PathLike[str], markdown_path: str | os.PathLike[str], tex_path: str | os.PathLike[str]
) -> None:
    """Write Table 1 of ``csv_path`` (written by :func:`beeformer.data.table1.write_table1`) as Markdown and LaTeX."""
    table = contract.read_table(csv_path, ["dataset", *(key for key, _, _ in ROWS), "paper_label"])
    cols = columns(table)
    with contract.atomic_path(markdown_path) as md, contract.atomic_path(tex_path) as tex:
        md.write_text(markdown(cols))
        tex.write_text(latex(cols))
    print(f"table 1: {len(table)} dataset(s) -> {markdown_path}, {tex_path}")


def columns(table: pd.DataFrame) -> list[Column]:
    """Each dataset's column, and the paper's after the first dataset of a source the paper has."""
    result, shown = [], set()
    for row in table.to_dict("records"):
        label = row["paper_label"] if isinstance(row["paper_label"], str) else ""
        result.append(Column(f"{row['dataset']} ({label})" if label else str(row["dataset"]), _figures(row, "")))
        if label and label not in shown:
            result.append(Column(f"{label}, paper", _figures(row, "paper_"), paper=True))
            shown.add(label)
    return result


def markdown(cols: list[Column]) -> str:
    lines = [
        f"Table 1: {_caption(cols)}",
        "",
        "| | " + " | ".join(markdown_escape(col.header) for col in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for key, label, _ in ROWS:
        lines.append(f"| {label} | " + " | ".join(_figure(key, col.figures[key]) for col in cols) + " |")
    lines += ["", PAPER_NOTE, ""] if _with_paper(cols) else [""]
    return "\n".join(lines)


def latex(cols: list[Column]) -> str:
    lines = [
        r"\begin{table}",
        rf"\caption{{{latex_escape(_caption(cols))}}}",
        r"\begin{tabular}{l" + "r" * len(cols) + "}",
        r"\hline",
        " & ".join(["", *(latex_escape(col.header) for col in cols)]) + r" \\",
        r"\hline",
    ]
    for key, _, label in ROWS:
        lines.append(" & ".join([label, *(latex_escape(_figure(key, col.figures[key])) for col in cols)]) + r" \\")
    lines += [r"\hline", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def _figures(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {key: row[f"{prefix}{key}"] for key, _, _ in ROWS}


def _figure(key: str, value: Any) -> str:
    if value is None or pd.isna(value):
        return "–"
    if key == "interactions" and value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if key.startswith("density"):
        return f"{value:.2f} %"
    return f"{int(value):,}"


def _with_paper(cols: list[Column]) -> bool:
    return any(col.paper for col in cols)


def _caption(cols: list[Column]) -> str:
    """The paper's caption, saying so when the paper's figures stand beside ours."""
    beside = " (ours next to the paper's)" if _with_paper(cols) else ""
    return f"Detailed statistics of datasets used for evaluation{beside}."
