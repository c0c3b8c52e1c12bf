"""Goodbooks-10k joined to two Goodreads sets from Kaggle for book descriptions.

"Goodreads books - 31 features" (austinreese/goodreads-books: ``id``, ``title``, ``author``, ``isbn``, ``isbn13``,
``description``, ``genre_and_votes``, ...) is tried first, "Goodreads 100K books" (mdhamani/goodreads-books-100k:
``link``, ``title``, ``author``, ``isbn``, ``isbn13``, ``desc``, ``genre``, ...) for the books still without a
description. Keys, in order: the Goodreads id (``goodreads_book_id``, then ``best_book_id``; the 100K set carries
it in ``link``), the ISBN, the ISBN-13 (both compared as 12-digit ISBN-13 stems, so an ISBN-10 finds the same
book's ISBN-13 and ``books.csv``'s float-mangled ISBN-13s still match), then title + first author.
The gathered text holds the title, authors, year, genres and the description.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from beeformer.data.common import Loaded, interactions_from
from beeformer.data.joins import (
    JoinReport,
    blank_to_na,
    cascade,
    goodreads_id_from_link,
    int_id,
    isbn_stem,
    labelled_text,
    norm_name,
    norm_title,
    take,
    unmatched_sample,
    year_of,
)
from beeformer.data.readers import Source, read_csv, read_ratings

RATING_TYPES = {"user_id": pa.int64(), "book_id": pa.int64(), "rating": pa.float64()}
BOOK_COLUMNS = ("book_id", "goodreads_book_id", "best_book_id", "isbn", "isbn13", "authors", "title")
BOOK_OPTIONAL = ("original_publication_year", "original_title")
GOODREADS_COLUMNS = ("id", "title", "author", "description")
GOODREADS_OPTIONAL = ("isbn", "isbn13", "genre_and_votes")
GOODREADS_100K_COLUMNS = ("link", "title", "author", "desc")
GOODREADS_100K_OPTIONAL = ("isbn", "isbn13", "genre")


def load(paths: dict[str, Path]) -> Loaded:
    """Interactions (no timestamps in Goodbooks-10k) and the gathered texts of the 10,000 books."""
    table = read_ratings(Source(paths["ratings"]), RATING_TYPES)
    interactions = interactions_from(table, "user_id", "book_id")
    del table
    books = read_csv(Source(paths["books"]), BOOK_COLUMNS, optional=BOOK_OPTIONAL)
    goodreads = read_csv(Source(paths["goodreads"]), GOODREADS_COLUMNS, optional=GOODREADS_OPTIONAL)
    goodreads100k = read_csv(Source(paths["goodreads100k"]), GOODREADS_100K_COLUMNS, optional=GOODREADS_100K_OPTIONAL)
    features, report = join(books, goodreads, goodreads100k, interactions["item_id"])
    return Loaded(interactions, features, report)


def _optional(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(pd.NA, index=frame.index, dtype="str")


def _title_author(title: pd.Series, author: pd.Series) -> pd.Series:
    return norm_title(title) + "|" + norm_name(author)


def join(
    books: pd.DataFrame, goodreads: pd.DataFrame, goodreads100k: pd.DataFrame, rated: pd.Series | None = None
) -> tuple[pd.DataFrame, JoinReport]:
    """Gathered features of every book: (item_id, text, described); the report counts matches per set and key."""
    books = books.assign(item_id=int_id(books["book_id"])).dropna(subset=["item_id"])
    books = books.drop_duplicates("item_id").set_index("item_id")
    left = {
        "goodreads id": [int_id(books["goodreads_book_id"]), int_id(books["best_book_id"])],
        "isbn": [isbn_stem(books["isbn"])],
        "isbn13": [isbn_stem(books["isbn13"])],
        "title+author": [
            _title_author(books["title"], books["authors"]),
            _title_author(_optional(books, "original_title"), books["authors"]),
        ],
    }
    sets = []
    for name, frame, ids, description, genres in (
        ("goodreads-31", goodreads, int_id(goodreads["id"]), goodreads["description"], "genre_and_votes"),
        (
            "goodreads-100k",
            goodreads100k,
            goodreads_id_from_link(goodreads100k["link"]),
            goodreads100k["desc"],
            "genre",
        ),
    ):
        right = pd.DataFrame(
            {
                "goodreads_id": ids,
                "description": blank_to_na(description),
                "genres": _genres(_optional(frame, genres)),
                "isbn": isbn_stem(_optional(frame, "isbn")),
                "isbn13": isbn_stem(_optional(frame, "isbn13")),
                "title_author": _title_author(frame["title"], frame["author"]),
            }
        ).reset_index(drop=True)
        right = right[right["description"].notna()]
        sets.append((name, right))

    described = pd.Series(pd.NA, index=books.index, dtype="str")
    genres = pd.Series(pd.NA, index=books.index, dtype="str")
    counts: dict[str, int] = {}
    for name, right in sets:
        steps = [
            ("goodreads id", left["goodreads id"], [right["goodreads_id"]]),
            ("isbn", left["isbn"], [right["isbn"], right["isbn13"]]),
            ("isbn13", left["isbn13"], [right["isbn"], right["isbn13"]]),
            ("title+author", left["title+author"], [right["title_author"]]),
        ]
        # books an earlier set described are marked -1 so that this set neither matches nor counts them
        already = pd.Series(float("nan"), index=books.index).mask(described.notna(), -1.0)
        matched, found = cascade(books.index, steps, matched=already)
        matched = matched.mask(matched < 0)
        hit = take(right, matched)
        described = described.fillna(hit["description"])
        genres = genres.fillna(hit["genres"])
        counts.update({f"{name}: {key}": n for key, n in found.items()})

    year = year_of(_optional(books, "original_publication_year"))
    text = labelled_text(
        [
            ("Title", books["title"]),
            ("Authors", books["authors"]),
            ("Year", year),
            ("Genres", genres),
            ("Description", described),
        ]
    )
    is_described = described.notna()
    features = pd.DataFrame(
        {"item_id": books.index.to_numpy(), "text": text.to_numpy(), "described": is_described.to_numpy()}
    )
    report = JoinReport(
        name="Goodbooks-10k -> Goodreads 31 features, then Goodreads 100K (descriptions)",
        items=len(books),
        matched=counts,
        unmatched=int((~is_described).sum()),
    )
    labels = books["title"]
    if rated is not None:
        labels = labels.reindex(rated.value_counts().index.intersection(labels.index, sort=False))
    report.unmatched_sample = unmatched_sample(labels, is_described.where(is_described))
    return features, report


def _genres(values: pd.Series) -> pd.Series:
    """'Fantasy 1234, Young Adult 567' or 'Fantasy,Young Adult' -> 'Fantasy, Young Adult'."""
    text = blank_to_na(values).str.replace(r"\s+-?\d+\s*(?=,|$)", "", regex=True)
    return text.str.replace(r"\s*,\s*", ", ", regex=True)
