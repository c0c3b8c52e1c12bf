"""Tuning protocol of every interaction-based baseline: choose on validation, refit, predict the test phase once.

1. **Validation** (:func:`tune`): each point of the method's grid (the settings given as lists, crossed) is fitted
   on the split's ``train`` interactions and scores the validation users (``validation_source`` histories) against
   the ``validation_candidates``; the point with the best ``select_by`` metric on ``validation_target`` wins.
   For iterative methods a list of ``epochs`` costs one run per other grid point: the model is scored after each
   listed epoch (early stopping on validation, as Heater's reference code does). The winner's validation
   predictions are written, and ``tuning.json`` next to them records every point's score and fit time, and which
   chosen settings lie on an edge of their list (:mod:`beeformer.contract.grid`).
2. **Test** (:func:`refit`): the chosen settings are fitted once on ``train_full`` (train plus the validation
   items, period or users) and score the test users; ``fit.json`` next to the predictions records what was used.

Predictions follow the contract (:mod:`beeformer.contract.ranking`), so evaluate and report treat baselines
exactly like content-based scoring.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from beeformer import contract
from beeformer.baselines.base import BaselineError, FitData, Queries, Recommender
from beeformer.baselines.cf import ALS, EASE, ELSA, SANSA, ElsaRec, ItemKNN, Popularity
from beeformer.baselines.heater import Heater
from beeformer.contract.grid import edges, expand
from beeformer.contract.metrics import SEED, SELECT_BY, K, parse_metric, per_user_metrics
from beeformer.contract.ranking import predictions_frame, rank_users

log = logging.getLogger(__name__)

METHODS: dict[str, type[Recommender]] = {
    "popularity": Popularity,
    "itemknn": ItemKNN,
    "ease": EASE,
    "sansa": SANSA,
    "als": ALS,
    "elsa": ELSA,
    "elsarec": ElsaRec,
    "heater": Heater,
}


def method_class(method: str) -> type[Recommender]:
    """The class of a method name (``heater-<encoder>`` is Heater)."""
    name = "heater" if method.startswith("heater-") else method
    if name not in METHODS:
        raise BaselineError(f"unknown baseline {method!r}; known: {sorted(METHODS)} and heater-<encoder>")
    return METHODS[name]


def grid(cls: type[Recommender], settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the settings given as lists (for an iterative method, ``epochs`` stays a list)."""
    unknown = sorted(set(settings) - set(cls.defaults))
    if unknown:
        raise BaselineError(f"{cls.__name__.lower()}: unknown setting(s) {unknown}; known: {sorted(cls.defaults)}")
    if cls.iterative:
        settings = {"epochs": cls.defaults.get("epochs"), **settings}
    try:
        return expand(settings, scored_along="epochs" if cls.iterative else None)
    except ValueError as error:
        raise BaselineError(f"{cls.__name__.lower()}: {error}") from None


class Phase:
    """One phase's data as a method sees it: fit interactions, the users to score, their targets."""

    def __init__(
        self,
        method: str,
        fit_path: str | os.PathLike[str],
        source_path: str | os.PathLike[str],
        candidates_path: str | os.PathLike[str],
        embeddings_path: str | os.PathLike[str] | None,
    ) -> None:
        self.cls = method_class(method)
        interactions = contract.read_interactions(fit_path)
        if interactions.empty:
            raise BaselineError(f"{method}: {fit_path} has no interactions to fit")
        self.fit = FitData.build(interactions)
        source = contract.read_interactions(source_path)
        candidates = contract.read_candidates(candidates_path)
        self.queries = Queries.build(self.fit, source, candidates)
        if not self.cls.scores_cold_items and len(self.queries.warm) == 0:
            raise BaselineError(
                f"{method}: none of the {len(candidates)} candidates in {candidates_path} occurs in {fit_path}: "
                "they are cold-start items (an item split), which collaborative filtering cannot score; use it "
                "on a time or user split, and Heater or content-based scoring on an item split"
            )
        self.content = None
        if self.cls.scores_cold_items:
            if embeddings_path is None:
                raise BaselineError(f"{method}: needs item embeddings (--embeddings)")
            self.content = contract.read_embeddings(embeddings_path)
        log.info(
            "%s: fit on %d users x %d items (%d interactions); scoring %d users x %d candidates (%d with interactions)",
            method,
            *self.fit.X.shape,
            self.fit.X.nnz,
            len(self.queries.user_ids),
            len(self.queries.candidate_ids),
            len(self.queries.warm),
        )

    def make(self, settings: dict[str, Any], seed: int, threads: int) -> Recommender:
        extra = {"content": self.content} if self.cls.scores_cold_items else {}
        return self.cls(seed=seed, threads=threads, **extra, **settings)

    def rank(self, model: Recommender, k: int) -> pd.DataFrame:
        top_index, top_score = rank_users(model.scorer(self.queries), self.queries.seen, k)
        return predictions_frame(self.queries.user_ids, self.queries.candidate_ids, top_index, top_score)


