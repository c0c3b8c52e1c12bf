"""Heater (Zhu, Sefati, Saadatpanah, Caverlee, SIGIR 2020): cold-start items from content, in torch.

Heater maps an item's content into the space of pretrained collaborative-filtering (CF) vectors and trains the
recommender so that it works from either. As the authors' cold-item code (``Zziwei/Heater--Cold-Start-
Recommendation``, ``main_CiteULike.py``, ``model.py``) does:

1. CF vectors of the fit users and items, standardized per column (users capped at ±5 std, items at ±1), and the
   items' content standardized (capped at ±5).
2. Item content goes through a mixture of ``experts``: a gate ``tanh(dense(content))`` weights the experts (each
   ``expert_layers`` dense+tanh layers), the mixture is ``tanh`` of the weighted sum, of the items' CF rank.
3. Randomized training: for ``floor(dropout · batch)`` random pairs of each batch the item's CF vector is replaced
   by its content mixture, and ``alpha · Σ_pairs ||mixture - CF vector||²`` pulls the mixture to the CF vector.
4. Each side then has one dense layer (``rank_out``), batch norm and tanh, and a linear embedding layer;
   the score is the dot product of the user and item embeddings.
5. Loss: mean squared error to the 0/1 target + ``reg`` · (sum of squares of every weight and bias but batch
   norm's) + the mixture loss. Pairs: every fit interaction (1) and ``neg`` uniform fit items per interaction (0),
   reshuffled each epoch, batches of ``batch_size``; SGD with momentum, lr times ``lr_decay`` every
   ``lr_decay_every`` epochs; weights from a normal truncated at 2 std (std 0.01), biases zero.
6. Scoring: a cold candidate (no fit interactions) goes through the content mixture, a warm one through its CF
   vector, as the reference's evaluation does.

Deviations from the reference, and why:

- CF vectors: ``implicit``'s BPR fitted on the fit interactions (the reference loads BPR vectors computed
  elsewhere, with unpublished settings), single-threaded because its multi-threaded SGD is not deterministic.
  Users get the ``factors`` (implicit's constant bias column is dropped: it standardizes to zero), items the
  ``factors`` and implicit's item bias. ``cf: als`` uses implicit's ALS instead (no bias column).
- Content: the statistics that standardize it come from the fit items only (the reference uses every item, the
  cold ones included), so that nothing of the held-out items shapes training.
- Experts: every expert layer has the items' CF rank as width (the reference's ``model_select`` lists widths whose
  last must equal the CF rank; its default, ``[200]`` at rank 200, is ``expert_layers: 1``), and ``rank_out`` is a
  setting of its own (the reference ties it to the CF rank).
- Cold items are known by having no fit column, so standardized values below 1e-5 are not zeroed (the reference
  zeroes them to recognise cold items by their all-zero CF vectors). A user without fit interactions gets the
  zero CF vector, which is what the reference's standardization leaves for an all-zero row.
- The mixture is computed once per distinct item of a batch (the same values and gradients; the mixture loss still
  sums over pairs). A last batch of a single pair is left out: torch's batch norm refuses one row.
- Epoch selection: the reference keeps the epoch of the best validation recall; here the tuner
  (:mod:`beeformer.baselines.tuning`) scores the listed ``epochs`` on validation and refits the chosen number on
  ``train_full``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn

from beeformer.baselines.base import BaselineError, EpochCallback, FitData, Queries, Recommender, require
from beeformer.contract.metrics import SEED
from beeformer.contract.ranking import ScoreBlock

log = logging.getLogger(__name__)

#: Items whose embeddings are computed at once when scoring.
SCORE_CHUNK = 8192


def _int(low: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= low


def _number(low: float, high: float) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


POSITIVE_INT = (_int(1), "a positive integer")
NON_NEGATIVE = (_number(0.0, math.inf), "a number >= 0")
FRACTION = (_number(0.0, 1.0), "a number in [0, 1]")
#: Each setting's test and what it must be.
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "cf": (lambda value: value in ("bpr", "als"), "bpr or als"),
    "factors": POSITIVE_INT,
    "cf_iterations": POSITIVE_INT,
    "cf_learning_rate": NON_NEGATIVE,
    "cf_regularization": NON_NEGATIVE,
    "experts": POSITIVE_INT,
    "expert_layers": POSITIVE_INT,
    "rank_out": POSITIVE_INT,
    "dropout": FRACTION,
    "alpha": NON_NEGATIVE,
    "reg": NON_NEGATIVE,
    "lr": NON_NEGATIVE,
    "momentum": FRACTION,
    "lr_decay": FRACTION,
    "lr_decay_every": POSITIVE_INT,
    "neg": POSITIVE_INT,
    "batch_size": (_int(2), "an integer >= 2 (batch norm)"),
    "epochs": POSITIVE_INT,
}


@dataclass(frozen=True)
class Standardizer:
    """Per-column z-scores clipped to ±``cap`` (a constant column is only centred), as scikit-learn's scaler."""

    mean: np.ndarray
    scale: np.ndarray
    cap: float

    @classmethod
    def fit(cls, x: np.ndarray, cap: float) -> Standardizer:
        scale = x.std(axis=0)
        scale[scale == 0] = 1.0
        return cls(x.mean(axis=0), scale, cap)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.clip((x - self.mean) / self.scale, -self.cap, self.cap).astype(np.float32)


