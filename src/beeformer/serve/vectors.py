"""The FAISS index over item embeddings: exact inner product (``flat``) or an HNSW graph (``hnsw``).

Embeddings are L2-normalised, so an inner product is a cosine similarity, and a user's score for an item, the sum
of the item's cosine similarities to the history (:func:`beeformer.contract.ranking.content_based_predictions`), is
the inner product of the summed history embeddings with the item's: an inner-product index answers it exactly.
Row ``i`` of the index is row ``i`` of the catalogue.
"""

from __future__ import annotations

import faiss
import numpy as np
from tqdm.auto import tqdm

from beeformer.serve.settings import IndexSettings

#: Vectors added to an HNSW graph per progress step.
ADD_CHUNK = 20_000


def build(embeddings: np.ndarray, settings: IndexSettings, progress: bool = True) -> faiss.Index:
    """An inner-product index over ``embeddings`` (items x d, float32)."""
    dim = embeddings.shape[1]
    if settings.kind == "flat":
        index = faiss.IndexFlatIP(dim)
        index.add(np.ascontiguousarray(embeddings, dtype=np.float32))
        return index
    index = faiss.IndexHNSWFlat(dim, settings.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = settings.ef_construction
    index.hnsw.efSearch = settings.ef_search
    append(index, embeddings, progress)
    return index


def append(index: faiss.Index, embeddings: np.ndarray, progress: bool = True) -> None:
    """Add rows at the end of ``index`` (an HNSW graph links them in without rebuilding)."""
    starts = range(0, len(embeddings), ADD_CHUNK)
    bar = tqdm(total=len(embeddings), desc="indexing", unit="item", disable=not progress or len(starts) < 2)
    for start in starts:
        chunk = embeddings[start : start + ADD_CHUNK]
        index.add(np.ascontiguousarray(chunk, dtype=np.float32))
        bar.update(len(chunk))
    bar.close()


def search(
    index: faiss.Index, queries: np.ndarray, depth: int, settings: IndexSettings, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and rows of the ``depth`` best rows per query, best first (row -1 where fewer exist);
    ``allowed``: only these rows are ranked."""
    selector = None if allowed is None else faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
    if settings.kind == "hnsw":
        params = faiss.SearchParametersHNSW(efSearch=max(settings.ef_search, depth), sel=selector)
    else:
        params = faiss.SearchParameters(sel=selector)
    scores, rows = index.search(np.ascontiguousarray(queries, dtype=np.float32), depth, params=params)
    return scores, rows


def to_bytes(index: faiss.Index) -> bytes:
    return faiss.serialize_index(index).tobytes()


def from_bytes(data: bytes) -> faiss.Index:
    return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
