"""Bring-your-own dataset: interactions and item texts read from local files described in the config.

A dataset entry looks like::

    interactions:
      path: ratings.csv                  # .csv .tsv .txt .parquet .feather; text may be .gz/.zip/...
      sep: ","                           # optional, text files only
      columns: {user_id: userId, item_id: movieId, rating: rating, timestamp: timestamp}
    items:
      path: tmdb_5000_movies.csv.zip
      columns: {item_id: id, text: [title, overview]}
      id_map: {path: links.csv, from: movieId, to: tmdbId}   # optional

The files are read by :mod:`beeformer.data.readers` (column checks, UTF-8 fallback, errors that name the row).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from beeformer.contract import ContractError
from beeformer.data.joins import join_text, to_ids
from beeformer.data.readers import raise_first_bad, read_columns

logger = logging.getLogger(__name__)

INTERACTION_KEYS = ("user_id", "item_id")
OPTIONAL_INTERACTION_KEYS = ("rating", "timestamp")
ITEM_KEYS = ("item_id", "text")


def load_local(spec: Mapping[str, Any], base_dir: str | Path = ".") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw interactions (user_id, item_id[, rating][, timestamp]) and items (item_id, text), ids as str.

    Relative paths in ``spec`` are resolved against ``base_dir``. Ids are normalised to stripped strings,
    with whole floats written as integers (``862.0`` -> ``"862"``). Ratings stay numeric; timestamps are
    numbers as read, or unix seconds when the file holds date strings. Items with blank text are dropped and
    a repeated item id keeps its first text. With ``items.id_map`` the items carry the interaction item ids.
    Bad input raises ``ContractError`` naming the file and the fix.
    """
    base = Path(base_dir)
    for section in ("interactions", "items"):
        if not isinstance(spec.get(section), Mapping):
            raise ContractError(f"dataset spec: missing section '{section}' (a mapping with 'path' and 'columns')")
    interactions = _load_interactions(spec["interactions"], base)
    items = _load_items(spec["items"], base)
    return interactions, items


# --------------------------------------------------------------------------- interactions


def _load_interactions(section: Mapping[str, Any], base: Path) -> pd.DataFrame:
    _check_keys(section, "interactions", ("path", "sep", "columns"))
    path = _resolve(section, "interactions", base)
    columns = _column_mapping(section, "interactions", path, INTERACTION_KEYS, OPTIONAL_INTERACTION_KEYS)
    strings = [columns[k] for k in INTERACTION_KEYS]
    raw = read_columns(path, list(columns.values()), sep=section.get("sep"), strings=strings)
    frame = pd.DataFrame({key: to_ids(raw[columns[key]]) for key in INTERACTION_KEYS})
    for key in INTERACTION_KEYS:
        _require_values(frame[key], path, columns[key])
    for key, convert in (("rating", _to_rating), ("timestamp", _to_timestamp)):
        if key in columns:
            _require_values(raw[columns[key]], path, columns[key])
            frame[key] = convert(raw[columns[key]], path, columns[key])
    logger.info("read %d interactions from %s", len(frame), path)
    return frame


