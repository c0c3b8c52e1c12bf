"""HTML rendering of a results table: a standalone page (inline CSS, no external assets) with the caption, the
table, the legend and the paper summary, readable in a browser and inside Snakemake's report.

Significant differences are green (better than the reference) or red (worse); the paper column is coloured by
how our value agrees with the paper's (within 2 standard errors, within 10 %, worse, better).
"""

from __future__ import annotations

from html import escape

from beeformer.report.layout import AGREEMENT_LABELS, PART_HEADERS, SIGNIFICANT, Cell, Layout, Line

STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1f2328;
       margin: 24px; background: #fff; }
h1 { font-size: 1.25em; margin: 0 0 12px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 4px 10px; }
thead th { border-bottom: 1px solid #8c959f; background: #f6f8fa; font-weight: 600; }
thead tr:first-child th { border-top: 2px solid #1f2328; }
tbody tr.block td { border-top: 1.5px solid #1f2328; }
tbody tr.group td.in-group { border-top: 1px solid #d0d7de; }
tbody tr:last-child td { border-bottom: 2px solid #1f2328; }
td.label { text-align: left; white-space: nowrap; vertical-align: top; }
td.block, td.group { font-weight: 600; background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.sep, th.sep { border-left: 1px solid #d0d7de; }
.trained { font-style: italic; }
.best { font-weight: 700; }
.best-baseline { text-decoration: underline; text-underline-offset: 3px; }
.se { color: #57606a; }
.ref { color: #57606a; font-style: italic; }
.up { color: #1a7f37; font-weight: 600; }
.down { color: #cf222e; font-weight: 600; }
.ns { color: #57606a; }
.paper { font-size: 12px; }
.within_2se { color: #1a7f37; }
.within_10pct { color: #7d4e00; }
.worse { color: #cf222e; }
.better { color: #0969da; }
.legend { font-size: 12px; color: #57606a; max-width: 900px; margin: 10px 0 0; line-height: 1.45; }
.summary { font-size: 13px; font-weight: 600; margin: 10px 0 0; }
"""


def render_html(layout: Layout) -> str:
    """The whole page."""
    rows = "\n".join(_row(layout, line) for line in layout.lines)
    legend = "".join(f'<p class="legend">{escape(text)}</p>\n' for text in layout.legend)
    if layout.show_paper:
        legend += f'<p class="legend">{_agreement_key()}</p>\n'
    summary = f'<p class="summary">{escape(layout.summary)}</p>\n' if layout.summary else ""
    if layout.claims:
        summary += '<ul class="summary">' + "".join(f"<li>{escape(c)}</li>" for c in layout.claims) + "</ul>\n"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(layout.caption)}</title>\n'
        f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>{escape(layout.caption)}</h1>\n"
        f"<table>\n<thead>\n{_headers(layout)}\n</thead>\n<tbody>\n{rows}\n</tbody>\n</table>\n"
        f"{summary}{legend}</body>\n</html>\n"
    )


def _agreement_key() -> str:
    colours = ", ".join(f'<span class="{key}">{escape(label)}</span>' for key, label in AGREEMENT_LABELS.items())
    return f"Colour of (ours − paper): {colours} (beyond 10 % of the paper's value)."


def _headers(layout: Layout) -> str:
    n_parts = len(layout.parts)
    labels = "".join(f'<th rowspan="2">{escape(header)}</th>' for header in layout.label_headers)
    metrics = "".join(f'<th class="sep" colspan="{n_parts}">{escape(metric)}</th>' for metric in layout.metrics)
    parts = "".join(
        f"<th{_classes('sep' if i == 0 else '')}>{escape(PART_HEADERS[part])}</th>"
        for _ in layout.metrics
        for i, part in enumerate(layout.parts)
    )
    return f"<tr>{labels}{metrics}</tr>\n<tr>{parts}</tr>"


def _row(layout: Layout, line: Line) -> str:
    classes = "block" if line.block_rows else "group" if line.group_rows else ""
    cells = []
    if line.block_rows:
        cells.append(f'<td class="label block" rowspan="{line.block_rows}">{escape(line.block)}</td>')
    if layout.show_groups and line.group_rows:
        cells.append(f'<td class="label group in-group" rowspan="{line.group_rows}">{escape(line.group)}</td>')
    name_class = "label in-group trained" if line.trained else "label in-group"
    cells.append(f'<td class="{name_class}">{escape(line.label)}</td>')
    for cell in line.cells:
        cells += [_part(part, cell, first=i == 0) for i, part in enumerate(layout.parts)]
    return f"<tr{_classes(classes)}>" + "".join(cells) + "</tr>"


def _part(part: str, cell: Cell, first: bool) -> str:
    classes = "num sep in-group" if first else "num in-group"
    return f'<td class="{classes}">{_content(part, cell)}</td>'


def _content(part: str, cell: Cell) -> str:
    if part == "value":
        emphasis = " ".join(name for name, on in (("best", cell.best), ("best-baseline", cell.best_baseline)) if on)
        return f'<span{_classes(emphasis)}>{cell.mean}</span> <span class="se">± {cell.se}</span>'
    if part == "diff":
        if cell.is_reference:
            return '<span class="ref">ref</span>'
        if not cell.diff:
            return ""
        tone = ("up" if not cell.diff.startswith("-") else "down") if cell.significant else "ns"
        marker = SIGNIFICANT if cell.significant else "&nbsp;"
        return f'<span class="{tone}">{_minus(cell.diff)}{marker}</span>'
    if not cell.paper:
        return ""
    title = AGREEMENT_LABELS[cell.agreement] if cell.agreement else ""
    return (
        f'<span class="paper" title="{title}">{cell.paper} '
        f'<span class="{cell.agreement}">({_minus(cell.paper_diff)})</span></span>'
    )


def _classes(names: str) -> str:
    """A class attribute, or nothing for no class."""
    return f' class="{names}"' if names else ""


def _minus(text: str | None) -> str:
    return (text or "").replace("-", "−")
