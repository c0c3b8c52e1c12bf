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

    ``m`` is a floor, not a cap: every touched item is kept even when there are more than ``m``.
    ``official`` (the authors' code): negatives drawn with replacement from the whole catalogue, at least one,
    so an item may appear twice. ``paper``: ``m - |I_b|`` distinct items that no user of the batch touched.
    """
    rows = X[users]
    positives = np.unique(rows.indices)
    n_items = X.shape[1]
    if negatives == "official":
        negative_items = rng.integers(0, n_items, size=max(1, m - len(positives)))
    elif negatives == "paper":
        untouched = np.setdiff1d(np.arange(n_items), positives, assume_unique=True)
        k = min(max(0, m - len(positives)), len(untouched))
        negative_items = rng.choice(untouched, size=k, replace=False)
    else:
        raise ValueError(f"negative sampling {negatives!r}: use 'official' or 'paper'")
    items = np.concatenate([positives, negative_items])
    dense = np.zeros((len(users), len(items)), dtype=np.float32)
    dense[:, : len(positives)] = rows[:, positives].toarray()
    return Batch(users=users, items=items, X=torch.from_numpy(dense), n_positive_items=len(positives))
