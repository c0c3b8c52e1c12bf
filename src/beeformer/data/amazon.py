"""Amazon Books, 2018 release (Ni, Li, McAuley): ratings-only ``Books.csv`` joined to ``meta_Books.json.gz``.

``Books.csv`` has no header: item (ASIN), user, rating, unix time. The metadata has one JSON object per line; the
join key is the ASIN. The gathered text holds the title, the author (``brand``, where Amazon writes e.g. "Visit
Amazon's Jane Doe Page"), the categories and the description, HTML stripped. Items without a description have
no description (the paper removes them).

The authors' item set (``published_items: true``) is their published descriptions after their preprocessing
(``_datasets/amazbooks/preprocess.py`` of recombee/beeformer): duplicate ``asin`` rows dropped, and only the asins
rated 4 or more at least once in ``Books.csv`` kept; 63,305 items remain (their README).
"""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from beeformer.contract import ContractError
from beeformer.data.common import Loaded, interactions_from
from beeformer.data.joins import JoinReport, blank_to_na, labelled_text, strip_html, unmatched_sample
from beeformer.data.readers import Source, read_ratings

log = logging.getLogger(__name__)

RATING_COLUMNS = ("asin", "user", "rating", "timestamp")
RATING_TYPES = {
    "asin": pa.dictionary(pa.int32(), pa.string()),
    "user": pa.dictionary(pa.int32(), pa.string()),
    "rating": pa.float64(),
    "timestamp": pa.int64(),
}
META_FIELDS = ("asin", "title", "brand", "category", "description")
META_SCHEMA = pa.schema(
    [
        ("asin", pa.string()),
        ("title", pa.string()),
        ("brand", pa.string()),
        ("category", pa.list_(pa.string())),
        ("description", pa.list_(pa.string())),
    ]
)
GENERIC_CATEGORIES = {"Books", "Kindle Store", "Kindle eBooks"}
#: The authors keep the published items rated at least this high at least once.
PUBLISHED_MIN_RATING = 4.0


def load(paths: dict[str, Path]) -> Loaded:
    """Interactions with timestamps, and the gathered texts of the rated items that have metadata."""
    table = read_ratings(Source(paths["ratings"]), RATING_TYPES, column_names=RATING_COLUMNS)
    interactions = interactions_from(table, "user", "asin")
    del table
    rated = interactions["item_id"]
    meta = read_meta(paths["meta"], keep=set(distinct(rated)))
    features, report = join(meta, rated)
    return Loaded(interactions, features, report)


def published_item_set(published: pd.Series, interactions: pd.DataFrame) -> pd.Series:
    """The authors' Amazon items: the distinct ``published`` asins that have a rating >= 4 in the interactions."""
    liked = interactions.loc[interactions["rating"].to_numpy() >= PUBLISHED_MIN_RATING, "item_id"]
    return published[published.isin(distinct(liked))].reset_index(drop=True)


def distinct(values: pd.Series) -> pd.Index:
    """The distinct values of a column; categories in use for a categorical one (no copy of millions of strings)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.remove_unused_categories().cat.categories
    return pd.Index(values.unique())


def read_meta(path: Path, keep: set[str] | None = None) -> pd.DataFrame:
    """asin, title, brand, category, description (lists joined) of the metadata, rows of ``keep`` only."""
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            table = pajson.read_json(
                stream,
                parse_options=pajson.ParseOptions(explicit_schema=META_SCHEMA, unexpected_field_behavior="ignore"),
            )
        frame = pd.DataFrame(
            {
                "asin": table.column("asin").to_pandas(),
                "title": table.column("title").to_pandas(),
                "brand": table.column("brand").to_pandas(),
                "category": pc.binary_join(table.column("category"), " > ").to_pandas(),
                "description": pc.binary_join(table.column("description"), "\n").to_pandas(),
            }
        )
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as error:
        log.warning("%s: the fast JSON reader failed (%s); reading line by line", path, str(error)[:200])
        frame = _read_meta_lines(path)
    if keep is not None:
        frame = frame[frame["asin"].isin(keep)]
    log.info("read metadata of %d items from %s", len(frame), path)
    return frame.reset_index(drop=True)


def _read_meta_lines(path: Path) -> pd.DataFrame:
    """Tolerant reader: one JSON object per line; strings or lists; bad bytes replaced; a bad line names its row."""
    rows: dict[str, list] = {name: [] for name in META_FIELDS}
    opener = gzip.open if path.suffix == ".gz" else open
    number = 0
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                _parse_meta_line(path, number, line, rows)
    except (EOFError, OSError) as error:
        raise ContractError(
            f"{path}: the file ends early or is damaged after line {number} ({error}). Delete it and download it again."
        ) from error
    return pd.DataFrame(rows, dtype="str")


def _parse_meta_line(path: Path, number: int, line: str, rows: dict[str, list]) -> None:
    if not line.strip():
        return
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ContractError(
            f"{path}: line {number} is not valid JSON ({error.msg} at column {error.colno}); the file may be "
            "truncated. Delete it and download it again."
        ) from error
    if not isinstance(record, dict):
        raise ContractError(f"{path}: line {number} is not a JSON object")
    for name in META_FIELDS:
        value = record.get(name)
        if isinstance(value, list):
            value = (" > " if name == "category" else "\n").join(str(v) for v in value if v)
        rows[name].append(str(value) if value not in ("", None) else None)


def join(meta: pd.DataFrame, rated: pd.Series | None = None) -> tuple[pd.DataFrame, JoinReport]:
    """Gathered features of the items with metadata: (item_id, text, described); matched by ASIN."""
    meta = meta.assign(asin=blank_to_na(meta["asin"])).dropna(subset=["asin"])
    meta = meta.drop_duplicates("asin").set_index("asin")
    description = strip_html(meta["description"])
    author = blank_to_na(meta["brand"]).str.replace(r"^Visit Amazon's (.*?) Page$", r"\1", regex=True)
    generic = "|".join(GENERIC_CATEGORIES)
    categories = blank_to_na(meta["category"]).str.replace(rf"(^|(?<= > ))({generic})( > |$)", "", regex=True)
    categories = blank_to_na(categories.str.replace(" > ", ", ", regex=False))
    text = labelled_text(
        [
            ("Title", strip_html(meta["title"])),
            ("Author", author),
            ("Categories", categories),
            ("Description", description),
        ]
    )
    features = pd.DataFrame(
        {"item_id": meta.index.to_numpy(), "text": text.to_numpy(), "described": description.notna().to_numpy()}
    )
    items = meta.index if rated is None else distinct(rated)
    in_meta = pd.Index(items).isin(meta.index)
    report = JoinReport(
        name="Amazon Books -> meta_Books (ASIN)",
        items=len(items),
        matched={"asin": int(in_meta.sum())},
        unmatched=int((~in_meta).sum()),
    )
    report.notes["with_description"] = int(description.notna().sum())
    if rated is not None:
        counts = rated.value_counts()
        missing = counts.index[~counts.index.isin(meta.index)]
        report.unmatched_sample = [f"{asin}: {int(counts[asin])} ratings" for asin in missing[:20]]
    else:
        report.unmatched_sample = unmatched_sample(meta["title"], description.where(description.notna()))
    return features, report
