"""The paper's dataset filters, applied in the paper's order."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from beeformer.contract import ContractError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FilterReport:
    """The settings and the number of interactions left after each filter step."""

    dataset: str
    min_rating: float | None
    min_user_interactions: int
    raw: int
    after_min_rating: int
    after_dedupe: int
    after_item_text: int
    after_min_user_interactions: int
    users: int
    items: int

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return dataclasses.asdict(self)


def apply_filters(
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    *,
    min_rating: float | None,
    min_user_interactions: int,
    dataset: str,
) -> tuple[pd.DataFrame, pd.DataFrame, FilterReport]:
    """Filter interactions and items as the paper does; return both and a report of the counts.

    Steps, in order: (1) keep ratings >= ``min_rating`` (skipped when it is None); (2) drop repeated
    (user_id, item_id) pairs, keeping the earliest by timestamp if there is one, else the first row;
    (3) drop interactions with items that have no (non-blank) text; (4) drop users with fewer than
    ``min_user_interactions`` interactions. No item-count filter follows step 4, and removing whole users
    changes no other user's count nor any item's text, so one pass is a fixed point.

    Interactions keep their rating and timestamp columns, sorted by user, timestamp (if any) and item, with
    a fresh index; items are those still interacted with, sorted by item_id. Raises ``ContractError`` when
    ``min_rating`` is set without a rating column or when nothing is left.
    """
    frame = interactions.astype({"user_id": "str", "item_id": "str"})
    has_time = "timestamp" in frame.columns
    raw = len(frame)

    if min_rating is not None:
        if "rating" not in frame.columns:
            raise ContractError(
                f"dataset '{dataset}': filters.min_rating={min_rating} needs a rating column, but the "
                f"interactions have only {list(frame.columns)}; map a rating column or set min_rating: null"
            )
        if not pd.api.types.is_numeric_dtype(frame["rating"].dtype):
            raise ContractError(
                f"dataset '{dataset}': column 'rating' is {frame['rating'].dtype}, not numeric; "
                "fix the ratings or set min_rating: null"
            )
        frame = frame[frame["rating"] >= min_rating]
    after_min_rating = len(frame)

    # Sorting first (stably) puts each pair's earliest row, or its first row in the file, first.
    order = ["user_id", "timestamp", "item_id"] if has_time else ["user_id", "item_id"]
    frame = frame.sort_values(order, kind="stable").drop_duplicates(["user_id", "item_id"], keep="first")
    after_dedupe = len(frame)

    item_ids = items["item_id"].astype("str")
    texts = items["text"].astype("str").str.strip()
    has_text = texts.notna() & (texts != "")
    frame = frame[frame["item_id"].isin(item_ids[has_text])]
    after_item_text = len(frame)

    counts = frame["user_id"].value_counts()
    users = counts.index[counts >= min_user_interactions]
    frame = frame[frame["user_id"].isin(users)]
    after_users = len(frame)

    if frame.empty:
        raise ContractError(
            f"dataset '{dataset}' is empty after filtering (min_rating={min_rating}, "
            f"min_user_interactions={min_user_interactions}): "
            "lower the thresholds or check the column mapping"
        )
    frame = frame.reset_index(drop=True)
    kept_items = items.assign(item_id=item_ids)[has_text & item_ids.isin(frame["item_id"].unique())]
    kept_items = kept_items.drop_duplicates("item_id").sort_values("item_id").reset_index(drop=True)

    report = FilterReport(
        dataset=dataset,
        min_rating=min_rating,
        min_user_interactions=min_user_interactions,
        raw=raw,
        after_min_rating=after_min_rating,
        after_dedupe=after_dedupe,
        after_item_text=after_item_text,
        after_min_user_interactions=after_users,
        users=len(users),
        items=len(kept_items),
    )
    logger.info("dataset %s filtered: %s", dataset, report.as_dict())
    return frame, kept_items, report
