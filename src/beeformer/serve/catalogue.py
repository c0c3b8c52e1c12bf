"""Item files to index: the contract's ``items.parquet`` or a CSV/TSV file with ``item_id`` and ``text``."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from beeformer import contract

READERS = {
    ".parquet": pd.read_parquet,
    ".feather": pd.read_feather,
    ".csv": lambda path: pd.read_csv(path, dtype=str, keep_default_na=False),
    ".tsv": lambda path: pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False),
}


def read_catalogue(path: str | os.PathLike[str]) -> pd.DataFrame:
    """item_id and text (strings) of every row; a missing column, an empty text or a repeated id is an error."""
    path = Path(path)
    if path.suffix not in READERS:
        raise contract.ContractError(f"{path}: items must be a {', '.join(READERS)} file with item_id and text")
    if not path.is_file():
        raise contract.ContractError(f"{path}: file not found")
    frame = READERS[path.suffix](path)
    missing = [column for column in contract.ITEM_COLUMNS if column not in frame.columns]
    if missing:
        raise contract.ContractError(
            f"{path}: no {' or '.join(missing)} column (found {list(frame.columns)}); an items file needs item_id "
            "and text"
        )
    frame = frame[list(contract.ITEM_COLUMNS)].astype(str).reset_index(drop=True)
    check_items(frame, str(path))
    return frame


def check_items(items: pd.DataFrame, where: str) -> None:
    """Every item has an id and a text, and no id repeats."""
    empty = items.index[(items["item_id"].str.strip() == "") | (items["text"].str.strip() == "")]
    if len(empty):
        raise contract.ContractError(
            f"{where}: data row {empty[0] + 1} has an empty item_id or text; every item needs both"
        )
    repeated = items["item_id"][items["item_id"].duplicated()].unique()
    if len(repeated):
        raise contract.ContractError(
            f"{where}: item id(s) {list(repeated[:10])} appear more than once; keep one row each"
        )
