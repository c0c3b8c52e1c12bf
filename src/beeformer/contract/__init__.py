"""The data contract: the files every stage reads and writes, their columns, and safe IO.

Stages never import each other; they exchange only the files described here.

- dataset:     ``interactions.parquet`` (user_id, item_id[, rating][, timestamp]) and
               ``items.parquet`` (item_id, text); ids are strings.
- split:       a folder of ``{train, train_full, validation_source, validation_target, test_source,
               test_target}.parquet`` (interaction tables) and ``{validation,test}_candidates.parquet``
               (item_id), plus ``split.json`` (what was done and the counts). ``train`` is what a method fits
               for the validation phase, ``train_full`` (train plus the validation period, items or users) what
               it is refit on for the test phase.
- model:       a sentence-Transformer folder; ``SentenceTransformer(path)`` loads it. A trained encoder has two:
               ``validation`` (trained on ``train``, its settings chosen on the validation phase, with
               ``tuning.json``) and ``test`` (the choice refit on ``train_full``, with ``fit.json``).
- embeddings:  ``<model>.parquet`` (item_id, embedding): one dataset's item texts embedded by one model,
               L2-normalised float32, shared by content-based scoring and Heater.
- predictions: ``predictions.parquet`` (user_id, item_id, score, rank), top-K per user (:mod:`.ranking`).
- metrics:     ``metrics.json`` (metric name -> mean, standard error, number of users) and ``per_user.parquet``
               (user_id, one column per metric), as :mod:`.metrics` defines them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

INTERACTION_COLUMNS = ("user_id", "item_id")
OPTIONAL_INTERACTION_COLUMNS = ("rating", "timestamp")
ITEM_COLUMNS = ("item_id", "text")
CANDIDATE_COLUMNS = ("item_id",)
PREDICTION_COLUMNS = ("user_id", "item_id", "score", "rank")

SPLIT_INTERACTION_PARTS = (
    "train",
    "train_full",
    "validation_source",
    "validation_target",
    "test_source",
    "test_target",
)
SPLIT_CANDIDATE_PARTS = ("validation_candidates", "test_candidates")
EVALUATION_PHASES = ("validation", "test")


class ContractError(ValueError):
    """A file does not follow the data contract; the message names the file and the fix."""


# --------------------------------------------------------------------------- atomic writes


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from other users
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; it replaces ``path`` only if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a parquet table atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def write_json(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write JSON atomically (indented, keys in insertion order)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")


def write_text(text: str, path: str | os.PathLike[str]) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def hash_file(path: str | os.PathLike[str], digest: Any = None) -> Any:
    """``digest`` (a new SHA-256 if none) updated with the file's bytes, read in blocks of 16 MiB."""
    digest = hashlib.sha256() if digest is None else digest
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 24), b""):
            digest.update(block)
    return digest


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


# --------------------------------------------------------------------------- validated reads


def read_table(path: str | os.PathLike[str], required: Sequence[str]) -> pd.DataFrame:
    """Read a contract parquet (or ``.csv``) file and check that it has the ``required`` columns."""
    path = Path(path)
    if not path.exists():
        raise ContractError(f"{path}: file not found; run the stage that writes it first")
    frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ContractError(
            f"{path}: missing column(s) {missing}; found {list(frame.columns)}. "
            "The file does not follow the data contract (beeformer.contract's docstring; docs/files.md)."
        )
    return frame


def read_interactions(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Interactions: string user_id and item_id, optional rating and timestamp."""
    frame = read_table(path, INTERACTION_COLUMNS)
    return frame.astype({"user_id": "str", "item_id": "str"})


def read_items(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Items: string item_id and non-empty text."""
    frame = read_table(path, ITEM_COLUMNS).astype({"item_id": "str", "text": "str"})
    return frame


def read_candidates(path: str | os.PathLike[str]) -> pd.Series:
    """Candidate item ids of one evaluation phase."""
    return read_table(path, CANDIDATE_COLUMNS)["item_id"].astype("str")


def read_predictions(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Top-K predictions: user_id, item_id, score, rank (0 = best)."""
    return read_table(path, PREDICTION_COLUMNS).astype({"user_id": "str", "item_id": "str"})


def write_embeddings(item_ids: Sequence[str], embeddings: np.ndarray, path: str | os.PathLike[str]) -> None:
    """Write item embeddings (one row per item id) atomically as parquet with a fixed-size list column."""
    matrix = np.ascontiguousarray(embeddings, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(item_ids):
        raise ValueError(f"embeddings of shape {matrix.shape} for {len(item_ids)} item ids")
    column = pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), matrix.shape[1])
    table = pa.table({"item_id": pa.array([str(i) for i in item_ids], pa.string()), "embedding": column})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_embeddings(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Item ids (str) and their embeddings (items x d, float32) from an embeddings file."""
    path = Path(path)
    if not path.exists():
        raise ContractError(f"{path}: file not found; run the stage that writes it first")
    table = pq.read_table(path)
    if table.column_names[:2] != ["item_id", "embedding"]:
        raise ContractError(f"{path}: expected columns item_id, embedding; found {table.column_names}")
    column = table.column("embedding").combine_chunks()
    matrix = column.flatten().to_numpy().reshape(len(table), column.type.list_size).astype(np.float32, copy=False)
    return np.asarray(table.column("item_id").to_pylist(), dtype=object), matrix


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON file written by a stage."""
    path = Path(path)
    if not path.exists():
        raise ContractError(f"{path}: file not found; run the stage that writes it first")
    return json.loads(path.read_text())


def split_file(split_dir: str | os.PathLike[str], part: str) -> Path:
    """Path of one part of a split folder (see ``SPLIT_INTERACTION_PARTS`` and ``SPLIT_CANDIDATE_PARTS``)."""
    if part not in SPLIT_INTERACTION_PARTS + SPLIT_CANDIDATE_PARTS:
        raise ValueError(f"unknown split part {part!r}")
    return Path(split_dir) / f"{part}.parquet"
