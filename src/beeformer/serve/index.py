"""A catalogue index in memory: the items, their embeddings and the FAISS index of one generation of the folder.

An index object never changes: adding items makes a new one (written to the folder first), so searches running
on the old object are never disturbed by an update.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd

from beeformer import contract
from beeformer.serve import folder as disk
from beeformer.serve import vectors
from beeformer.serve.settings import IndexSettings


class UnknownItems(contract.ContractError):
    """Item ids that are not in the index (listed in the message)."""


class DuplicateItems(contract.ContractError):
    """Item ids that are already in the index."""


@dataclass(frozen=True)
class CatalogueIndex:
    """One generation of an index folder; ``positions`` maps an item id to its row."""

    folder: Path
    manifest: dict[str, Any]
    items: pd.DataFrame
    embeddings: np.ndarray
    vectors: faiss.Index
    positions: pd.Index

    @classmethod
    def of(
        cls, folder: Path, manifest: dict[str, Any], items: pd.DataFrame, embeddings: np.ndarray, index: faiss.Index
    ) -> CatalogueIndex:
        items = items.reset_index(drop=True)
        return cls(folder, manifest, items, embeddings, index, pd.Index(items["item_id"]))

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> CatalogueIndex:
        """Read and check an index folder (every file against the manifest's SHA-256, the counts against each other)."""
        folder = Path(folder)
        manifest, items, embeddings, faiss_bytes = disk.read_generation(folder)
        index = vectors.from_bytes(faiss_bytes)
        if index.ntotal != len(items) or index.d != embeddings.shape[1]:
            raise contract.ContractError(
                f"{folder}: the FAISS index holds {index.ntotal} x {index.d}, the embeddings {embeddings.shape}; "
                "rebuild the index"
            )
        return cls.of(folder, manifest, items, embeddings, index)

    @property
    def settings(self) -> IndexSettings:
        return IndexSettings.from_dict(self.manifest["index"])

    def __len__(self) -> int:
        return len(self.items)

    def rows(self, item_ids: list[str] | pd.Series, where: str) -> np.ndarray:
        """The rows of ``item_ids``; unknown ids are an error that lists them."""
        rows = self.positions.get_indexer(pd.Index(item_ids, dtype=object))
        if (rows < 0).any():
            unknown = list(dict.fromkeys(np.asarray(item_ids, dtype=object)[rows < 0]))
            raise UnknownItems(
                f"{where}: {len(unknown)} item id(s) not in the index: {unknown[:20]}"
                + (" ..." if len(unknown) > 20 else "")
                + "; add them first (beeformer index --add, POST /items)"
            )
        return rows

    def top(
        self, profiles: np.ndarray, seen: list[np.ndarray], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per profile, the rows and scores (inner products) of the ``k`` best items, best first, ``seen`` rows
        excluded; ``allowed``: rank only these rows. Ties go by position in ``allowed`` (else by row), as the
        evaluation's ranking breaks them by candidate order."""
        ranked = len(self) if allowed is None else len(allowed)
        depth = min(k + max((len(s) for s in seen), default=0), ranked)
        if depth == 0:
            return [(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in seen]
        order = np.arange(len(self))
        if allowed is not None:
            order[allowed] = np.arange(len(allowed))
        scores, rows = vectors.search(self.vectors, profiles, depth, self.settings, allowed)
        found = []
        for row_scores, row_ids, excluded in zip(scores, rows, seen, strict=True):
            keep = (row_ids >= 0) & ~np.isin(row_ids, excluded)
            row_scores, row_ids = row_scores[keep], row_ids[keep]
            best = np.lexsort((order[row_ids], -row_scores))[:k]
            found.append((row_ids[best], row_scores[best]))
        return found

    def present(self, item_ids: pd.Series, replace: bool, where: str) -> list[str]:
        """The ids of ``item_ids`` already in the index: an error unless ``replace``."""
        present = item_ids[item_ids.isin(self.positions)].tolist()
        if present and not replace:
            raise DuplicateItems(
                f'{where}: item id(s) already in the index: {present[:20]}; give --replace (HTTP: "replace": true) '
                "to replace them"
            )
        return present

    def added(self, new: pd.DataFrame, embeddings: np.ndarray, replace: bool, where: str) -> CatalogueIndex:
        """A new index with ``new`` items (item_id, text) and their embeddings appended, written to the folder as
        the next generation. An id already present is refused unless ``replace`` (its row is then overwritten and
        an HNSW graph rebuilt)."""
        present = self.present(new["item_id"], replace, where)
        rows = self.positions.get_indexer(new["item_id"])
        items = self.items.copy()
        matrix = self.embeddings.copy()
        items.loc[rows[rows >= 0], "text"] = new["text"][rows >= 0].to_numpy()
        matrix[rows[rows >= 0]] = embeddings[rows >= 0]
        items = pd.concat([items, new[rows < 0]], ignore_index=True)
        matrix = np.concatenate([matrix, embeddings[rows < 0]])
        if present or self.settings.kind == "flat":
            index = vectors.build(matrix, self.settings)
        else:  # new rows are linked into a copy of the graph
            index = vectors.from_bytes(vectors.to_bytes(self.vectors))
            vectors.append(index, embeddings[rows < 0])
        with disk.locked(self.folder):
            disk.check_unchanged(self.folder, self.manifest["generation"])
            manifest = {**self.manifest, "generation": self.manifest["generation"] + 1, "items": len(items)}
            manifest = disk.write_generation(self.folder, manifest, items, matrix, vectors.to_bytes(index))
        return CatalogueIndex.of(self.folder, manifest, items, matrix, index)