def cf_vectors(X: sp.csr_matrix, settings: dict[str, Any], seed: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """User and item CF vectors of the fit matrix (see the module docstring)."""
    from threadpoolctl import threadpool_limits

    AlternatingLeastSquares = require("implicit.cpu.als", "heater").AlternatingLeastSquares
    BayesianPersonalizedRanking = require("implicit.cpu.bpr", "heater").BayesianPersonalizedRanking

    common = {
        "factors": settings["factors"],
        "regularization": float(settings["cf_regularization"]),
        "iterations": settings["cf_iterations"],
        "random_state": seed,
    }
    with threadpool_limits(1, "blas"):  # implicit's advice: its own threads, BLAS single
        if settings["cf"] == "als":
            als = AlternatingLeastSquares(**common, num_threads=threads)
            als.fit(X, show_progress=False)
            return als.user_factors, als.item_factors
        bpr = BayesianPersonalizedRanking(**common, learning_rate=float(settings["cf_learning_rate"]), num_threads=1)
        bpr.fit(X, show_progress=False)
        return bpr.user_factors[:, :-1], bpr.item_factors


def dense(n_in: int, n_out: int, generator: torch.Generator) -> nn.Linear:
    """A dense layer initialised as the reference's: weights N(0, 0.01²) truncated at 2 std, zero bias."""
    layer = nn.Linear(n_in, n_out)
    truncated_normal(layer.weight, generator)
    nn.init.zeros_(layer.bias)
    return layer


def truncated_normal(tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return nn.init.trunc_normal_(tensor, std=0.01, a=-0.02, b=0.02, generator=generator)


class MixtureOfExperts(nn.Module):
    """Content to the CF space: ``tanh(Σ_e gate_e · expert_e(content))`` with ``gate = tanh(dense(content))``."""

    def __init__(self, content_dim: int, rank: int, experts: int, layers: int, generator: torch.Generator) -> None:
        super().__init__()
        self.experts, self.rank = experts, rank
        self.gate = dense(content_dim, experts, generator)
        self.first = dense(content_dim, experts * rank, generator)  # every expert's first layer side by side
        self.weights = nn.ParameterList(
            nn.Parameter(truncated_normal(torch.empty(experts, rank, rank), generator)) for _ in range(layers - 1)
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(experts, 1, rank)) for _ in range(layers - 1))

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        gate = torch.tanh(self.gate(content))
        hidden = torch.tanh(self.first(content)).view(-1, self.experts, self.rank).transpose(0, 1)  # experts first
        for weight, bias in zip(self.weights, self.biases, strict=True):
            hidden = torch.tanh(torch.bmm(hidden, weight) + bias)
        return torch.tanh(torch.einsum("be,ebr->br", gate, hidden))


class Tower(nn.Module):
    """One side's transformation: dense, batch norm (TF's defaults), tanh, then a linear embedding layer."""

    def __init__(self, rank_in: int, rank_out: int, generator: torch.Generator) -> None:
        super().__init__()
        self.hidden = dense(rank_in, rank_out, generator)
        self.norm = nn.BatchNorm1d(rank_out, eps=1e-3, momentum=0.1)
        self.embed = dense(rank_out, rank_out, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(torch.tanh(self.norm(self.hidden(x))))


class HeaterNet(nn.Module):
    """The item experts and the two towers."""

    def __init__(
        self, user_rank: int, item_rank: int, content_dim: int, settings: dict[str, Any], generator: torch.Generator
    ) -> None:
        super().__init__()
        rank_out = settings["rank_out"]
        self.mixture = MixtureOfExperts(
            content_dim, item_rank, settings["experts"], settings["expert_layers"], generator
        )
        self.user = Tower(user_rank, rank_out, generator)
        self.item = Tower(item_rank, rank_out, generator)

    def l2(self) -> torch.Tensor:
        """Sum of squares of every weight and bias but batch norm's."""
        return torch.stack(
            [
                p.square().sum()
                for m in self.modules()
                if not isinstance(m, nn.BatchNorm1d)
                for p in m.parameters(recurse=False)
            ]
        ).sum()


@dataclass(frozen=True)
class Pairs:
    """One epoch's training pairs (users, items, 0/1 targets) in order, their batches, which pairs use content."""

    users: torch.Tensor
    items: torch.Tensor
    targets: torch.Tensor
    from_content: torch.Tensor
    batches: list[slice]

    @classmethod
    def sample(cls, X: sp.coo_matrix, neg: int, dropout: float, batch_size: int, generator: torch.Generator) -> Pairs:
        positives = len(X.row)
        users = torch.from_numpy(X.row.astype(np.int64)).repeat(neg + 1)
        negatives = torch.randint(X.shape[1], (positives * neg,), generator=generator)
        items = torch.cat([torch.from_numpy(X.col.astype(np.int64)), negatives])
        targets = torch.cat([torch.ones(positives), torch.zeros(positives * neg)])
        order = torch.randperm(len(users), generator=generator)
        # a last batch of one pair is left out: batch norm needs two
        batches = [slice(start, min(start + batch_size, len(order))) for start in range(0, len(order) - 1, batch_size)]
        from_content = torch.zeros(len(order), dtype=torch.bool)
        for batch in batches:
            n = batch.stop - batch.start
            from_content[batch] = torch.randperm(n, generator=generator) < int(dropout * n)
        return cls(users[order], items[order], targets[order], from_content, batches)

    def to(self, device: torch.device) -> Pairs:
        moved = (t.to(device) for t in (self.users, self.items, self.targets, self.from_content))
        return Pairs(*moved, self.batches)


class Heater(Recommender):
    """Heater on CF vectors of the fit data and the items' sentence embeddings; scores cold items from content."""

    defaults: ClassVar[dict[str, Any]] = {
        "cf": "bpr",
        "factors": 200,
        "cf_iterations": 100,
        "cf_learning_rate": 0.01,
        "cf_regularization": 0.01,
        "experts": 5,
        "expert_layers": 1,
        "rank_out": 200,
        "dropout": 0.5,
        "alpha": 1e-4,
        "reg": 1e-4,
        "lr": 0.005,
        "momentum": 0.9,
        "lr_decay": 0.8,
        "lr_decay_every": 10,
        "neg": 5,
        "batch_size": 1024,
        "epochs": 100,
    }
    iterative: ClassVar[bool] = True
    scores_cold_items: ClassVar[bool] = True

    def __init__(self, content: tuple[np.ndarray, np.ndarray], seed: int = SEED, threads: int = 1, **settings: Any):
        super().__init__(seed=seed, threads=threads, **settings)
        for key, (valid, expected) in RULES.items():
            if not valid(self.settings[key]):
                raise BaselineError(f"heater: setting {key} must be {expected}, got {self.settings[key]!r}")
        ids, self.embeddings = content
        self.content_index = pd.Index(np.asarray(ids, dtype=str))
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def content_rows(self, item_ids: np.ndarray, role: str) -> np.ndarray:
        """Rows of ``item_ids`` in the content embeddings; a BaselineError names the items without one."""
        rows = self.content_index.get_indexer(np.asarray(item_ids, dtype=str))
        missing = np.asarray(item_ids)[rows < 0]
        if len(missing):
            raise BaselineError(
                f"heater: no content embedding for {len(missing)} {role} item(s), e.g. {list(missing[:5])}; "
                "the embeddings file must cover every item of the dataset (re-encode the items)"
            )
        return rows

    def fit(self, data: FitData, on_epoch: EpochCallback | None = None) -> None:
        s = self.settings
        torch.set_num_threads(self.threads)
        content = self.embeddings[self.content_rows(data.item_ids.to_numpy(), "fit")]
        self.content_scaler = Standardizer.fit(content, cap=5.0)
        users, items = cf_vectors(data.X, s, self.seed, self.threads)
        self.user_cf = torch.from_numpy(Standardizer.fit(users, cap=5.0)(users)).to(self.device)
        self.item_cf = torch.from_numpy(Standardizer.fit(items, cap=1.0)(items)).to(self.device)
        item_content = torch.from_numpy(self.content_scaler(content)).to(self.device)

        generator = torch.Generator().manual_seed(self.seed)
        self.net = HeaterNet(users.shape[1], items.shape[1], content.shape[1], s, generator).to(self.device)
        optimizer = torch.optim.SGD(self.net.parameters(), lr=float(s["lr"]), momentum=float(s["momentum"]))
        schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=s["lr_decay_every"], gamma=s["lr_decay"])
        X = data.X.tocoo()
        for epoch in range(1, s["epochs"] + 1):
            started = time.perf_counter()
            self.net.train()
            pairs = Pairs.sample(X, s["neg"], float(s["dropout"]), s["batch_size"], generator).to(self.device)
            total = torch.zeros(3, device=self.device)
            for batch in pairs.batches:
                losses = self.batch_losses(pairs, batch, item_content)
                optimizer.zero_grad(set_to_none=True)
                losses.sum().backward()
                optimizer.step()
                total += losses.detach()
            schedule.step()
            mse, reg, diff = total.tolist()
            if not math.isfinite(mse + reg + diff):
                raise BaselineError(f"heater: the loss is not finite in epoch {epoch}; lower the setting lr")
            seconds = time.perf_counter() - started
            log.info("heater epoch %d: loss mse %.4f + reg %.4f + diff %.4f, %.1f s", epoch, mse, reg, diff, seconds)
            if on_epoch is not None:
                on_epoch(epoch)

    def batch_losses(self, pairs: Pairs, batch: slice, item_content: torch.Tensor) -> torch.Tensor:
        """Mean squared error, weight penalty and mixture loss of one batch of pairs."""
        items, at = torch.unique(pairs.items[batch], return_inverse=True)
        mixture = self.net.mixture(item_content[items])[at]
        item_cf = self.item_cf[pairs.items[batch]]
        item_in = torch.where(pairs.from_content[batch, None], mixture, item_cf)
        scores = (self.net.user(self.user_cf[pairs.users[batch]]) * self.net.item(item_in)).sum(dim=1)
        return torch.stack(
            [
                (scores - pairs.targets[batch]).square().mean(),
                self.settings["reg"] * self.net.l2(),
                self.settings["alpha"] * (mixture - item_cf).square().sum(),
            ]
        )

    @torch.no_grad()
    def scorer(self, queries: Queries) -> ScoreBlock:
        known = queries.user_rows >= 0
        if not known.any():
            raise BaselineError(
                f"heater: none of the {len(known)} users to score has fit interactions; Heater scores new items "
                "for known users: use it on an item split"
            )
        content_rows = self.content_rows(queries.candidate_ids, "candidate")
        self.net.eval()
        rows = torch.from_numpy(queries.user_rows).to(self.device)
        user_in = torch.where((rows >= 0)[:, None], self.user_cf[rows.clamp(min=0)], 0.0)  # zero: no fit user
        users = self.net.user(user_in).cpu().numpy()
        items = np.concatenate(
            [
                self.item_embeddings(queries.candidate_cols[chunk], content_rows[chunk])
                for chunk in (slice(start, start + SCORE_CHUNK) for start in range(0, len(content_rows), SCORE_CHUNK))
            ]
        ).T.copy()
        return lambda start, stop: users[start:stop] @ items

    def item_embeddings(self, cols: np.ndarray, content_rows: np.ndarray) -> np.ndarray:
        """Item embeddings: through the CF vector for fit columns, through the content mixture for cold items."""
        cols = torch.from_numpy(cols).to(self.device)
        content = torch.from_numpy(self.content_scaler(self.embeddings[content_rows])).to(self.device)
        item_in = torch.where((cols < 0)[:, None], self.net.mixture(content), self.item_cf[cols.clamp(min=0)])
        return self.net.item(item_in).cpu().numpy()
