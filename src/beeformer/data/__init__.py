"""Data stage: get a dataset's interactions and item texts, apply the paper's filters, write the contract files.

Sources: ``synthetic`` (the demo shop), ``local`` (files described in the config), the paper's datasets
(``movielens-20m``, ``goodbooks-10k``, ``amazon-books``: files in ``resources/`` fetched by the download rules,
joined to texts by :mod:`beeformer.data.paper`) and ``union`` (prepared datasets side by side, ids kept apart;
the paper's goodlens). All of them then go through :func:`beeformer.data.filters.apply_filters`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from beeformer import contract
from beeformer.data.filters import apply_filters
from beeformer.data.local import load_local
from beeformer.data.synthetic import SyntheticConfig, generate

log = logging.getLogger(__name__)

#: Sources of the paper's datasets (downloaded into ``resources/`` and joined to item texts).
PAPER_SOURCES = ("movielens-20m", "goodbooks-10k", "amazon-books")
SOURCES = ("synthetic", "local", *PAPER_SOURCES, "union")


def prepare(
    name: str,
    spec: dict[str, Any],
    interactions_path: str | os.PathLike[str],
    items_path: str | os.PathLike[str],
    report_path: str | os.PathLike[str],
    base_dir: str | os.PathLike[str] = ".",
    *,
    resources_dir: str | os.PathLike[str] | None = None,
    parts: Mapping[str, tuple[str | os.PathLike[str], str | os.PathLike[str]]] | None = None,
) -> dict[str, Any]:
    """Load dataset ``name`` as ``spec`` says, filter it, and write interactions, item texts and a report.

    ``resources_dir`` (default ``<base_dir>/resources``) holds the paper sources' files; ``parts`` maps each part of
    a union to its (interactions, items) files (default ``<base_dir>/results/data/<part>/``). The three outputs are
    written together at the end: on any error none of them is touched.
    """
    source = spec.get("source")
    extra: dict[str, Any] = {}
    if source == "synthetic":
        interactions, items = generate(SyntheticConfig(**spec.get("synthetic", {})))
    elif source == "local":
        interactions, items = load_local(spec, base_dir=base_dir)
    elif source in PAPER_SOURCES:
        from beeformer.data.paper import load_paper_source

        folder = Path(resources_dir) if resources_dir is not None else Path(base_dir) / "resources"
        interactions, items, extra = load_paper_source(name, spec, folder)
    elif source == "union":
        from beeformer.data.union import default_parts, load_union, parts_of

        paths = parts or default_parts(parts_of(name, spec), Path(base_dir) / "results" / "data")
        interactions, items, extra = load_union(name, spec, paths)
    else:
        raise contract.ContractError(f"dataset '{name}': unknown source {source!r}; use one of {', '.join(SOURCES)}")
    filters = spec.get("filters", {})
    min_rating = filters.get("min_rating")
    interactions, items, report = apply_filters(
        interactions,
        items,
        min_rating=min_rating,
        min_user_interactions=int(filters.get("min_user_interactions", 5)),
        dataset=name,
    )
    if source in PAPER_SOURCES and min_rating is not None and "rating" in interactions:
        interactions["rating"] = np.ones(len(interactions), dtype=np.int8)  # the paper: interactions are 1
    summary = {
        "dataset": name,
        "source": source,
        "users": int(interactions["user_id"].nunique()),
        "items": len(items),
        "interactions": len(interactions),
        "filters": report.as_dict(),
        **extra,
    }
    with (
        contract.atomic_path(interactions_path) as interactions_tmp,
        contract.atomic_path(items_path) as items_tmp,
        contract.atomic_path(report_path) as report_tmp,
    ):
        interactions.to_parquet(interactions_tmp, index=False)
        items.to_parquet(items_tmp, index=False)
        contract.write_json(summary, report_tmp)
    log.info(
        "dataset %s: %d users, %d items, %d interactions -> %s",
        name,
        summary["users"],
        summary["items"],
        summary["interactions"],
        Path(interactions_path).parent,
    )
    return summary
