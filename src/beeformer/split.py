"""Split stage: the paper's item split (cold-start items) and time split, and a user split, as contract files.

Item split: ``test_items`` and ``validation_items`` distinct items are drawn at random (without replacement;
the authors' code draws with replacement and so ends up with fewer unique items). Training keeps every
interaction with the other items. An evaluation user is anyone who interacted with a held-out item: their
held-out interactions are the target, their training interactions the source (the history the recommender
sees); users with no training history cannot be scored from history and are left out. Candidates are the
held-out items only.

Time split: interactions sorted by timestamp; the last ``test_share`` are the test period, the
``validation_share`` before it the validation period, the rest training. The test source is everything before
the test period; the validation source everything before the validation period. Evaluation users need both a
history and at least one target. Candidates are all items (``candidates: all``); items in a user's history are
masked when ranking. ``candidates: active`` is the authors' protocol: only the items that occur in the phase's
targets are ranked. That tells every method which items will be bought in the period (a leak that helps
content-based scoring most, since it cannot learn popularity), so ``all`` is the default.

User split (RecPack's "strong generalization", the protocol of the EASE, ELSA and SANSA papers; not one of the
beeFormer paper's): ``test_users`` and ``validation_users`` distinct users are held out whole. For each held-out
user a random ``target_share`` of their interactions (at least one, and at least one left) is the target, the
rest the history the recommender sees. Training keeps every interaction of the other users. Candidates are all
items; the history is masked when ranking.

``train_full`` is what a method is refit on for the test phase once the validation phase has chosen its settings:
everything but the test items (item split), everything before the test period (time split), or every user but
the test users (user split).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from beeformer import contract

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitConfig:
    """How to split one dataset."""

    kind: Literal["item", "time", "user"] = "item"
    test_items: int = 2000
    validation_items: int = 2000
    test_share: float = 0.2
    validation_share: float = 0.2
    test_users: int = 500
    validation_users: int = 500
    target_share: float = 0.2
    candidates: Literal["all", "active"] = "all"  # time split: rank every item, or only the period's active ones
    seed: int = 42

    def __post_init__(self) -> None:
        if self.candidates not in ("all", "active"):
            raise contract.ContractError(f"split.candidates: {self.candidates!r}; use 'all' or 'active'")
        if self.candidates == "active" and self.kind != "time":
            raise contract.ContractError(
                f"split.candidates: 'active' is the authors' time-split protocol and means nothing on a {self.kind} "
                "split (an item split ranks its held-out items; a user split every item); drop it"
            )

    def settings(self) -> dict[str, Any]:
        """The settings this kind of split uses (for split.json)."""
        used = {
            "item": ("test_items", "validation_items", "seed"),
            "time": ("test_share", "validation_share", "candidates"),
            "user": ("test_users", "validation_users", "target_share", "seed"),
        }[self.kind]
        return {"kind": self.kind, **{key: getattr(self, key) for key in used}}

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> SplitConfig:
        """Build from a config entry; unknown keys are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(params) - known - {"dataset"})
        if unknown:
            raise contract.ContractError(f"split: unknown setting(s) {unknown}; known: {sorted(known)}")
        return cls(**{k: v for k, v in params.items() if k in known})


def split(
    config: SplitConfig,
    interactions_path: str | os.PathLike[str],
    items_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
) -> dict[str, Any]:
    """Split a dataset into the contract's split folder ``out_dir``; return the summary written to split.json."""
    interactions = contract.read_interactions(interactions_path)
    items = contract.read_items(items_path)
    described = interactions["item_id"].isin(items["item_id"])
    if not described.all():
        log.info("split: %d interactions with items that have no text dropped", int((~described).sum()))
        interactions = interactions[described]
    if config.kind == "item":
        parts = item_split(interactions, config)
    elif config.kind == "time":
        parts = time_split(interactions, config, interactions_path)
    elif config.kind == "user":
        parts = user_split(interactions, config)
    else:
        raise contract.ContractError(f"split.kind: unknown kind {config.kind!r}; use 'item', 'time' or 'user'")

    summary: dict[str, Any] = {"config": config.settings()}
    with contract.atomic_dir(out_dir) as tmp:
        for name, frame in parts.items():
            frame.to_parquet(contract.split_file(tmp, name), index=False)
            summary[name] = {"rows": len(frame)}
            if "user_id" in frame:
                summary[name]["users"] = int(frame["user_id"].nunique())
        contract.write_json(summary, Path(tmp) / "split.json")
    log.info(
        "split (%s): train %d interactions, test %d users x %d candidates, validation %d users x %d candidates",
        config.kind,
        len(parts["train"]),
        summary["test_target"]["users"],
        len(parts["test_candidates"]),
        summary["validation_target"]["users"],
        len(parts["validation_candidates"]),
    )
    return summary


