"""Split stage: the paper's item split (cold-start items) and time split, written as contract files.

Item split: ``test_items`` and ``validation_items`` distinct items are drawn at random (without replacement;
the authors' code draws with replacement and so ends up with fewer unique items). Training keeps every
interaction with the other items. An evaluation user is anyone who interacted with a held-out item: their
held-out interactions are the target, their training interactions the source (the history the recommender
sees); users with no training history cannot be scored from history and are left out. Candidates are the
held-out items only.

Time split: interactions sorted by timestamp; the last ``test_share`` are the test period, the
``validation_share`` before it the validation period, the rest training. The test source is everything before
the test period; the validation source everything before the validation period. Evaluation users need both a
history and at least one target. Candidates are all items; items in a user's history are masked when ranking.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from beeformer import contract

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitConfig:
    """How to split one dataset."""

    kind: Literal["item", "time"] = "item"
    test_items: int = 2000
    validation_items: int = 2000
    test_share: float = 0.2
    validation_share: float = 0.2
    seed: int = 42

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
    else:
        raise contract.ContractError(f"split.kind: unknown kind {config.kind!r}; use 'item' or 'time'")

    summary: dict[str, Any] = {"config": asdict(config)}
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

    parts = {"train": train}
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
    parts = {"train": train}
    all_items = pd.DataFrame({"item_id": np.sort(interactions["item_id"].unique())})
    for phase, (history, future) in periods.items():
        users = np.intersect1d(history["user_id"].unique(), future["user_id"].unique())
        parts[f"{phase}_source"] = history[history["user_id"].isin(users)]
        parts[f"{phase}_target"] = future[future["user_id"].isin(users)]
        parts[f"{phase}_candidates"] = all_items
    return {name: _tidy(frame) for name, frame in parts.items()}


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    if "user_id" not in frame:
        return frame.reset_index(drop=True)
    return frame.sort_values(["user_id", "item_id"], kind="stable").reset_index(drop=True)
