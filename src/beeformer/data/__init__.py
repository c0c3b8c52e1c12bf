"""Data stage: get a dataset's interactions and item texts, apply the paper's filters, write the contract files."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from beeformer import contract
from beeformer.data.filters import apply_filters
from beeformer.data.local import load_local
from beeformer.data.synthetic import SyntheticConfig, generate

log = logging.getLogger(__name__)

#: Sources of the paper's datasets; their downloads and joins are not implemented yet.
PAPER_SOURCES = ("movielens-20m", "goodbooks-10k", "amazon-books")


def prepare(
    name: str,
    spec: dict[str, Any],
    interactions_path: str | os.PathLike[str],
    items_path: str | os.PathLike[str],
    report_path: str | os.PathLike[str],
    base_dir: str | os.PathLike[str] = ".",
) -> dict[str, Any]:
    """Load dataset ``name`` as ``spec`` says, filter it, and write interactions, item texts and a report."""
    source = spec.get("source")
    if source == "synthetic":
        interactions, items = generate(SyntheticConfig(**spec.get("synthetic", {})))
    elif source == "local":
        interactions, items = load_local(spec, base_dir=base_dir)
    elif source in PAPER_SOURCES:
        raise NotImplementedError(
            f"dataset '{name}': downloading and joining source '{source}' is not implemented yet "
            "(tracked in the datasets issue). Point the dataset at local files instead "
            "(source: local; see config/goodbooks.yaml)."
        )
    else:
        raise contract.ContractError(
            f"dataset '{name}': unknown source {source!r}; use one of synthetic, local, {', '.join(PAPER_SOURCES)}"
        )
    filters = spec.get("filters", {})
    interactions, items, report = apply_filters(
        interactions,
        items,
        min_rating=filters.get("min_rating"),
        min_user_interactions=int(filters.get("min_user_interactions", 5)),
        dataset=name,
    )
    summary = {
        "dataset": name,
        "source": source,
        "users": int(interactions["user_id"].nunique()),
        "items": len(items),
        "interactions": len(interactions),
        "filters": report.as_dict(),
    }
    contract.write_table(interactions, interactions_path)
    contract.write_table(items, items_path)
    contract.write_json(summary, report_path)
    log.info(
        "dataset %s: %d users, %d items, %d interactions -> %s",
        name,
        summary["users"],
        summary["items"],
        summary["interactions"],
        Path(interactions_path).parent,
    )
    return summary
