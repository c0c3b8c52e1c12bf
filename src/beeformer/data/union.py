"""A union of prepared datasets with user and item ids kept apart (the paper's *goodlens*: Goodbooks + MovieLens).

``source: union, of: [goodbooks, movielens]`` reads each part's ``interactions.parquet`` and its final item texts
``items.parquet`` (after the describe stage, so the parts' LLM descriptions are reused, not generated again; give
the union ``describe: {engine: none}``), prefixes every id with ``<part>:`` so that user 1 of Goodbooks and user 1
of MovieLens stay two users, and concatenates them. Optional columns (rating, timestamp) are kept only when every
part has them. The paper's filters then run again on the union: with ``min_rating: null`` they only drop
interactions whose item lost its text in a part's describe stage and users who fall below the minimum with them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from beeformer import contract

log = logging.getLogger(__name__)

SEPARATOR = ":"


def parts_of(name: str, spec: Mapping[str, Any]) -> list[str]:
    """The datasets a union is made of, checked."""
    parts = spec.get("of")
    if not isinstance(parts, Sequence) or isinstance(parts, str) or len(parts) < 2:
        raise contract.ContractError(
            f"dataset '{name}': source union needs 'of', a list of at least two datasets, got {parts!r}"
        )
    if len(set(parts)) != len(parts) or name in parts:
        raise contract.ContractError(f"dataset '{name}': 'of' must list distinct datasets other than itself")
    return [str(p) for p in parts]


def default_parts(parts: Sequence[str], data_dir: str | Path = "results/data") -> dict[str, tuple[Path, Path]]:
    """Where the workflow keeps each part's interactions and final item texts."""
    folder = Path(data_dir)
    return {p: (folder / p / "interactions.parquet", folder / p / "items.parquet") for p in parts}


def load_union(
    name: str, spec: Mapping[str, Any], paths: Mapping[str, tuple[str | Path, str | Path]]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Interactions and items of the union, ids prefixed with '<part>:'; and what each part contributed."""
    parts = parts_of(name, spec)
    missing = [p for p in parts if p not in paths]
    if missing:
        raise contract.ContractError(f"dataset '{name}': no files given for part(s) {missing}")
    frames, texts, info = [], [], {}
    for part in parts:
        interactions_path, items_path = paths[part]
        interactions = contract.read_interactions(interactions_path)
        items = contract.read_items(items_path)[list(contract.ITEM_COLUMNS)]
        prefix = f"{part}{SEPARATOR}"
        interactions = interactions.assign(
            user_id=prefix + interactions["user_id"], item_id=prefix + interactions["item_id"]
        )
        items = items.assign(item_id=prefix + items["item_id"])
        frames.append(interactions)
        texts.append(items)
        info[part] = {
            "users": int(interactions["user_id"].nunique()),
            "items": len(items),
            "interactions": len(interactions),
        }
    shared = [c for c in contract.OPTIONAL_INTERACTION_COLUMNS if all(c in f.columns for f in frames)]
    columns = [*contract.INTERACTION_COLUMNS, *shared]
    union = pd.concat([f[columns] for f in frames], ignore_index=True)
    items = pd.concat(texts, ignore_index=True)
    log.info("union %s of %s: %d interactions, %d items", name, parts, len(union), len(items))
    return union, items, {"parts": info}
