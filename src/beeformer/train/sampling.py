"""Batches of users and the items one training step encodes (Section 3 of the paper: negative sampling).

An epoch's users are cut into steps by :class:`UserBatches`: **pooled**, one batch size over every user (the
paper; several datasets are one catalogue, as the paper's goodlens), or by **source**, in turns, each source with
its own batch size. Sources differ in shape (a Goodbooks user touches ~100 items, an Amazon user ~7), so one
batch size cannot fit them all: by source, a step is one source's step as its own model would take it (its users,
its number of them, negatives from its items), and an epoch is every source's epoch once, their batches spread
evenly over it (source s's j-th of n_s batches at (j + 1/2) / n_s of the epoch), so each source weighs by its
data as in a pooled epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch

NegativeSampling = Literal["official", "paper"]


@dataclass(frozen=True)
class UserBatches:
    """How an epoch's users are cut into steps. ``users[s]`` is the range of the catalogue's users that source
    ``s`` owns (contiguous, in source order), ``sizes[s]`` its users per step, ``items[s]`` its items (the
    negatives it may draw), ``names[s]`` its dataset's name; one source is the pooled case."""

    users: tuple[range, ...]
    sizes: tuple[int, ...]
    items: tuple[range, ...]
    names: tuple[str, ...] = ()

    @property
    def steps_per_epoch(self) -> int:
        return sum(-(-len(users) // size) for users, size in zip(self.users, self.sizes, strict=True))

    def epoch_order(self, rng: np.random.Generator) -> np.ndarray:
        """This epoch's users in step order (pooled: one permutation of all users)."""
        if len(self.users) == 1:
            return self.users[0].start + rng.permutation(len(self.users[0]))
        batches, keys = [], []
        for users, size in zip(self.users, self.sizes, strict=True):
            order = users.start + rng.permutation(len(users))
            n = -(-len(order) // size)
            batches += [order[j * size : (j + 1) * size] for j in range(n)]
            keys += [(j + 0.5) / n for j in range(n)]
        return np.concatenate([batches[i] for i in np.argsort(keys, kind="stable")])

    def batch(self, order: np.ndarray, index: int) -> np.ndarray:
        """The ``index``-th step's users of an epoch's ``order``: runs of one source, cut at its batch size."""
        source = self.sources_of(order)
        new_run = np.r_[True, source[1:] != source[:-1]]
        run_start = np.maximum.accumulate(np.where(new_run, np.arange(len(order)), 0))
        starts = np.flatnonzero((np.arange(len(order)) - run_start) % np.asarray(self.sizes)[source] == 0)
        return order[starts[index] : np.r_[starts, len(order)][index + 1]]

    def sources_of(self, users: np.ndarray) -> np.ndarray:
        """The source index of each user."""
        return np.searchsorted([users.stop for users in self.users], users, side="right")

    def negatives_of(self, users: np.ndarray) -> range:
        """The items a step of these users draws its negatives from: their source's."""
        return self.items[self._source_of_step(users)]

    def name_of(self, users: np.ndarray) -> str:
        """The name of the source a step of these users comes from."""
        return self.names[self._source_of_step(users)]

    def _source_of_step(self, users: np.ndarray) -> int:
        """The source index of a step's users (one source a step)."""
        return int(self.sources_of(users[:1])[0])


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
    catalogue: range | None = None,
) -> Batch:
    """The items touched by ``users`` plus uniform negatives so that about ``m`` items are encoded.

    ``m`` is a floor, not a cap: every touched item is kept even when there are more than ``m``. Negatives come
    only from the items no user of the batch touched (a negative that duplicates a positive would get a zero
    target and cancel part of that positive's pull):
    ``official`` (the authors' dataloader): ``max(1, m - |I_b|)`` drawn with replacement, so a negative may repeat;
    ``paper``: ``m - |I_b|`` distinct ones.
    Either way there are none when the batch touched the whole catalogue. ``catalogue``: the items negatives come
    from (default: all; a source's items when sources take turns).
    """
    if negatives not in ("official", "paper"):
        raise ValueError(f"negative sampling {negatives!r}: use 'official' or 'paper'")
    rows = X[users]
    positives = np.unique(rows.indices)
    pool = np.arange(X.shape[1]) if catalogue is None else np.arange(catalogue.start, catalogue.stop)
    untouched = np.setdiff1d(pool, positives, assume_unique=True)
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
