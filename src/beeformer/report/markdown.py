"""Markdown rendering of a results table (GitHub flavour: ``<u>`` underlines)."""

from __future__ import annotations

from beeformer.report.layout import SIGNIFICANT, Cell, Layout, Line

PART_TITLES = {"value": "{metric}", "diff": "Δ {metric}", "paper": "paper {metric}"}


def render_markdown(layout: Layout) -> str:
    """A heading with the caption, the table, its legend and the paper summary line."""
    labels = [escape(header) for header in layout.label_headers]
    parts = [PART_TITLES[part].format(metric=metric) for metric in layout.metrics for part in layout.parts]
    lines = [
        f"# {escape(layout.caption)}",
        "",
        _row(labels + parts),
        _row(["---"] * len(labels) + ["---:"] * len(parts)),
        *(_row(_cells(layout, line)) for line in layout.lines),
        "",
        *layout.legend,
    ]
    if layout.summary:
        lines += ["", f"**{layout.summary}**"]
    if layout.claims:
        lines += ["", *(f"- {escape(claim)}" for claim in layout.claims)]
    return "\n".join(lines) + "\n"


def _cells(layout: Layout, line: Line) -> list[str]:
    *context, label = (escape(text) for text in layout.labels(line))
    cells = [*context, f"*{label}*" if line.trained else label]
    for cell in line.cells:
        cells += [_part(part, cell) for part in layout.parts]
    return cells


def _part(part: str, cell: Cell) -> str:
    if part == "value":
        text = f"{cell.mean} ± {cell.se}"
        text = f"<u>{text}</u>" if cell.best_baseline else text
        return f"**{text}**" if cell.best else text
    if part == "diff":
        if cell.is_reference:
            return "ref"
        return f"{cell.diff}{SIGNIFICANT if cell.significant else ''}" if cell.diff else ""
    return f"{cell.paper} ({cell.paper_diff})" if cell.paper else ""


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def escape(text: str) -> str:
    """Text for a Markdown table cell or heading."""
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")
