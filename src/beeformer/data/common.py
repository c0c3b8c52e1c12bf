"""What a paper-source loader returns, and small helpers shared by the loaders."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from beeformer.data.joins import JoinReport


@dataclass
class Loaded:
    """Raw interactions (user_id, item_id, rating[, timestamp]; string ids) and gathered item features.

    ``features`` has item_id, text (the gathered features) and described (a description was found).
    """

    interactions: pd.DataFrame
    features: pd.DataFrame
    report: JoinReport


def arrow_ids(column: pa.ChunkedArray) -> pd.Series:
    """An arrow id column as pandas strings (integers cast in arrow; dictionary columns stay categorical)."""
    if pa.types.is_dictionary(column.type):
        return column.to_pandas()
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        column = pc.cast(column, pa.string())
    return column.to_pandas()


def interactions_from(table: pa.Table, user: str, item: str) -> pd.DataFrame:
    """The contract's interaction columns from a ratings table: ids as strings, rating and timestamp if present."""
    columns = {"user_id": arrow_ids(table.column(user)), "item_id": arrow_ids(table.column(item))}
    for name in ("rating", "timestamp"):
        if name in table.column_names:
            columns[name] = table.column(name).to_numpy()
    return pd.DataFrame(columns)