def tune(
    method: str,
    settings: dict[str, Any],
    *,
    train: str | os.PathLike[str],
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    candidates: str | os.PathLike[str],
    predictions: str | os.PathLike[str],
    tuning: str | os.PathLike[str],
    embeddings: str | os.PathLike[str] | None = None,
    select_by: str = SELECT_BY,
    k: int = K,
    seed: int = SEED,
    threads: int = 1,
) -> dict[str, Any]:
    """Step 1 of the protocol: try the grid on the validation phase, write the best predictions and tuning.json."""
    parse_metric(select_by)
    phase = Phase(method, train, source, candidates, embeddings)
    targets = contract.read_interactions(target)
    if targets.empty:
        raise BaselineError(f"{method}: {target} has no validation targets to tune on")
    points = grid(phase.cls, settings)
    records: list[dict[str, Any]] = []
    best: tuple[float, pd.DataFrame] | None = None

    def evaluate(model: Recommender, point: dict[str, Any], started: float) -> None:
        nonlocal best
        ranked = phase.rank(model, k)
        score = float(per_user_metrics(ranked, targets, [select_by])[select_by].mean())
        records.append({"settings": point, select_by: score, "seconds": round(time.perf_counter() - started, 2)})
        tqdm.write(f"{method} {point}: {select_by} {score:.4f} ({records[-1]['seconds']:.1f} s)")
        if best is None or score > best[0]:
            best = (score, ranked)

    for point in tqdm(points, desc=f"tuning {method}", unit="setting", disable=len(points) < 2):
        started = time.perf_counter()
        if phase.cls.iterative:  # one run, scored after each listed epoch
            model = phase.make({**point, "epochs": max(point["epochs"])}, seed, threads)
            wanted = set(point["epochs"])
            model.fit(phase.fit, _scoring_epochs(wanted, evaluate, model, point, started))
        else:
            model = phase.make(point, seed, threads)
            model.fit(phase.fit)
            evaluate(model, point, started)
    chosen = max(records, key=lambda r: r[select_by])  # the first of equals
    result = {
        "method": method,
        "select_by": select_by,
        "chosen": chosen["settings"],
        "validation": {select_by: chosen[select_by]},
        "edges": edges(settings, chosen["settings"]),
        "grid": records,
        "fit": _fit_summary(phase, train),
    }
    assert best is not None
    contract.write_table(best[1], predictions)
    contract.write_json(result, tuning)
    print(f"{method}: chose {chosen['settings']} ({select_by} {chosen[select_by]:.4f} on validation) -> {tuning}")
    return result


def refit(
    method: str,
    tuning: str | os.PathLike[str],
    *,
    train_full: str | os.PathLike[str],
    source: str | os.PathLike[str],
    candidates: str | os.PathLike[str],
    predictions: str | os.PathLike[str],
    fit_report: str | os.PathLike[str],
    embeddings: str | os.PathLike[str] | None = None,
    k: int = K,
    seed: int = SEED,
    threads: int = 1,
) -> dict[str, Any]:
    """Step 2 of the protocol: fit the chosen settings on train_full, write the test predictions and fit.json."""
    chosen = contract.read_json(tuning)["chosen"]
    phase = Phase(method, train_full, source, candidates, embeddings)
    started = time.perf_counter()
    model = phase.make(chosen, seed, threads)
    model.fit(phase.fit)
    ranked = phase.rank(model, k)
    result = {
        "method": method,
        "settings": chosen,
        "tuning": str(tuning),
        "seconds": round(time.perf_counter() - started, 2),
        "fit": _fit_summary(phase, train_full),
    }
    contract.write_table(ranked, predictions)
    contract.write_json(result, fit_report)
    print(f"{method}: refit {chosen} on {train_full} in {result['seconds']:.0f} s -> {predictions}")
    return result


def _scoring_epochs(
    wanted: set[int],
    evaluate: Callable[[Recommender, dict[str, Any], float], None],
    model: Recommender,
    point: dict[str, Any],
    started: float,
) -> Callable[[int], None]:
    """The epoch callback of an iterative grid point: score the model after each wanted epoch."""

    def on_epoch(epoch: int) -> None:
        if epoch in wanted:
            evaluate(model, {**point, "epochs": epoch}, started)

    return on_epoch


def _fit_summary(phase: Phase, path: str | os.PathLike[str]) -> dict[str, Any]:
    return {
        "file": str(Path(path)),
        "users": int(phase.fit.X.shape[0]),
        "items": int(phase.fit.X.shape[1]),
        "interactions": int(phase.fit.X.nnz),
        "scored_users": len(phase.queries.user_ids),
        "candidates": len(phase.queries.candidate_ids),
        "candidates_with_interactions": len(phase.queries.warm),
    }
