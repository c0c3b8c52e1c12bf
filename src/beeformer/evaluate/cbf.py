"""Content-based recommendations from item embeddings (the paper's CBF scoring).

A user's score for a candidate item is the sum of the cosine similarities between the candidate and the items in
the user's history: ``x · Â · Â_candᵀ`` (ELSA with the normalised embeddings as A). Items in the history are
masked, so the ``- x`` of ELSA's prediction never matters. Only the top ``k`` candidates per user are written.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from beeformer import contract
from beeformer.contract.ranking import interaction_matrix, predictions_frame, rank_users

log = logging.getLogger(__name__)


def recommend(
    embeddings_path: str | os.PathLike[str],
    source_path: str | os.PathLike[str],
    candidates_path: str | os.PathLike[str],
    predictions_path: str | os.PathLike[str],
    k: int = 100,
) -> pd.DataFrame:
    """Write the top-``k`` content-based predictions of every user in ``source_path``."""
    item_ids, embeddings = contract.read_embeddings(embeddings_path)
    items = pd.Index(item_ids)
    source = contract.read_interactions(source_path)
    candidates = contract.read_candidates(candidates_path)
    needed = pd.Index(np.union1d(source["item_id"].unique(), candidates.to_numpy()))
    missing = needed.difference(items)
    if len(missing):
        raise contract.ContractError(
            f"{embeddings_path}: {len(missing)} item(s) of the evaluation have no embedding (e.g. "
            f"{list(missing[:5])}); the split and the embeddings come from different datasets"
        )
    users = pd.Index(np.sort(source["user_id"].unique()))
    history = interaction_matrix(source, users, items)
    profiles = np.asarray(history @ embeddings, dtype=np.float32)  # users x d: sum of history embeddings
    candidate_rows = items.get_indexer(candidates)
    candidate_embeddings = embeddings[candidate_rows]
    seen = history[:, candidate_rows].tocsr()
    top_index, top_score = rank_users(
        lambda start, stop: profiles[start:stop] @ candidate_embeddings.T, seen, k, progress="scoring"
    )
    predictions = predictions_frame(users.to_numpy(), candidates.to_numpy(), top_index, top_score)
    contract.write_table(predictions, predictions_path)
    tqdm.write(
        f"predictions: {len(users)} users x top {top_index.shape[1]} of {len(candidates)} candidates "
        f"-> {predictions_path}"
    )
    return predictions
