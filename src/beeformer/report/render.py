"""``render_table``: the results of a table spec computed once, rendered in every requested format, all written
atomically after everything has been rendered (an error writes nothing), and the markdown printed."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import pandas as pd

from beeformer import contract
from beeformer.report.figure import render_png
from beeformer.report.html import render_html
from beeformer.report.latex import render_latex
from beeformer.report.layout import build_layout
from beeformer.report.markdown import render_markdown
from beeformer.report.results import table_results
from beeformer.report.spec import parse_spec

PathLike = str | os.PathLike[str]


def render_table(
    spec: dict[str, Any],
    markdown: PathLike | None = None,
    latex: PathLike | None = None,
    csv: PathLike | None = None,
    html: PathLike | None = None,
    png: PathLike | None = None,
) -> pd.DataFrame:
    """Compute the table of ``spec`` (see :mod:`.spec`), write the requested outputs, print the markdown.

    Returns the long results frame (:data:`.results.COLUMNS`), the one written as CSV.
    """
    table = parse_spec(spec)
    results = table_results(table)
    frame = results.frame
    layout = build_layout(table, frame, results.versus)
    text = render_markdown(layout)
    outputs: dict[PathLike, bytes] = {}
    renderers = (
        (markdown, lambda: text),
        (latex, lambda: render_latex(layout)),
        (csv, lambda: frame.to_csv(index=False)),
        (html, lambda: render_html(layout)),
    )
    for path, render in renderers:
        if path is not None:
            outputs[path] = render().encode()
    if png is not None:
        outputs[png] = render_png(frame, table.caption, table.metrics)
    _write_all(outputs)
    print(text)
    print(_summary_line(table.name, frame, table.alpha, list(outputs)))
    return frame


def _summary_line(name: str, frame: pd.DataFrame, alpha: float, paths: list[PathLike]) -> str:
    """What was computed and written, in one line."""
    tests = frame["significant"].dropna()
    written = ", ".join(str(path) for path in paths) or "nothing (no output requested)"
    return (
        f"{name}: {frame['method'].nunique()} methods in {frame['block'].nunique()} block(s); "
        f"{int(tests.sum())} of {len(tests)} comparisons with the reference significant (Holm, p < {alpha:.2g}); "
        f"written: {written}"
    )


def _write_all(outputs: dict[PathLike, bytes]) -> None:
    """Write every output through its own temporary file; all are moved into place only if all were written."""
    with contextlib.ExitStack() as stack:
        for path, content in outputs.items():
            stack.enter_context(contract.atomic_path(path)).write_bytes(content)
