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

Text files are decoded as UTF-8. A file with bytes that are not UTF-8 is read again with the bad bytes
replaced by U+FFFD and a ``UnicodeWarning`` says so: one stray byte in a 20M-row file should not stop a
run, and the warning names the file so it can be re-encoded.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.ipc
import pyarrow.parquet

from beeformer.contract import ContractError

logger = logging.getLogger(__name__)

TEXT_FORMATS = {".csv": ",", ".tsv": "\t", ".txt": ","}
BINARY_FORMATS = (".parquet", ".feather")
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")
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
    raw = _read(path, list(columns.values()), section.get("sep"), str_columns=[columns[k] for k in INTERACTION_KEYS])
    frame = pd.DataFrame({key: _to_ids(raw[columns[key]]) for key in INTERACTION_KEYS})
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
    _raise_first_bad(values, numbers.isna(), path, source, "a number (e.g. 4 or 3.5)")
    return numbers


def _to_timestamp(values: pd.Series, path: Path, source: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _unix_seconds(values)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().any():  # a column of numbers, perhaps with a few bad values
        _raise_first_bad(values, numbers.isna(), path, source, "a unix time or an ISO-8601 date")
        return numbers
    dates = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
    _raise_first_bad(values, dates.isna(), path, source, "a unix time or an ISO-8601 date")
    return _unix_seconds(dates)


def _unix_seconds(dates: pd.Series) -> pd.Series:
    if dates.dt.tz is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    return (dates - pd.Timestamp(0)) // pd.Timedelta(seconds=1)


def _raise_first_bad(values: pd.Series, bad: pd.Series, path: Path, source: str, expected: str) -> None:
    positions = np.flatnonzero(bad.to_numpy())
    if len(positions):
        first = int(positions[0])
        raise ContractError(
            f"{path}: column '{source}' must hold {expected}, but {len(positions)} value(s) do not; "
            f"the first is {values.iloc[first]!r} in data row {first + 1} (1 = first row after the header). "
            "Fix those rows or map another column."
        )


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
    raw = _read(path, wanted, section.get("sep"), str_columns=wanted)
    items = pd.DataFrame({"item_id": _to_ids(raw[columns["item_id"]]), "text": _join_text(raw, text_columns)})
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


def _join_text(raw: pd.DataFrame, text_columns: list[str]) -> pd.Series:
    """Join the text columns with newlines, skipping blank parts; NaN where every part is blank."""
    parts = [raw[name].astype("str").str.strip() for name in text_columns]
    parts = [part.mask(part == "") for part in parts]
    joined = parts[0]
    for part in parts[1:]:
        both = joined.notna() & part.notna()
        joined = joined.fillna(part).mask(both, joined + "\n" + part)
    return joined


def _apply_id_map(items: pd.DataFrame, id_map: Any, base: Path) -> pd.DataFrame:
    """Re-key items from the item file's ids (``to``) to the interaction ids (``from``)."""
    if not isinstance(id_map, Mapping) or not all(k in id_map for k in ("path", "from", "to")):
        raise ContractError(
            f"dataset spec: items.id_map must be a mapping with keys 'path', 'from' and 'to', got {id_map!r}"
        )
    _check_keys(id_map, "items.id_map", ("path", "sep", "from", "to"))
    path = _resolve(id_map, "items.id_map", base)
    source, target = str(id_map["from"]), str(id_map["to"])
    raw = _read(path, [source, target], id_map.get("sep"), str_columns=[source, target])
    mapping = pd.DataFrame({"item_id": _to_ids(raw[source]), "to": _to_ids(raw[target])})
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


def _format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] in COMPRESSION_SUFFIXES
    fmt = suffixes[-1 - compressed] if len(suffixes) > compressed else ""
    if fmt in TEXT_FORMATS or (fmt in BINARY_FORMATS and not compressed):
        return fmt
    raise ContractError(
        f"{path}: unknown file format; use one of {sorted([*TEXT_FORMATS, *BINARY_FORMATS])} "
        f"(text formats may be compressed: {', '.join(COMPRESSION_SUFFIXES)})"
    )


def _read(path: Path, wanted: list[str], sep: str | None, str_columns: list[str]) -> pd.DataFrame:
    """Read only the ``wanted`` columns (``str_columns`` of text files as strings); check first they exist."""
    fmt = _format(path)
    usecols = list(dict.fromkeys(wanted))
    if fmt in TEXT_FORMATS:
        return _read_text(path, usecols, sep or TEXT_FORMATS[fmt], str_columns)
    available = (pyarrow.parquet.read_schema(path) if fmt == ".parquet" else _feather_schema(path)).names
    _check_columns(path, usecols, list(available))
    if fmt == ".parquet":
        return pd.read_parquet(path, columns=usecols)
    return pd.read_feather(path, columns=usecols)


def _feather_schema(path: Path) -> pyarrow.Schema:
    try:
        with pyarrow.ipc.open_file(path) as reader:
            return reader.schema
    except pyarrow.ArrowInvalid as error:
        raise ContractError(f"{path}: not a Feather (Arrow IPC) file ({error}); re-export it") from error


def _read_text(path: Path, usecols: list[str], sep: str, str_columns: list[str]) -> pd.DataFrame:
    dtype = dict.fromkeys(str_columns, "str")
    try:
        header = pd.read_csv(path, sep=sep, nrows=0, encoding_errors="replace")
        _check_columns(path, usecols, [str(c) for c in header.columns])
        try:
            return pd.read_csv(path, sep=sep, usecols=usecols, dtype=dtype)
        except UnicodeDecodeError as error:
            warnings.warn(
                f"{path}: not valid UTF-8 ({error.reason}); the bad bytes were replaced by U+FFFD. "
                "Re-encode the file as UTF-8 to silence this.",
                UnicodeWarning,
                stacklevel=2,
            )
            return pd.read_csv(path, sep=sep, usecols=usecols, dtype=dtype, encoding_errors="replace")
    except pd.errors.EmptyDataError as error:
        raise ContractError(f"{path}: the file is empty; it needs a header line and data rows") from error
    except pd.errors.ParserError as error:
        raise ContractError(
            f"{path}: malformed or truncated line ({error}); fix the line, or set 'sep' if it is not {sep!r}"
        ) from error


def _check_columns(path: Path, wanted: list[str], available: list[str]) -> None:
    missing = [c for c in wanted if c not in available]
    if missing:
        raise ContractError(
            f"{path}: column(s) {missing} not in the file, which has {available}; fix the 'columns' mapping "
            "(or 'sep' for text files)"
        )


def _to_ids(values: pd.Series) -> pd.Series:
    """Ids as stripped strings; whole floats lose their ``.0`` so that 862.0 matches 862; blank is NaN."""
    if pd.api.types.is_float_dtype(values.dtype):
        present = values.dropna()
        if bool((present == np.trunc(present)).all()):
            values = values.astype("Int64")
    ids = values.astype("str").str.strip()
    if ids.str.contains(".", regex=False).any():
        ids = ids.str.replace(r"^(-?\d+)\.0*$", r"\1", regex=True)
    return ids.mask(ids == "")
