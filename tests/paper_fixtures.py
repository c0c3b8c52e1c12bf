"""Builders of stand-in ``resources/`` folders for the paper sources, made from the real samples in ../shared/data.

- MovieLens-20M: ml-latest-small's ratings, movies and links zipped as ``ml-20m/*.csv``; the IMDB plots are the
  TMDB-5000 overviews, re-keyed to IMDb ids through links.csv and written with the column names of the Kaggle set
  "IMDB movies analysis" (``movies_initial.csv``). Every 7th plot loses its imdbID, so that only the title + year
  fallback can find it.
- Goodbooks-10k: the 5% ratings sample as ``ratings.csv`` and the real ``books.csv``; the two Goodreads Kaggle sets
  are small fakes with their real column names, keyed to real books.csv ids, ISBNs and titles so that every key of
  the cascade is exercised (see :func:`goodreads_fakes`).

Stand-ins for files whose checksums are recorded (the MovieLens archive, the Goodbooks ratings sample) are marked
``<file>.substitute``, so that those checksums are not applied; the Kaggle fakes have none to begin with.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pandas as pd
from conftest import shared_folder

IMDB_COLUMNS = [
    "imdbID", "title", "year", "rating", "runtime", "genre", "released", "director", "writer", "cast", "metacritic",
    "imdbRating", "imdbVotes", "poster", "plot", "fullplot", "language", "country", "awards", "lastupdated", "type",
]  # fmt: skip
GOODREADS_31_COLUMNS = [
    "id", "title", "link", "series", "cover_link", "author", "author_link", "rating_count", "review_count",
    "average_rating", "five_star_ratings", "four_star_ratings", "three_star_ratings", "two_star_ratings",
    "one_star_ratings", "number_of_pages", "date_published", "publisher", "original_title", "genre_and_votes",
    "isbn", "isbn13", "asin", "settings", "characters", "awards", "amazon_redirect_link", "worldcat_redirect_link",
    "recommended_books", "books_in_series", "description",
]  # fmt: skip
GOODREADS_100K_COLUMNS = [
    "author", "bookformat", "desc", "genre", "img", "isbn", "isbn13", "link", "pages", "rating", "reviews", "title",
    "totalratings",
]  # fmt: skip


def substitute(path: Path) -> Path:
    """Mark ``path`` as a stand-in for the official file (its recorded checksums are then not applied)."""
    path.with_name(path.name + ".substitute").write_text("a test sample, not the official file\n")
    return path


# --------------------------------------------------------------------------- MovieLens


def imdb_plots(every: int = 7) -> pd.DataFrame:
    """TMDB overviews as an 'IMDB movies analysis' table; every ``every``-th row without imdbID."""
    folder = shared_folder("movielens-small")
    tmdb = pd.read_csv(folder / "tmdb_5000_movies.csv.zip")
    links = pd.read_csv(folder / "ml-latest-small/links.csv").dropna(subset=["tmdbId"])
    imdb_of_tmdb = dict(zip(links["tmdbId"].astype(int), links["imdbId"].astype(int), strict=True))
    frame = pd.DataFrame(columns=IMDB_COLUMNS, index=range(len(tmdb)))
    frame["imdbID"] = tmdb["id"].map(imdb_of_tmdb).astype("Int64").astype("str").fillna("").replace("<NA>", "")
    frame.loc[frame.index % every == 0, "imdbID"] = ""
    frame["title"] = tmdb["title"]
    frame["year"] = tmdb["release_date"].str[:4]
    frame["genre"] = "Drama, Comedy"
    frame["director"] = "Some Director"
    frame["cast"] = "Actor One, Actor Two"
    frame["plot"] = tmdb["overview"].str.slice(0, 80)
    frame["fullplot"] = tmdb["overview"]
    frame["type"] = "movie"
    return frame


def movielens_resources(root: Path, ratings: bytes | None = None, plots: pd.DataFrame | None = None) -> Path:
    """A resources/ folder for source movielens-20m; ``ratings`` replaces ratings.csv (for bad-input tests)."""
    folder = shared_folder("movielens-small") / "ml-latest-small"
    archive = root / "movielens-20m/ml-20m.zip"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("ml-20m/", "")
        for name in ("movies.csv", "links.csv", "ratings.csv"):
            if name == "ratings.csv" and ratings is not None:
                bundle.writestr(f"ml-20m/{name}", ratings)
            else:
                bundle.write(folder / name, f"ml-20m/{name}")
    substitute(archive)
    target = root / "kaggle/imdb-movies-analysis/movies_initial.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    (imdb_plots() if plots is None else plots).to_csv(target, index=False)
    return root


# --------------------------------------------------------------------------- Goodbooks


def isbn13_of(isbn10: str) -> str:
    """The ISBN-13 of an ISBN-10 (with its check digit), written independently of the package."""
    stem = "978" + isbn10.zfill(10)[:9]
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(stem))
    return stem + str((10 - total % 10) % 10)


def goodreads_fakes(books: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fake 'Goodreads books - 31 features' and 'Goodreads 100K books' rows for real books, by book_id % 10:

    0-2: 31 features, by Goodreads id only (1: by best_book_id); 3: 31 features, ISBN-10 only; 4: 31 features,
    ISBN-13 only (from the ISBN-10; books without one get books.csv's ISBN-13); 5: 31 features, title + author only;
    6: 31 features with an empty description (must not count) and 100K by the Goodreads id in its link;
    7: 100K, ISBN-13 only; 8: 100K, title + author in other case and punctuation; 9: nowhere.
    """
    rows31, rows100k = [], []
    for book in books.itertuples(index=False):
        group = int(book.book_id) % 10
        isbn = str(book.isbn).zfill(10) if isinstance(book.isbn, str) else ""
        isbn13 = isbn13_of(isbn) if isbn else ""
        if not isbn13 and isinstance(book.isbn13, str):
            isbn13 = str(int(float(book.isbn13)))
        author = str(book.authors).split(",")[0]
        base31 = dict.fromkeys(GOODREADS_31_COLUMNS, "")
        base31.update(id=str(10**9 + int(book.book_id)), title="unrelated title", author="Nobody")
        base31.update(description=f"Description of {book.title} from the 31-feature set.")
        base31.update(genre_and_votes="Fiction 120, Fantasy 57, Young Adult 3")
        if group in (0, 2):
            rows31.append({**base31, "id": book.goodreads_book_id})
        elif group == 1:
            rows31.append({**base31, "id": book.best_book_id})
        elif group == 3 and isbn:
            rows31.append({**base31, "isbn": isbn})
        elif group == 4 and isbn13:
            rows31.append({**base31, "isbn13": isbn13})
        elif group == 5:
            rows31.append({**base31, "title": book.title, "author": author})
        elif group == 6:
            rows31.append({**base31, "id": book.goodreads_book_id, "description": "  "})
        base100k = dict.fromkeys(GOODREADS_100K_COLUMNS, "")
        base100k.update(title="unrelated", author="Nobody", genre="Fiction,Classics")
        base100k.update(desc=f"Description of {book.title} from the 100K set.")
        base100k.update(link=f"https://www.goodreads.com/book/show/{10**9 + int(book.book_id)}.x")
        if group == 6:
            base100k["link"] = f"https://www.goodreads.com/book/show/{book.goodreads_book_id}.Some_Title"
            rows100k.append(base100k)
        elif group == 7 and isbn13:
            rows100k.append({**base100k, "isbn13": isbn13})
        elif group == 8:
            rows100k.append({**base100k, "title": str(book.title).upper() + "!", "author": author.lower()})
    return pd.DataFrame(rows31, columns=GOODREADS_31_COLUMNS), pd.DataFrame(rows100k, columns=GOODREADS_100K_COLUMNS)


