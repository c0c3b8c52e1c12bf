"""Predictions as the contract defines them: each user's top k candidates, history masked, ties by position.

Every method (content-based scoring, Heater, the collaborative-filtering baselines) scores users against the
phase's candidate items and hands the scores to :func:`rank_users`, so masking, ties, ``k`` and the file layout
are the same for all of them. A score of ``-inf`` means "never recommended" (an item in the user's history, or an
item the method cannot score); such items never appear in ``predictions.parquet``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm.auto import tqdm

#: Score blocks of at most this many entries (users x candidates), about 64 MB of float32.
BLOCK_ENTRIES = 1 << 24

ScoreBlock = Callable[[int, int], np.ndarray]


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the positions and scores of the ``k`` best columns, best first, ties by column position."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    # Where ties at the k-th score were cut arbitrarily, select those rows again by a stable sort.
    threshold = part_scores.min(axis=1, keepdims=True)
    cut = np.isfinite(threshold[:, 0]) & ((scores == threshold).sum(1) > (part_scores == threshold).sum(1))
    if cut.any():
        rows = np.flatnonzero(cut)
        part[rows] = np.argsort(-scores[rows], axis=1, kind="stable")[:, :k]
        part_scores[rows] = np.take_along_axis(scores[rows], part[rows], axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_scores, order, axis=1)


def rank_users(
    score_block: ScoreBlock, seen: sp.csr_matrix, k: int, progress: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` candidate positions and scores for every user.

    ``score_block(start, stop)`` returns the float scores of users ``start:stop`` for every candidate (users x
    candidates); ``seen`` (users x candidates) marks each user's history, which is masked. Users are scored in
    blocks so that memory stays at about :data:`BLOCK_ENTRIES` scores.
    """
    n_users, n_candidates = seen.shape
    k = min(k, n_candidates)
    block = max(1, BLOCK_ENTRIES // max(1, n_candidates))
    top_index = np.empty((n_users, k), dtype=np.int64)
    top_score = np.empty((n_users, k), dtype=np.float32)
    starts = range(0, n_users, block)
    for start in tqdm(starts, desc=progress, unit="block", disable=progress is None or len(starts) < 2):
        stop = min(start + block, n_users)
        scores = np.array(score_block(start, stop), dtype=np.float32, copy=True)
        if scores.shape != (stop - start, n_candidates):
            raise ValueError(f"score block has shape {scores.shape}, expected {(stop - start, n_candidates)}")
        rows, cols = seen[start:stop].nonzero()
        scores[rows, cols] = -np.inf
        top_index[start:stop], top_score[start:stop] = top_k(scores, k)
    return top_index, top_score


def predictions_frame(
    user_ids: np.ndarray, candidate_ids: np.ndarray, top_index: np.ndarray, top_score: np.ndarray
) -> pd.DataFrame:
    """The predictions table (user_id, item_id, score, rank) of :func:`rank_users`' output; -inf rows dropped."""
    n_users, width = top_index.shape
    frame = pd.DataFrame(
        {
            "user_id": np.repeat(np.asarray(user_ids, dtype=object), width),
            "item_id": np.asarray(candidate_ids, dtype=object)[top_index.ravel()],
            "score": top_score.ravel(),
            "rank": np.tile(np.arange(width), n_users),
        }
    )
    return frame[np.isfinite(frame["score"])].reset_index(drop=True)


def interaction_matrix(interactions: pd.DataFrame, users: pd.Index, items: pd.Index) -> sp.csr_matrix:
    """Binary users x items matrix of ``interactions`` (rows of unknown users or items are an error)."""
    rows = users.get_indexer(interactions["user_id"])
    cols = items.get_indexer(interactions["item_id"])
    if (rows < 0).any() or (cols < 0).any():
        raise ValueError("interaction_matrix: interactions with users or items outside the given index")
    matrix = sp.csr_matrix((np.ones(len(interactions), dtype=np.float32), (rows, cols)), shape=(len(users), len(items)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def content_based_predictions(
    history: sp.csr_matrix,
    embeddings: np.ndarray,
    candidate_rows: np.ndarray,
    user_ids: np.ndarray,
    candidate_ids: np.ndarray,
    k: int,
    progress: str | None = None,
) -> tuple[pd.DataFrame, int]:
    """The paper's content-based scoring: a user's score for a candidate is the sum of its cosine similarities to
    the items in the user's history, ``x · Â · Â_candᵀ`` (ELSA with the normalised embeddings as A).

    ``history`` is users x items (rows of ``embeddings``), ``candidate_rows`` the candidates' rows. Items in the
    history are masked, so ELSA's ``- x`` never matters. Returns the predictions table and its width (top k).
    """
    profiles = np.asarray(history @ embeddings, dtype=np.float32)  # users x d: sum of history embeddings
    candidate_embeddings = embeddings[candidate_rows]
    seen = history[:, candidate_rows].tocsr()
    top_index, top_score = rank_users(
        lambda start, stop: profiles[start:stop] @ candidate_embeddings.T, seen, k, progress=progress
    )
    return predictions_frame(user_ids, candidate_ids, top_index, top_score), top_index.shape[1]
