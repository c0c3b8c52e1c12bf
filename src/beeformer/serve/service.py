"""What the HTTP service does, apart from HTTP: recommendations for a history, similar items, adding items.

Searches read the current :class:`CatalogueIndex`; an addition builds and writes the next one, then swaps it in,
one addition at a time, so a request sees the index before or after an addition, never half of it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd

from beeformer import contract
from beeformer.serve.catalogue import check_items
from beeformer.serve.encoder import Encoder
from beeformer.serve.index import CatalogueIndex
from beeformer.serve.settings import Limits


class Service:
    """The index being served, its model, and the limits of one request."""

    def __init__(self, index: CatalogueIndex, encoder: Encoder, limits: Limits) -> None:
        self.index = index
        self.encoder = encoder
        self.limits = limits
        self._writing = threading.Lock()

    def _check_k(self, k: int) -> None:
        if not 1 <= k <= self.limits.max_k:
            raise contract.ContractError(f"k: {k} is outside 1..{self.limits.max_k}")

    def _answer(self, index: CatalogueIndex, rows: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
        ids, texts = index.items["item_id"].to_numpy()[rows], index.items["text"].to_numpy()[rows]
        return [
            {"item_id": item_id, "score": float(score), "text": text}
            for item_id, score, text in zip(ids, scores, texts, strict=True)
        ]

    def recommend(self, history: list[str], texts: list[str], k: int) -> list[dict[str, Any]]:
        """The ``k`` best items for a history (item ids, and texts of items not in the index), history excluded."""
        self._check_k(k)
        if not history and not texts:
            raise contract.ContractError("history: empty (and no texts); give the item ids the user consumed")
        if len(history) > self.limits.max_history or len(texts) > self.limits.max_texts:
            raise contract.ContractError(
                f"history: {len(history)} ids and {len(texts)} texts; at most {self.limits.max_history} ids and "
                f"{self.limits.max_texts} texts"
            )
        index = self.index
        rows = np.unique(index.rows(history, "history"))  # a repeated id counts once, as in the evaluation
        profile = index.embeddings[rows].sum(0)
        if texts:
            profile = profile + self.encoder.encode(texts, progress=False).sum(0)
        [(found, scores)] = index.top(profile[None], [rows], k)
        return self._answer(index, found, scores)

    def similar(self, item_id: str, k: int) -> list[dict[str, Any]]:
        """The ``k`` items most similar to ``item_id`` (cosine similarity), itself excluded."""
        self._check_k(k)
        index = self.index
        rows = index.rows([item_id], "item_id")
        [(found, scores)] = index.top(index.embeddings[rows], [rows], k)
        return self._answer(index, found, scores)

    def add(self, items: list[tuple[str, str]], replace: bool) -> dict[str, Any]:
        """Embed ``items`` (id, text) and add them to the index folder; returns once the folder holds them."""
        if not 1 <= len(items) <= self.limits.max_items:
            raise contract.ContractError(f"items: {len(items)} given; send 1 to {self.limits.max_items} per request")
        new = pd.DataFrame(items, columns=list(contract.ITEM_COLUMNS))
        check_items(new, "items")
        self.index.present(new["item_id"], replace, "items")  # refused before encoding
        embeddings = self.encoder.encode(new["text"].tolist(), progress=False)
        with self._writing:
            self.index = self.index.added(new, embeddings, replace, "items")
            return self.health()

    def health(self) -> dict[str, Any]:
        index = self.index
        return {
            "status": "ok",
            "items": len(index),
            "generation": index.manifest["generation"],
            "index": index.settings.kind,
            "model": index.manifest["model"]["path"],
        }