def item_split(interactions: pd.DataFrame, config: SplitConfig) -> dict[str, pd.DataFrame]:
    """Random cold-start items held out for test and validation."""
    item_ids = np.sort(interactions["item_id"].unique())
    needed = config.test_items + config.validation_items
    if needed >= len(item_ids):
        raise contract.ContractError(
            f"split: test_items + validation_items = {needed} but the dataset has only {len(item_ids)} items; "
            "lower them so that items remain for training"
        )
    rng = np.random.default_rng(config.seed)
    drawn = rng.permutation(item_ids)
    test_items = drawn[: config.test_items]
    validation_items = drawn[config.test_items : needed]
    held_out = np.concatenate([test_items, validation_items])
    train = interactions[~interactions["item_id"].isin(held_out)]

    parts = {"train": train, "train_full": interactions[~interactions["item_id"].isin(test_items)]}
    for phase, phase_items in (("validation", validation_items), ("test", test_items)):
        target = interactions[interactions["item_id"].isin(phase_items)]
        source = train[train["user_id"].isin(target["user_id"])]
        parts[f"{phase}_source"] = source
        parts[f"{phase}_target"] = target[target["user_id"].isin(source["user_id"])]
        parts[f"{phase}_candidates"] = pd.DataFrame({"item_id": np.sort(phase_items)})
    return {name: _tidy(frame) for name, frame in parts.items()}


def time_split(
    interactions: pd.DataFrame, config: SplitConfig, path: str | os.PathLike[str]
) -> dict[str, pd.DataFrame]:
    """The last shares of interactions in time for test and validation."""
    if "timestamp" not in interactions:
        raise contract.ContractError(
            f"{path}: a time split needs a timestamp column; map one in the dataset's column mapping "
            "or use split kind 'item'"
        )
    if not 0 < config.test_share + config.validation_share < 1:
        raise contract.ContractError("split: test_share + validation_share must lie strictly between 0 and 1")
    ordered = interactions.sort_values(["timestamp", "user_id", "item_id"], kind="stable")
    n = len(ordered)
    test_start = round(n * (1 - config.test_share))
    validation_start = round(n * (1 - config.test_share - config.validation_share))
    train = ordered.iloc[:validation_start]
    periods = {
        "validation": (train, ordered.iloc[validation_start:test_start]),
        "test": (ordered.iloc[:test_start], ordered.iloc[test_start:]),
    }
    parts = {"train": train, "train_full": ordered.iloc[:test_start]}
    all_items = pd.DataFrame({"item_id": np.sort(interactions["item_id"].unique())})
    for phase, (history, future) in periods.items():
        users = np.intersect1d(history["user_id"].unique(), future["user_id"].unique())
        parts[f"{phase}_source"] = history[history["user_id"].isin(users)]
        parts[f"{phase}_target"] = future[future["user_id"].isin(users)]
        active = pd.DataFrame({"item_id": np.sort(parts[f"{phase}_target"]["item_id"].unique())})
        parts[f"{phase}_candidates"] = active if config.candidates == "active" else all_items
    return {name: _tidy(frame) for name, frame in parts.items()}


def user_split(interactions: pd.DataFrame, config: SplitConfig) -> dict[str, pd.DataFrame]:
    """Random users held out whole; a random share of each one's interactions is their target."""
    if not 0 < config.target_share < 1:
        raise contract.ContractError("split: target_share must lie strictly between 0 and 1")
    user_ids = np.sort(interactions["user_id"].unique())
    needed = config.test_users + config.validation_users
    if needed >= len(user_ids):
        raise contract.ContractError(
            f"split: test_users + validation_users = {needed} but the dataset has only {len(user_ids)} users; "
            "lower them so that users remain for training"
        )
    rng = np.random.default_rng(config.seed)
    drawn = rng.permutation(user_ids)
    test_users, validation_users = drawn[: config.test_users], drawn[config.test_users : needed]
    ordered = interactions.sort_values(["user_id", "item_id"], kind="stable").reset_index(drop=True)
    # Each user's interactions in a random order; the first n_target of them are the target.
    position = pd.Series(rng.random(len(ordered))).groupby(ordered["user_id"]).rank(method="first") - 1
    counts = ordered.groupby("user_id")["item_id"].transform("size")
    n_target = np.clip(np.round(counts * config.target_share), 1, counts - 1)
    is_target = (position < n_target).to_numpy() & (counts > 1).to_numpy()

    parts = {
        "train": ordered[~ordered["user_id"].isin(drawn[:needed])],
        "train_full": ordered[~ordered["user_id"].isin(test_users)],
    }
    all_items = pd.DataFrame({"item_id": np.sort(interactions["item_id"].unique())})
    for phase, phase_users in (("validation", validation_users), ("test", test_users)):
        held = ordered["user_id"].isin(phase_users).to_numpy() & (counts > 1).to_numpy()
        parts[f"{phase}_source"] = ordered[held & ~is_target]
        parts[f"{phase}_target"] = ordered[held & is_target]
        parts[f"{phase}_candidates"] = all_items
    return {name: _tidy(frame) for name, frame in parts.items()}


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    if "user_id" not in frame:
        return frame.reset_index(drop=True)
    return frame.sort_values(["user_id", "item_id"], kind="stable").reset_index(drop=True)
