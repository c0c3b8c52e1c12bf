"""What every interaction-based baseline sees: the data it fits, the users it scores, and its interface.

A method is fitted on a users x items matrix of the *fit items* (items with at least one fit interaction) and then
scores evaluation users, given their histories, against the phase's candidates. Collaborative filtering can only
score candidates that are fit items; the others (cold items, or items that first appear in the test period) get
``-inf`` and are never recommended, though they stay candidates. Heater also scores cold candidates, from their
content embeddings.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from beeformer.contract import ContractError
from beeformer.contract.metrics import SEED
from beeformer.contract.ranking import ScoreBlock, interaction_matrix

#: Called by iterative methods after each epoch with the epoch number (1-based).
EpochCallback = Callable[[int], None]


class BaselineError(ContractError):
    """A baseline cannot run on this input or with these settings; the message names the file or setting."""


def require(module: str, method: str, extra: str = "baselines", system: str = "") -> Any:
    """Import a baseline's library, or say which install step provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise BaselineError(
            f"{method}: {module} is not installed; {system}pip install -e '.[{extra}]' (README) [{error}]"
        ) from None


@dataclass(frozen=True)
class FitData:
    """Binary users x items matrix of the fit interactions, with the ids of its rows and columns."""

    X: sp.csr_matrix
    user_ids: pd.Index
    item_ids: pd.Index

    @classmethod
    def build(cls, interactions: pd.DataFrame) -> FitData:
        users = pd.Index(np.sort(interactions["user_id"].unique()))
        items = pd.Index(np.sort(interactions["item_id"].unique()))
        return cls(interaction_matrix(interactions, users, items), users, items)


@dataclass(frozen=True)
class Queries:
    """The users of one evaluation phase, their histories and the candidates, indexed against a FitData.

    ``history`` covers fit items only (other history items cannot inform a CF model); ``seen`` marks every
    history item among the candidates, for masking.
    """

    user_ids: np.ndarray
    user_rows: np.ndarray  # row of each user in FitData.X, -1 for a user the fit data does not have
    history: sp.csr_matrix  # users x fit items
    candidate_ids: np.ndarray
    candidate_cols: np.ndarray  # column of each candidate in FitData.X, -1 for a candidate without interactions
    seen: sp.csr_matrix  # users x candidates

    @classmethod
    def build(cls, fit: FitData, source: pd.DataFrame, candidates: pd.Series) -> Queries:
        users = pd.Index(np.sort(source["user_id"].unique()))
        candidate_index = pd.Index(candidates.to_numpy())
        known = source["item_id"].isin(fit.item_ids)
        in_candidates = source["item_id"].isin(candidate_index)
        return cls(
            user_ids=users.to_numpy(),
            user_rows=fit.user_ids.get_indexer(users),
            history=interaction_matrix(source[known], users, fit.item_ids),
            candidate_ids=candidate_index.to_numpy(),
            candidate_cols=fit.item_ids.get_indexer(candidate_index),
            seen=interaction_matrix(source[in_candidates], users, candidate_index),
        )

    @property
    def warm(self) -> np.ndarray:
        """Positions of the candidates that are fit items."""
        return np.flatnonzero(self.candidate_cols >= 0)


class Recommender(ABC):
    """A baseline: ``fit`` on FitData, then a ``scorer`` for Queries that scores blocks of their users."""

    #: Settings and their defaults; the config may give a value or a list of values to tune over.
    defaults: ClassVar[dict[str, Any]] = {}
    #: True for methods trained in epochs: a list of ``epochs`` is tuned within one run (see tuning).
    iterative: ClassVar[bool] = False
    #: True if the method scores candidates that have no fit interactions (from content).
    scores_cold_items: ClassVar[bool] = False

    def __init__(self, seed: int = SEED, threads: int = 1, **settings: Any) -> None:
        unknown = sorted(set(settings) - set(self.defaults))
        if unknown:
            raise BaselineError(f"{self.name}: unknown setting(s) {unknown}; known: {sorted(self.defaults)}")
        self.settings = {**self.defaults, **settings}
        self.seed = seed
        self.threads = threads

    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    @abstractmethod
    def fit(self, data: FitData, on_epoch: EpochCallback | None = None) -> None:
        """Learn from the fit interactions; iterative methods call ``on_epoch`` after each epoch."""

    @abstractmethod
    def scorer(self, queries: Queries) -> ScoreBlock:
        """A function of (start, stop): scores of those users for every candidate, ``-inf`` where it cannot."""


class WarmItemRecommender(Recommender):
    """A collaborative-filtering method: it scores only candidates that are fit items."""

    @abstractmethod
    def warm_scorer(self, history: sp.csr_matrix, user_rows: np.ndarray, columns: np.ndarray) -> ScoreBlock:
        """Like ``scorer``, for users given by their fit-item histories and fit rows, and fit-item ``columns``."""

    def scorer(self, queries: Queries) -> ScoreBlock:
        warm = queries.warm
        warm_scores = self.warm_scorer(queries.history, queries.user_rows, queries.candidate_cols[warm])

        def block(start: int, stop: int) -> np.ndarray:
            scores = np.full((stop - start, len(queries.candidate_ids)), -np.inf, dtype=np.float32)
            if len(warm):
                scores[:, warm] = warm_scores(start, stop)
            return scores

        return block
