"""The paper's datasets from their files in ``resources/``: verify, read, join, choose the items that have text.

The data stage never downloads: the Snakemake download rules (or ``python -m beeformer download``) put the files
in place first, and here each file is checked against its recorded checksums (or its pin) before it is read. Files
marked as substitutes (``<file>.substitute``, e.g. a sample) are named in the report under ``substitutes``.

Item choice, before the paper's filters run (:func:`beeformer.data.filters.apply_filters`):

- default: the items whose join found a description (the paper: "we then remove the items without descriptions");
- ``published_items: true``: exactly the items the authors published a Llama description for (their item set after
  the LLM step, which also dropped the items the model refused), each with its gathered features (and, where no
  description was found, with the fields the source itself has: title, year, genres or authors). This reproduces
  the item set behind the paper's Table 1. Where the authors preprocessed their published file further, the same is
  done here (Amazon Books: only the asins rated >= 4 in ``Books.csv``, see :mod:`beeformer.data.amazon`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from beeformer.contract import ContractError
from beeformer.data import amazon, goodbooks, movielens
from beeformer.data.download import DownloadError, manual_hint, substitute_path, verify
from beeformer.data.joins import to_ids
from beeformer.data.readers import read_feather
from beeformer.data.resources import PUBLISHED_ID_COLUMN, PUBLISHED_TEXT_COLUMN, RESOURCES, resources_for

log = logging.getLogger(__name__)

LOADERS = {"movielens-20m": movielens.load, "goodbooks-10k": goodbooks.load, "amazon-books": amazon.load}
#: The authors' own preprocessing of a published item set: (published ids, interactions) -> the ids they kept.
AUTHORS_ITEM_SETS = {"amazon-books": amazon.published_item_set}


def load_paper_source(
    name: str, spec: Mapping[str, Any], resources_dir: str | Path
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Raw interactions, item texts (item_id, text) and a provenance/join report of a paper-source dataset."""
    source = str(spec["source"])
    if source not in LOADERS:
        raise ContractError(f"dataset '{name}': {source!r} is not a paper source ({', '.join(LOADERS)})")
    needed = {role: RESOURCES[resource_name] for role, resource_name in resources_for(spec).items()}
    missing = [r for r in needed.values() if not (Path(resources_dir) / r.name).is_file()]
    if missing:
        hints = "\n".join(f"  - {manual_hint(r, Path(resources_dir) / r.name)}" for r in missing)
        raise DownloadError(
            f"dataset '{name}': missing {', '.join(str(Path(resources_dir) / r.name) for r in missing)}. Run the "
            f"workflow (its download rules fetch them), or 'python -m beeformer download "
            f"{' '.join(r.name for r in missing)}', or:\n{hints}"
        )
    paths, checksums = {}, {}
    for role, resource in needed.items():
        path = Path(resources_dir) / resource.name
        checksums[resource.name] = verify(resource, path)
        paths[role] = path
    loaded = LOADERS[source](paths)
    loaded.report.log()
    features = loaded.features
    keep = features["described"] & features["text"].notna()
    info: dict[str, Any] = {"resources": checksums, "join": loaded.report.as_dict()}
    substitutes = [resource.name for role, resource in needed.items() if substitute_path(paths[role]).exists()]
    if substitutes:
        info["substitutes"] = substitutes
    if spec.get("published_items"):
        published = _published_ids(source, paths["published"])
        chosen = AUTHORS_ITEM_SETS[source](published, loaded.interactions) if source in AUTHORS_ITEM_SETS else published
        keep = features["item_id"].isin(chosen) & features["text"].notna()
        info["published_items"] = {
            "published": len(published),
            "authors_item_set": len(chosen),
            "published_with_gathered_features": int(keep.sum()),
            "of_which_without_description": int((keep & ~features["described"]).sum()),
            "published_not_in_source": int((~pd.Index(chosen).isin(features["item_id"])).sum()),
        }
        log.info("dataset %s: items restricted to the authors' published set: %s", name, info["published_items"])
    items = features.loc[keep, ["item_id", "text"]].reset_index(drop=True)
    log.info("dataset %s: %d of %d items have gathered text", name, len(items), len(features))
    return loaded.interactions, items, info


def _published_ids(source: str, path: Path) -> pd.Series:
    """The distinct ids of the published file that have a non-blank text."""
    column = PUBLISHED_ID_COLUMN[source]
    frame = read_feather(path, [column, PUBLISHED_TEXT_COLUMN])
    texts = frame[PUBLISHED_TEXT_COLUMN]
    ids = to_ids(frame[column])
    has_text = texts.notna() & (texts.astype("str").str.strip() != "")
    return ids[has_text].dropna().drop_duplicates().reset_index(drop=True)