def _to_rating(values: pd.Series, path: Path, source: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values
    numbers = pd.to_numeric(values, errors="coerce")
    raise_first_bad(values, numbers.isna(), path, source, "a number (e.g. 4 or 3.5)")
    return numbers


def _to_timestamp(values: pd.Series, path: Path, source: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _unix_seconds(values)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().any():  # a column of numbers, perhaps with a few bad values
        raise_first_bad(values, numbers.isna(), path, source, "a unix time or an ISO-8601 date")
        return numbers
    dates = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
    raise_first_bad(values, dates.isna(), path, source, "a unix time or an ISO-8601 date")
    return _unix_seconds(dates)


def _unix_seconds(dates: pd.Series) -> pd.Series:
    if dates.dt.tz is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    return (dates - pd.Timestamp(0)) // pd.Timedelta(seconds=1)


def _require_values(values: pd.Series, path: Path, source: str) -> None:
    missing = np.flatnonzero(values.isna().to_numpy())
    if len(missing):
        raise ContractError(
            f"{path}: column '{source}' is empty in {len(missing)} row(s), the first in data row "
            f"{int(missing[0]) + 1} (1 = first row after the header); the file may be truncated or "
            "malformed. Fix or remove those rows."
        )


# --------------------------------------------------------------------------- items


def _load_items(section: Mapping[str, Any], base: Path) -> pd.DataFrame:
    _check_keys(section, "items", ("path", "sep", "columns", "id_map"))
    path = _resolve(section, "items", base)
    columns = _column_mapping(section, "items", path, ITEM_KEYS, ())
    text_columns = _text_columns(columns["text"], path)
    wanted = [columns["item_id"], *text_columns]
    raw = read_columns(path, wanted, sep=section.get("sep"), strings=wanted)
    items = pd.DataFrame({"item_id": to_ids(raw[columns["item_id"]]), "text": join_text(raw, text_columns)})
    if "id_map" in section:
        items = _apply_id_map(items, section["id_map"], base)
    kept = items[items["item_id"].notna() & items["text"].notna()].drop_duplicates("item_id", keep="first")
    logger.info("%d items with text (of %d rows) from %s", len(kept), len(raw), path)
    return kept.reset_index(drop=True)


def _text_columns(text: Any, path: Path) -> list[str]:
    names = [text] if isinstance(text, str) else text
    if not isinstance(names, Sequence) or not names or not all(isinstance(n, str) for n in names):
        raise ContractError(
            f"{path}: items.columns.text must be a column name or a non-empty list of column names, got {text!r}"
        )
    return list(names)


def _apply_id_map(items: pd.DataFrame, id_map: Any, base: Path) -> pd.DataFrame:
    """Re-key items from the item file's ids (``to``) to the interaction ids (``from``)."""
    if not isinstance(id_map, Mapping) or not all(k in id_map for k in ("path", "from", "to")):
        raise ContractError(
            f"dataset spec: items.id_map must be a mapping with keys 'path', 'from' and 'to', got {id_map!r}"
        )
    _check_keys(id_map, "items.id_map", ("path", "sep", "from", "to"))
    path = _resolve(id_map, "items.id_map", base)
    source, target = str(id_map["from"]), str(id_map["to"])
    raw = read_columns(path, [source, target], sep=id_map.get("sep"), strings=[source, target])
    mapping = pd.DataFrame({"item_id": to_ids(raw[source]), "to": to_ids(raw[target])})
    mapping = mapping.dropna().drop_duplicates("item_id", keep="first")
    texts = items.dropna().drop_duplicates("item_id", keep="first").rename(columns={"item_id": "to"})
    mapped = mapping.merge(texts, on="to", how="left", sort=False)
    matched = int(mapped["text"].notna().sum())
    logger.info("id map %s: %d of %d ids map to an item with text", path, matched, len(mapping))
    return mapped[["item_id", "text"]]


# --------------------------------------------------------------------------- reading files


def _check_keys(section: Mapping[str, Any], name: str, allowed: Sequence[str]) -> None:
    unknown = [k for k in section if k not in allowed]
    if unknown:
        raise ContractError(f"dataset spec: unknown key(s) {unknown} in {name}; allowed: {list(allowed)}")


def _resolve(section: Mapping[str, Any], name: str, base: Path) -> Path:
    if "path" not in section:
        raise ContractError(f"dataset spec: {name} has no 'path'; add the file to read")
    path = Path(section["path"])
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise ContractError(f"{path}: file not found ({name}.path); check the path or base directory")
    return path


def _column_mapping(
    section: Mapping[str, Any], name: str, path: Path, required: Sequence[str], optional: Sequence[str]
) -> dict[str, Any]:
    columns = section.get("columns")
    if not isinstance(columns, Mapping):
        raise ContractError(
            f"{path}: {name}.columns must map {', '.join(required)} to columns of the file, got {columns!r}"
        )
    missing = [k for k in required if k not in columns]
    if missing:
        raise ContractError(
            f"{path}: {name}.columns lacks {missing}; add e.g. '{missing[0]}: <column in the file>' "
            f"(required: {list(required)}, optional: {list(optional)})"
        )
    unknown = [k for k in columns if k not in (*required, *optional)]
    if unknown:
        raise ContractError(f"{path}: {name}.columns has unknown key(s) {unknown}; allowed: {[*required, *optional]}")
    return {k: columns[k] if k == "text" else str(columns[k]) for k in (*required, *optional) if k in columns}
