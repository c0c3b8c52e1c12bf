"""Content-based recommendations from item embeddings (the paper's CBF scoring, defined once in
:func:`beeformer.contract.ranking.content_based_predictions`). Only the top ``k`` candidates per user are written.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from beeformer import contract
from beeformer.contract.metrics import K
from beeformer.contract.ranking import content_based_predictions, interaction_matrix

log = logging.getLogger(__name__)


def recommend(
    embeddings_path: str | os.PathLike[str],
    source_path: str | os.PathLike[str],
    candidates_path: str | os.PathLike[str],
    predictions_path: str | os.PathLike[str],
    k: int = K,
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
    predictions, width = content_based_predictions(
        interaction_matrix(source, users, items),
        embeddings,
        items.get_indexer(candidates),
        users.to_numpy(),
        candidates.to_numpy(),
        k,
        progress="scoring",
    )
    contract.write_table(predictions, predictions_path)
    tqdm.write(f"predictions: {len(users)} users x top {width} of {len(candidates)} candidates -> {predictions_path}")
    return predictions
