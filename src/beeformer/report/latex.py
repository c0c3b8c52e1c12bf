r"""LaTeX rendering of a results table in the paper's style: booktabs rules, ``\textbf`` best, ``\underline`` best
baseline, ``\textit`` beeFormer-trained rows; the block label on a block's first line and ``\midrule`` between
blocks, ``\cmidrule`` between groups. Needs ``\usepackage{booktabs}``.
"""

from __future__ import annotations

import re

from beeformer.report.layout import PART_HEADERS, Cell, Layout, Line

SIGNIFICANT = r"$^\dagger$"
#: Characters that LaTeX treats specially, and the symbols of the legend, in text mode.
REPLACEMENTS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": "$<$",
    ">": "$>$",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "†": SIGNIFICANT,
    "−": "$-$",
}
_SPECIAL = re.compile("|".join(re.escape(character) for character in REPLACEMENTS))


def render_latex(layout: Layout) -> str:
    """A ``table`` environment with caption, label, the tabular and the legend in small print."""
    n_labels, n_parts = len(layout.label_headers), len(layout.parts)
    width = n_labels + n_parts * len(layout.metrics)
    lines = [
        "% Needs \\usepackage{booktabs}; in a two-column layout a wide table fits in table* or \\resizebox.",
        r"\begin{table}",
        r"\centering",
        rf"\caption{{{escape(layout.caption)}}}",
        rf"\label{{tab:{escape(layout.name)}}}",
        r"\footnotesize",
        rf"\begin{{tabular}}{{{'l' * n_labels}{'r' * (width - n_labels)}}}",
        r"\toprule",
        *_headers(layout),
        r"\midrule",
    ]
    for i, line in enumerate(layout.lines):
        if i and line.block_rows:
            lines.append(r"\midrule")
        elif i and line.group_rows and layout.show_groups:
            lines.append(rf"\cmidrule(l){{2-{width}}}")
        lines.append(" & ".join(_cells(layout, line)) + r" \\")
    notes = [escape(text) for text in (*layout.legend, layout.summary, *layout.claims) if text]
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        "",
        r"\smallskip",
        r"{\scriptsize",
        *(rf"{note}\par" for note in notes),
        "}",
    ]
    lines += [r"\end{table}", ""]
    return "\n".join(lines)


def escape(text: str) -> str:
    """Text-mode LaTeX for a label, caption or legend."""
    return _SPECIAL.sub(lambda match: REPLACEMENTS[match.group()], text)


def _headers(layout: Layout) -> list[str]:
    n_labels, n_parts = len(layout.label_headers), len(layout.parts)
    labels = [escape(header) for header in layout.label_headers]
    if n_parts == 1:
        return [" & ".join(labels + [escape(m) for m in layout.metrics]) + r" \\"]
    spans = [rf"\multicolumn{{{n_parts}}}{{c}}{{{escape(m)}}}" for m in layout.metrics]
    rules = [
        rf"\cmidrule(lr){{{n_labels + 1 + j * n_parts}-{n_labels + (j + 1) * n_parts}}}"
        for j in range(len(layout.metrics))
    ]
    parts = [escape(PART_HEADERS[part]) for _ in layout.metrics for part in layout.parts]
    return [
        " & ".join(labels + spans) + r" \\",
        " ".join(rules),
        " & ".join([""] * n_labels + parts) + r" \\",
    ]


def _cells(layout: Layout, line: Line) -> list[str]:
    *context, label = (escape(text) for text in layout.labels(line))
    cells = [*context, rf"\textit{{{label}}}" if line.trained else label]
    for cell in line.cells:
        cells += [_part(part, cell) for part in layout.parts]
    return cells


def _part(part: str, cell: Cell) -> str:
    if part == "value":
        text = rf"{_number(cell.mean)} $\pm$ {escape(cell.se)}"
        text = rf"\underline{{{text}}}" if cell.best_baseline else text
        return rf"\textbf{{{text}}}" if cell.best else text
    if part == "diff":
        if cell.is_reference:
            return "ref"
        return f"{_number(cell.diff)}{SIGNIFICANT if cell.significant else ''}" if cell.diff else ""
    return f"{_number(cell.paper)} ({_number(cell.paper_diff)})" if cell.paper else ""


def _number(text: str | None) -> str:
    """A formatted number with a typeset minus sign."""
    return (text or "").replace("-", "$-$")