def goodbooks_resources(
    root: Path, ratings: bytes | None = None, goodreads: pd.DataFrame | None = None, published: bool = True
) -> Path:
    """A resources/ folder for source goodbooks-10k built from the shared sample and fake Goodreads sets."""
    folder = shared_folder("goodbooks")
    (root / "goodbooks-10k").mkdir(parents=True, exist_ok=True)
    if ratings is None:
        shutil.copyfile(folder / "ratings_random.csv", root / "goodbooks-10k/ratings.csv")
    else:
        (root / "goodbooks-10k/ratings.csv").write_bytes(ratings)
    substitute(root / "goodbooks-10k/ratings.csv")
    shutil.copyfile(folder / "books.csv", root / "goodbooks-10k/books.csv")
    books = pd.read_csv(folder / "books.csv", dtype=str)
    fake31, fake100k = goodreads_fakes(books)
    if goodreads is not None:
        fake31 = goodreads
    for frame, name in (
        (fake31, "kaggle/goodreads-books/goodreads_books.csv"),
        (fake100k, "kaggle/goodreads-books-100k/GoodReads_100k_books.csv"),
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(root / name, index=False)
    if published:
        (root / "published/goodbooks").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(
            folder / "item_text_descriptions.feather", root / "published/goodbooks/item_text_descriptions.feather"
        )
    return root


def paper_filters(ratings: pd.DataFrame, items: set[str], users_min: int = 5, time: bool = False) -> dict[str, int]:
    """The paper's filters in plain pandas: counts after each step (independent of beeformer.data.filters)."""
    counts = {"raw": len(ratings)}
    kept = ratings[ratings["rating"] >= 4]
    counts["after_min_rating"] = len(kept)
    if time:
        kept = kept.sort_values("timestamp", kind="stable")
    kept = kept.drop_duplicates(["user_id", "item_id"])
    counts["after_dedupe"] = len(kept)
    kept = kept[kept["item_id"].isin(items)]
    counts["after_item_text"] = len(kept)
    per_user = kept.groupby("user_id")["item_id"].transform("size")
    kept = kept[per_user >= users_min]
    counts["after_min_user_interactions"] = len(kept)
    counts["users"] = kept["user_id"].nunique()
    counts["items"] = kept["item_id"].nunique()
    return counts
