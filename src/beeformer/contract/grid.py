"""Settings grids, shared by every tuned method (the baselines and beeFormer): one selection rule for all rows.

A setting given as a list is an axis of the grid; the grid is every combination of the axes. One setting of an
iterative method (its ``epochs``, beeFormer's ``max_steps``) stays a list: a run to the largest value is scored
at each listed one, so the list costs one run. ``tuning.json`` records, beside the choice, which settings were
chosen on an edge of their list (the lowest or the highest value), where a wider grid might do better.
"""

from __future__ import annotations

import itertools
from typing import Any


def expand(settings: dict[str, Any], scored_along: str | None = None) -> list[dict[str, Any]]:
    """Every combination of the list-valued settings; ``scored_along`` stays a sorted list of unique values."""
    axes = {
        key: value if isinstance(value, list) else [value] for key, value in settings.items() if key != scored_along
    }
    empty = [key for key, values in axes.items() if not values]
    if empty or (scored_along in settings and settings[scored_along] == []):
        raise ValueError(f"an empty list of values for {empty or [scored_along]} in {settings}")
    points = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())]
    if scored_along is not None and scored_along in settings:
        along = settings[scored_along]
        along = sorted(set(along if isinstance(along, list) else [along]))
        points = [{**point, scored_along: along} for point in points]
    return points


def edges(settings: dict[str, Any], chosen: dict[str, Any]) -> dict[str, str]:
    """Settings whose chosen value is the lowest or highest of a numeric list of two or more values.

    ``{"factors": "highest of [64, 128, 200]"}``: a reader (and the report's notes) sees at once where the
    grid may have stopped too early.
    """
    flagged = {}
    for key, values in settings.items():
        if not isinstance(values, list) or len(set(map(repr, values))) < 2 or key not in chosen:
            continue
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            continue
        if chosen[key] == max(values):
            flagged[key] = f"highest of {sorted(values)}"
        elif chosen[key] == min(values):
            flagged[key] = f"lowest of {sorted(values)}"
    return flagged
