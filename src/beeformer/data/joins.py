"""Joining item metadata from other datasets: key normalisation, cascaded matching, labelled texts. Vectorised.

A *cascade* tries keys in order (an exact id first, a title-based key last): each item is matched by the first key
that finds it, and the report counts the matches per key and keeps a sample of the items no key found.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

UNMATCHED_SAMPLE = 20


# --------------------------------------------------------------------------- keys


def to_ids(values: pd.Series) -> pd.Series:
    """Ids as stripped strings; whole floats lose their ``.0`` so that 862.0 matches 862; blank is NaN."""
    if pd.api.types.is_float_dtype(values.dtype):
        present = values.dropna()
        if bool((present == np.trunc(present)).all()):
            values = values.astype("Int64")
    ids = values.astype("str").str.strip()
    if ids.str.contains(".", regex=False).any():
        ids = ids.str.replace(r"^(-?\d+)\.0*$", r"\1", regex=True)
    return ids.mask(ids == "")


def blank_to_na(values: pd.Series) -> pd.Series:
    """Strings stripped; blank, 'nan' and 'None' become NaN."""
    text = values.astype("str").str.strip()
    return text.mask(text.isin(["", "nan", "NaN", "None", "<NA>"]))


def norm_title(values: pd.Series) -> pd.Series:
    """A title key: lower case, a trailing article moved away ('Matrix, The'), parentheses and articles dropped,
    punctuation removed, spaces collapsed. 'The Matrix' and 'Matrix, The (1999)' both give 'matrix'."""
    text = blank_to_na(values).str.lower()
    text = text.str.replace(r"\([^)]*\)", " ", regex=True)  # '(The Hunger Games, #1)', '(1999)', alternative titles
    text = text.str.replace(r",\s*(the|a|an|les|la|le|il|el|die|der|das)\s*$", "", regex=True)
    text = text.str.replace(r"[^\w\s]", " ", regex=True).str.replace("_", " ", regex=False)
    text = text.str.replace(r"^\s*(the|a|an)\s+", "", regex=True)
    text = text.str.replace(r"\s+", " ", regex=True).str.strip()
    return text.mask(text == "")


def norm_name(values: pd.Series) -> pd.Series:
    """A person key: the first of several names ('A, B' -> 'A'), lower case, letters and digits only."""
    first = blank_to_na(values).str.split(",", n=1).str[0]
    text = first.str.lower().str.replace(r"[^\w]+", "", regex=True)
    return text.mask(text == "")


def year_of(values: pd.Series) -> pd.Series:
    """The first four-digit year in a value ('1995', '1995.0', '2001-2003'); NaN where there is none."""
    return blank_to_na(values).str.extract(r"((?:1[89]|20)\d\d)", expand=False)


def split_title_year(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """MovieLens titles 'Toy Story (1995)' -> ('Toy Story', '1995'); titles without a year keep NaN years."""
    text = blank_to_na(values)
    parts = text.str.extract(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-–]\d{0,4})?\)\s*$")
    title = parts["title"].fillna(text)
    return title, parts["year"]


def imdb_key(values: pd.Series) -> pd.Series:
    """IMDb ids as 'tt' + at least 7 digits: '114709', '0114709', 'tt0114709' and 114709.0 all give 'tt0114709'."""
    digits = blank_to_na(values).str.replace(r"^tt", "", regex=True).str.replace(r"\.0+$", "", regex=True)
    digits = digits.where(digits.str.fullmatch(r"\d+").fillna(False).astype(bool))
    digits = digits.str.lstrip("0").str.zfill(7)
    return ("tt" + digits).mask(digits.isna())


def isbn_stem(values: pd.Series) -> pd.Series:
    """The 12-digit ISBN-13 stem (without check digit) of an ISBN-10 or ISBN-13, however it was stored.

    ISBN-10 '439023483' (leading zero lost) -> '978043902348'; ISBN-13 '9780439023481' -> '978043902348';
    ISBN-13 written as a float '9.78043902348e+12' (its check digit lost) -> '978043902348'. Comparing stems
    matches an ISBN-10 to the same book's ISBN-13.
    """
    text = blank_to_na(values).str.upper()
    floats = text.str.fullmatch(r"\d(?:\.\d+)?E\+1[0-3]").fillna(False).astype(bool)
    if floats.any():
        as_int = pd.to_numeric(text[floats], errors="coerce").round().astype("Int64").astype("str")
        text = text.mask(floats, as_int)
    text = text.str.replace(r"\.0+$", "", regex=True).str.replace(r"[^0-9X]", "", regex=True)
    ten = text.str.fullmatch(r"\d{6,9}[0-9X]").fillna(False).astype(bool)
    thirteen = text.str.fullmatch(r"\d{13}").fillna(False).astype(bool)
    stem = pd.Series(np.nan, index=values.index, dtype="str")
    stem = stem.mask(ten, "978" + text.str.zfill(10).str[:9])
    stem = stem.mask(thirteen, text.str[:12])
    return stem


def goodreads_id_from_link(values: pd.Series) -> pd.Series:
    """The Goodreads book id in a link such as 'https://www.goodreads.com/book/show/2767052.The_Hunger_Games'."""
    return blank_to_na(values).str.extract(r"/book/show/(\d+)", expand=False)


def int_id(values: pd.Series) -> pd.Series:
    """Whole-number ids as strings without a '.0' ('2767052.0' -> '2767052'); anything else NaN."""
    text = blank_to_na(values).str.replace(r"\.0+$", "", regex=True)
    return text.where(text.str.fullmatch(r"\d+").fillna(False).astype(bool))


def strip_html(values: pd.Series) -> pd.Series:
    """Remove HTML tags, decode entities, collapse white space; blank is NaN."""
    text = blank_to_na(values)
    text = text.str.replace(r"(?i)<\s*(br|/p|/div|/li)\s*/?>", "\n", regex=True)
    text = text.str.replace(r"<[^>]*>", " ", regex=True)
    has_entity = text.str.contains("&", regex=False).fillna(False).astype(bool)
    if has_entity.any():
        text = text.mask(has_entity, text[has_entity].map(html.unescape, na_action="ignore"))
    text = text.str.replace(r"[ \t\r\f\v\xa0]+", " ", regex=True).str.replace(r"\s*\n\s*", "\n", regex=True)
    text = text.str.strip()
    return text.mask(text == "")


def join_text(raw: pd.DataFrame, text_columns: list[str]) -> pd.Series:
    """Join the text columns with newlines, skipping blank parts; NaN where every part is blank."""
    parts = [raw[name].astype("str").str.strip() for name in text_columns]
    parts = [part.mask(part == "") for part in parts]
    joined = parts[0]
    for part in parts[1:]:
        both = joined.notna() & part.notna()
        joined = joined.fillna(part).mask(both, joined + "\n" + part)
    return joined


def labelled_text(fields: Sequence[tuple[str, pd.Series]]) -> pd.Series:
    """'Label: value' lines joined by newlines, skipping blank values; NaN where every value is blank."""
    frame = pd.DataFrame(
        {
            label: (label + ": " + blank_to_na(values).str.replace(r"\s+", " ", regex=True)) if label else values
            for label, values in fields
        }
    )
    return join_text(frame, list(frame.columns))


# --------------------------------------------------------------------------- cascade


@dataclass
class JoinReport:
    """How many items a join matched, by which key, and a sample of those it did not."""

    name: str
    items: int = 0
    matched: dict[str, int] = field(default_factory=dict)
    unmatched: int = 0
    unmatched_sample: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "items": self.items,
            "matched": dict(self.matched),
            "matched_total": int(sum(self.matched.values())),
            "unmatched": self.unmatched,
            "unmatched_sample": list(self.unmatched_sample),
            **self.notes,
        }

    def log(self) -> None:
        total = sum(self.matched.values())
        share = 100.0 * total / self.items if self.items else 0.0
        by_key = ", ".join(f"{k}: {v}" for k, v in self.matched.items())
        log.info("join %s: %d of %d items matched (%.1f%%) [%s]", self.name, total, self.items, share, by_key)
        if self.unmatched:
            log.info("join %s: %d unmatched, e.g. %s", self.name, self.unmatched, "; ".join(self.unmatched_sample))


def lookup(keys: Sequence[pd.Series]) -> pd.Series:
    """key -> row label of the first row holding it, over one or several key columns of the same table."""
    stacked = pd.concat([k.dropna() for k in keys]) if keys else pd.Series(dtype="str")
    table = pd.Series(stacked.index, index=stacked.to_numpy())
    return table[~table.index.duplicated(keep="first")]


def cascade(
    index: pd.Index,
    steps: Sequence[tuple[str, Sequence[pd.Series], Sequence[pd.Series]]],
    matched: pd.Series | None = None,
) -> tuple[pd.Series, dict[str, int]]:
    """Match the items of ``index`` step by step; return item -> right row label (NaN: none) and counts per step.

    Each step is ``(name, left keys, right keys)``: Series of keys indexed like ``index`` (left) and by the right
    table's row labels (right). An item is matched by the first step, and within a step the first left key
    column, that finds its key on the right. Items already matched in ``matched`` are kept.
    """
    result = pd.Series(np.nan, index=index, dtype="float64") if matched is None else matched.astype("float64")
    counts: dict[str, int] = {}
    for name, left_keys, right_keys in steps:
        table = lookup(right_keys)
        found_here = 0
        for left in left_keys:
            pending = result.isna()
            if not pending.any():
                break
            candidates = left.reindex(index)[pending.to_numpy()].dropna()
            hits = candidates.map(table).dropna()
            result.loc[hits.index] = hits.to_numpy(dtype="float64")
            found_here += len(hits)
        counts[name] = found_here
    return result, counts


def take(right: pd.DataFrame, matched: pd.Series) -> pd.DataFrame:
    """The rows of ``right`` that ``matched`` points to, indexed like ``matched``; all-NaN rows where unmatched."""
    found = matched.dropna()
    rows = right.loc[found.to_numpy(dtype="int64")]
    rows.index = found.index
    return rows.reindex(matched.index)


def unmatched_sample(labels: pd.Series, matched: pd.Series, n: int = UNMATCHED_SAMPLE) -> list[str]:
    """Up to ``n`` 'id: label' strings of unmatched items, most frequent first if ``labels`` is sorted so."""
    missing = labels[matched.reindex(labels.index).isna().to_numpy()]
    return [f"{i}: {t}" for i, t in missing.head(n).items()]
