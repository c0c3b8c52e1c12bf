"""``beeformer query``: users' top-k items (the contract's predictions) or items' nearest items, from an index."""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from beeformer import contract
from beeformer.contract.metrics import K
from beeformer.contract.ranking import interaction_matrix, predictions_frame
from beeformer.serve.index import CatalogueIndex

#: Users searched per FAISS call.
USERS_PER_SEARCH = 1024


def ranked(
    index: CatalogueIndex, profiles: np.ndarray, seen: list[np.ndarray], k: int, allowed: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`CatalogueIndex.top` for many profiles as (profiles x width) rows and scores, -inf where none."""
    width = min(k, len(index) if allowed is None else len(allowed))
    rows = np.zeros((len(profiles), width), dtype=np.int64)
    scores = np.full((len(profiles), width), -np.inf, dtype=np.float32)
    starts = range(0, len(profiles), USERS_PER_SEARCH)
    for start in tqdm(starts, desc="searching", unit="block", disable=len(starts) < 2):
        stop = start + USERS_PER_SEARCH
        for i, (found, found_scores) in enumerate(index.top(profiles[start:stop], seen[start:stop], k, allowed)):
            rows[start + i, : len(found)], scores[start + i, : len(found)] = found, found_scores
    return rows, scores


def query_users(
    index: CatalogueIndex,
    interactions_path: str | os.PathLike[str],
    candidates_path: str | os.PathLike[str] | None = None,
    k: int = K,
) -> pd.DataFrame:
    """Each user's top ``k`` items (the content-based score of the evaluation), history excluded; with
    ``candidates_path`` only those items are ranked."""
    source = contract.read_interactions(interactions_path)
    if source.empty:
        raise contract.ContractError(f"{interactions_path}: no interactions; give user_id,item_id rows")
    index.rows(source["item_id"], str(interactions_path))
    allowed = None
    if candidates_path is not None:
        allowed = index.rows(contract.read_candidates(candidates_path).drop_duplicates(), str(candidates_path))
    users = pd.Index(np.sort(source["user_id"].unique()))
    history = interaction_matrix(source, users, index.positions)
    profiles = np.asarray(history @ index.embeddings, dtype=np.float32)  # the sum of each history's embeddings
    seen = np.split(history.indices, history.indptr[1:-1])
    rows, scores = ranked(index, profiles, seen, k, allowed)
    return predictions_frame(users.to_numpy(), index.items["item_id"].to_numpy(), rows, scores)


def query_similar(index: CatalogueIndex, item_ids: list[str], k: int = K) -> pd.DataFrame:
    """The ``k`` items nearest to each of ``item_ids`` (cosine similarity), as predictions whose user_id is the
    queried item."""
    rows = index.rows(item_ids, "--similar")
    found, scores = ranked(index, index.embeddings[rows], [np.array([row]) for row in rows], k, None)
    return predictions_frame(np.asarray(item_ids, dtype=object), index.items["item_id"].to_numpy(), found, scores)


def write_predictions(index: CatalogueIndex, predictions: pd.DataFrame, path: str | os.PathLike[str] | None) -> None:
    """To ``path`` (the contract's predictions.parquet), or to stdout as TSV with each item's text."""
    if path is not None:
        contract.write_table(predictions, path)
        tqdm.write(f"predictions: {predictions['user_id'].nunique()} queries, {len(predictions)} rows -> {path}")
        return
    texts = index.items.set_index("item_id")["text"]
    predictions.assign(text=texts.reindex(predictions["item_id"]).to_numpy()).to_csv(sys.stdout, sep="\t", index=False)
