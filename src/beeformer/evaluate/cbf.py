"""Content-based recommendations from a sentence-Transformer (the paper's CBF scoring).

A user's score for a candidate item is the sum of the cosine similarities between the candidate and the items in
the user's history: ``x · Â · Â_candᵀ`` (ELSA with the normalised embeddings as A). Items in the history are
masked, so the ``- x`` of ELSA's prediction never matters. Only the top ``k`` candidates per user are written.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sentence_transformers import SentenceTransformer
from tqdm.auto import tqdm

from beeformer import contract

log = logging.getLogger(__name__)


def encode_items(
    model_dir: str | os.PathLike[str], texts: list[str], batch_size: int = 64, max_seq_length: int | None = None
) -> np.ndarray:
    """L2-normalised float32 embeddings of ``texts``."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = SentenceTransformer(str(model_dir), device=device, trust_remote_code=True)
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    embeddings = model.encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=True
    )
    return np.asarray(embeddings, dtype=np.float32)


def score_top_k(
    history: sp.csr_matrix, embeddings: np.ndarray, candidates: np.ndarray, k: int, block: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k candidate positions and scores per user (rows of ``history`` over the rows of ``embeddings``).

    ``candidates`` are row indices into ``embeddings``; returned indices point into ``candidates``.
    Users are scored in blocks so memory stays at ``block x len(candidates)``.
    """
    k = min(k, len(candidates))
    profiles = np.asarray(history @ embeddings, dtype=np.float32)  # users x d: sum of history embeddings
    candidate_embeddings = embeddings[candidates]
    seen = history[:, candidates].tocsr()
    top_index = np.empty((history.shape[0], k), dtype=np.int64)
    top_score = np.empty((history.shape[0], k), dtype=np.float32)
    for start in range(0, history.shape[0], block):
        stop = min(start + block, history.shape[0])
        scores = profiles[start:stop] @ candidate_embeddings.T
        rows, cols = seen[start:stop].nonzero()
        scores[rows, cols] = -np.inf
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.lexsort((part, -part_scores), axis=1)  # by score, ties by candidate position
        top_index[start:stop] = np.take_along_axis(part, order, axis=1)
        top_score[start:stop] = np.take_along_axis(part_scores, order, axis=1)
    return top_index, top_score


def recommend(
    model_dir: str | os.PathLike[str],
    items_path: str | os.PathLike[str],
    source_path: str | os.PathLike[str],
    candidates_path: str | os.PathLike[str],
    predictions_path: str | os.PathLike[str],
    k: int = 100,
    batch_size: int = 64,
    max_seq_length: int | None = None,
) -> pd.DataFrame:
    """Write the top-``k`` content-based predictions of every user in ``source_path``."""
    items = contract.read_items(items_path).drop_duplicates("item_id").set_index("item_id")["text"]
    source = contract.read_interactions(source_path)
    candidates = contract.read_candidates(candidates_path)
    needed = pd.Index(np.union1d(source["item_id"].unique(), candidates.to_numpy()))
    missing = needed.difference(items.index)
    if len(missing):
        raise contract.ContractError(
            f"{items_path}: {len(missing)} item(s) of the evaluation have no text (e.g. {list(missing[:5])}); "
            "the split and the items file come from different datasets"
        )
    log.info("encoding %d items with %s", len(needed), model_dir)
    embeddings = encode_items(model_dir, items.loc[needed].tolist(), batch_size, max_seq_length)

    users = pd.Categorical(source["user_id"])
    history = sp.csr_matrix(
        (np.ones(len(source), dtype=np.float32), (users.codes, needed.get_indexer(source["item_id"]))),
        shape=(len(users.categories), len(needed)),
    )
    history.sum_duplicates()
    history.data[:] = 1.0
    candidate_rows = needed.get_indexer(candidates)
    top_index, top_score = score_top_k(history, embeddings, candidate_rows, k)
    n_users, width = top_index.shape
    predictions = pd.DataFrame(
        {
            "user_id": np.repeat(np.asarray(users.categories, dtype=object), width),
            "item_id": candidates.to_numpy()[top_index.ravel()],
            "score": top_score.ravel(),
            "rank": np.tile(np.arange(width), n_users),
        }
    )
    predictions = predictions[np.isfinite(predictions["score"])]
    contract.write_table(predictions, predictions_path)
    tqdm.write(f"predictions: {n_users} users x top {width} of {len(candidates)} candidates -> {predictions_path}")
    return predictions
