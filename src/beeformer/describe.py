"""Describe stage: turn each item's gathered features into the text the encoder is trained on.

The paper rewrites the features into a one-paragraph description with Llama-3.1-8B-Instruct (vLLM) and drops
the items the model refuses. Engine ``none`` uses the features as they are (the embedded demo, and datasets
whose texts are already descriptions, such as the authors' published Goodbooks descriptions).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from beeformer import contract

log = logging.getLogger(__name__)

ENGINES = ("none", "vllm", "openai", "transformers", "published")


def describe(spec: dict[str, Any], features_path: str | os.PathLike[str], items_path: str | os.PathLike[str]) -> int:
    """Write ``items_path`` (item_id, text) from ``features_path``; return the number of items written."""
    engine = spec.get("engine", "none")
    if engine not in ENGINES:
        raise contract.ContractError(f"describe.engine: unknown engine {engine!r}; use one of {ENGINES}")
    if engine != "none":
        raise NotImplementedError(
            f"describe.engine '{engine}' is not implemented yet (tracked in the LLM descriptions issue); "
            "set describe.engine: none to use the item texts as they are."
        )
    items = contract.read_items(features_path)
    contract.write_table(items[list(contract.ITEM_COLUMNS)], items_path)
    log.info("describe (engine none): %d item texts used as they are -> %s", len(items), items_path)
    return len(items)
