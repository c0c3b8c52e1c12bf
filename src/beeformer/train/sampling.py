"""Batches of users and the items one training step encodes (Section 3 of the paper: negative sampling)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch

NegativeSampling = Literal["official", "paper"]


@dataclass(frozen=True)
class Batch:
    """One step's data: ``items`` index the catalogue; ``X`` is the users' interactions over those items."""

    users: np.ndarray
    items: np.ndarray
    X: torch.Tensor  # (users, items), float32, binary
    n_positive_items: int


def sample_items(
    X: sp.csr_matrix,
    users: np.ndarray,
    m: int,
    rng: np.random.Generator,
    negatives: NegativeSampling = "official",
) -> Batch:
    """The items touched by ``users`` plus uniform negatives so that about ``m`` items are encoded.

    ``m`` is a floor, not a cap: every touched item is kept even when there are more than ``m``. Negatives come
    only from the items no user of the batch touched (a negative that duplicates a positive would get a zero
    target and cancel part of that positive's pull):
    ``official`` (the authors' dataloader): ``max(1, m - |I_b|)`` drawn with replacement, so a negative may repeat;
    ``paper``: ``m - |I_b|`` distinct ones.
    Either way there are none when the batch touched the whole catalogue.
    """
    if negatives not in ("official", "paper"):
        raise ValueError(f"negative sampling {negatives!r}: use 'official' or 'paper'")
    rows = X[users]
    positives = np.unique(rows.indices)
    untouched = np.setdiff1d(np.arange(X.shape[1]), positives, assume_unique=True)
    if negatives == "official":
        k = max(1, m - len(positives)) if len(untouched) else 0
        negative_items = untouched[rng.integers(0, len(untouched), size=k)] if k else untouched
    else:
        k = min(max(0, m - len(positives)), len(untouched))
        negative_items = rng.choice(untouched, size=k, replace=False)
    items = np.concatenate([positives, negative_items])
    dense = np.zeros((len(users), len(items)), dtype=np.float32)
    dense[:, : len(positives)] = rows[:, positives].toarray()
    return Batch(users=users, items=items, X=torch.from_numpy(dense), n_positive_items=len(positives))
