"""Engine ``published``: descriptions released by the paper's authors (or anyone), read from a file.

For example Goodbooks-10k: ``item_text_descriptions.feather`` with columns ``book_id`` and
``llama31_description`` (the authors' repository, ``_datasets/goodbooks``). Ids are compared as strings, with
whole floats written as integers (``862.0`` -> ``"862"``) like the data stage does. Items of the features that
have no published description are dropped (``missing`` in the report); published rows for other items are
ignored; a repeated id keeps its first text. A pandas index stored in the file (``__index_level_0__`` in the
Goodbooks feather) is never used: ids and texts are paired by row, ids come from ``id_column`` only.

Texts are kept as published (the stage strips surrounding white space). Most Goodbooks texts begin with a literal
``"`` (9,060 of 9,975; 5,497 also end with one): the quote is kept, because the authors fed the texts to the encoder
unchanged (``f'{row.llama31_description}'`` in their ``config.py``), so the paper's model saw it too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from beeformer.describe.settings import DescribeError, PublishedSettings

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": ","}
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst")


def read_published(settings: PublishedSettings) -> pd.Series:
    """The published texts, indexed by item id (string)."""
    path = Path(settings.path)
    if not path.exists():
        raise DescribeError(
            f"describe.published.path: {path} not found (paths are relative to the folder the workflow runs in)"
        )
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    columns = [settings.id_column, settings.text_column]
    try:
        if kind == ".feather":
            frame = pd.read_feather(path)
        elif kind == ".parquet":
            frame = pd.read_parquet(path)
        elif kind in TEXT_SUFFIXES:
            frame = pd.read_csv(path, sep=TEXT_SUFFIXES[kind], dtype={settings.id_column: "str"})
        else:
            raise DescribeError(f"describe.published.path: {path}: use a .feather, .parquet, .csv or .tsv file")
    except (OSError, ValueError) as error:
        if isinstance(error, DescribeError):
            raise
        raise DescribeError(f"describe.published.path: cannot read {path}: {error}") from error
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DescribeError(
            f"describe.published: {path} has no column(s) {missing}; found {list(frame.columns)}. "
            "Set describe.published.id_column and text_column."
        )
    frame = frame[columns].dropna()
    ids = frame[settings.id_column].map(_id_string)
    texts = pd.Series(frame[settings.text_column].astype("str").to_numpy(), index=ids.to_numpy())
    return texts[~texts.index.duplicated(keep="first")]


_WHOLE_FLOAT = re.compile(r"^(-?\d+)\.0*$")


def _id_string(value: object) -> str:
    """An id as the data stage writes it: stripped, whole floats without their ``.0`` (``862.0`` -> ``862``)."""
    return _WHOLE_FLOAT.sub(r"\1", str(value).strip())
