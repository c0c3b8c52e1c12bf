"""The run's overview page for the HTML report: what each dataset kept after each filter, what the describe
stage kept and dropped, Table 1, and the configuration the run used (Snakemake's report shows none of these,
since they are JSON, CSV and YAML)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from html import escape
from typing import Any

import yaml

from beeformer import contract
from beeformer.report.html import STYLE

FILTER_STEPS = (
    ("raw", "rows read"),
    ("after_min_rating", "rating filter"),
    ("after_dedupe", "duplicates dropped"),
    ("after_item_text", "items with text"),
    ("after_min_user_interactions", "users with enough"),
)


def render_overview(
    config: dict[str, Any],
    datasets: Sequence[tuple[str, str | os.PathLike[str], str | os.PathLike[str]]],
    table1: str | os.PathLike[str] | None,
    html: str | os.PathLike[str],
) -> None:
    """Write the overview page; ``datasets`` are (name, data.json, describe.json)."""
    data = [(name, contract.read_json(d), contract.read_json(t)) for name, d, t in datasets]
    sections = [
        "<h2>Datasets</h2>",
        _table(
            ["dataset", "source", *(label for _, label in FILTER_STEPS), "users", "items"],
            [
                [
                    name,
                    report.get("source", ""),
                    *(_count(report["filters"].get(key)) for key, _ in FILTER_STEPS),
                    _count(report.get("users")),
                    _count(report.get("items")),
                ]
                for name, report, _ in data
            ],
        ),
        "<h2>Item texts</h2>",
        _table(
            ["dataset", "engine", "items in", "kept", "dropped"],
            [
                [
                    name,
                    texts.get("engine", ""),
                    _count(texts.get("items_in")),
                    _count(texts.get("kept")),
                    _dropped(texts),
                ]
                for name, _, texts in data
            ],
        ),
    ]
    if table1 is not None:
        shown = ["dataset", "items", "users", "interactions", "density_x", "density_xtx"]
        frame = contract.read_table(table1, shown)
        sections += [
            "<h2>Table 1</h2>",
            _table(
                ["dataset", "items", "users", "interactions", "density of X (%)", "density of XᵀX (%)"],
                [[_cell(row[c]) for c in shown] for _, row in frame.iterrows()],
            ),
        ]
    sections += ["<h2>Configuration</h2>", f"<pre>{escape(yaml.safe_dump(config, sort_keys=False))}</pre>"]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Run overview</title>\n'
        f"<style>{STYLE} h2 {{ font-size: 1.05em; margin: 20px 0 8px; }} pre {{ font-size: 12px; "
        "background: #f6f8fa; padding: 10px; }}</style>\n</head>\n<body>\n<h1>Run overview</h1>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )
    contract.write_text(page, html)
    print(f"overview of {len(data)} dataset(s) -> {html}")


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "\n".join(
        "<tr>"
        + "".join(f'<td class="{"label" if i == 0 else "num"}">{escape(c)}</td>' for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _count(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _dropped(texts: dict[str, Any]) -> str:
    """'refusal 12, empty 3' from describe.json's counts per reason."""
    return ", ".join(f"{reason} {count}" for reason, count in texts.get("dropped", {}).items() if count) or "none"
