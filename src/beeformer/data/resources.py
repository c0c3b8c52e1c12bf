"""The files behind the paper's datasets: where they come from, how they are verified, and which dataset needs which.

Checks (see :mod:`beeformer.data.download`), the strongest record that exists for each file:

- SHA-256 (+ size) where the exact file is on record: MovieLens-20M's ``ml-20m.zip`` (the checksum TensorFlow
  Datasets pins; GroupLens's own MD5 is listed too), and the verbatim copies in ``../shared/data`` taken from the
  same repository path (Goodbooks-10k ``books.csv`` at the pinned commit; the authors' Goodbooks descriptions).
- git blob id for the other files fetched from a GitHub repository at a fixed commit: the commit's tree records it.
- MD5 + size for Amazon ``Books.csv``, the only checksum published for it.
- None for ``meta_Books.json.gz`` and the Kaggle files (Kaggle may re-version a dataset): the first verified copy is
  pinned (``<file>.sha256``) and every later copy must match it.

GitHub files are fetched at a fixed commit, so that a recorded checksum cannot go stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from beeformer.data.download import Resource, kaggle_credentials, kaggle_setup_message

RAW = "https://raw.githubusercontent.com"
#: zygmuntz/goodbooks-10k at the commit the shared sample was taken from (books.csv verified against it).
GOODBOOKS_COMMIT = "6dd165b555a7b47b2dd36743a425776e641ff50c"
#: recombee/beeformer at the commit that holds the published descriptions.
BEEFORMER_COMMIT = "1cccb1ff003aa7d75e74dde012843da12fec61dd"
#: Hosts of the Amazon review data 2018, tried in this order (the same paths on each).
AMAZON_HOSTS = (
    "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2",  # the URL in the authors' download script
    "https://mcauleylab.ucsd.edu/public_datasets/data/amazon_v2",  # the lab's current site
    "https://jmcauley.ucsd.edu/data/amazon_v2",  # the original site
)


def _published(folder: str, **checks: Any) -> Resource:
    return Resource(
        name=f"published/{folder}/item_text_descriptions.feather",
        urls=(f"{RAW}/recombee/beeformer/{BEEFORMER_COMMIT}/_datasets/{folder}/item_text_descriptions.feather",),
        **checks,
        page=f"https://github.com/recombee/beeformer/tree/main/_datasets/{folder}",
        description="the authors' Llama-3.1-8B-Instruct item descriptions (column llama31_description)",
    )


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource(
            name="movielens-20m/ml-20m.zip",
            urls=("https://files.grouplens.org/datasets/movielens/ml-20m.zip",),
            sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
            size=198_702_078,
            note="GroupLens's own MD5 cd245b17a1ae2cc31bb14903e1204af3 (listed, not checked)",
            page="https://grouplens.org/datasets/movielens/20m/",
            description="MovieLens-20M (ratings.csv, movies.csv, links.csv, ...), GroupLens",
        ),
        Resource(
            name="goodbooks-10k/ratings.csv",
            urls=(f"{RAW}/zygmuntz/goodbooks-10k/{GOODBOOKS_COMMIT}/ratings.csv",),
            git_blob="0d245a10acfe3c89b2e4004cdbc805b99771ac5d",
            page="https://github.com/zygmuntz/goodbooks-10k",
            description="Goodbooks-10k ratings (user_id, book_id, rating)",
        ),
        Resource(
            name="goodbooks-10k/books.csv",
            urls=(f"{RAW}/zygmuntz/goodbooks-10k/{GOODBOOKS_COMMIT}/books.csv",),
            sha256="4d21d0e0433128657c752e3a3d0405ac0ec11675d6c70c64cb0abf4ab1acb76a",
            size=3_286_659,
            page="https://github.com/zygmuntz/goodbooks-10k",
            description="Goodbooks-10k book metadata (Goodreads ids, ISBN, authors, title, year)",
        ),
        Resource(
            name="amazon-books/Books.csv",
            urls=tuple(f"{host}/categoryFilesSmall/Books.csv" for host in AMAZON_HOSTS),
            md5="c6cb0fd6e4322d3523e9afd87d5ed9dc",
            size=2_140_933_459,
            page="https://cseweb.ucsd.edu/~jmcauley/datasets/amazon_v2/",
            description="Amazon review data 2018 (Ni, Li, McAuley), Books, ratings only: item,user,rating,timestamp",
        ),
        Resource(
            name="amazon-books/meta_Books.json.gz",
            urls=tuple(f"{host}/metaFiles2/meta_Books.json.gz" for host in AMAZON_HOSTS),
            page="https://cseweb.ucsd.edu/~jmcauley/datasets/amazon_v2/",
            description="Amazon review data 2018, Books metadata (asin, title, description, brand, category)",
        ),
        Resource(
            name="kaggle/imdb-movies-analysis/movies_initial.csv",
            kaggle="samruddhim/imdb-movies-analysis",
            member="movies_initial.csv",
            page="https://www.kaggle.com/datasets/samruddhim/imdb-movies-analysis",
            description="IMDB movies analysis: imdbID, title, year, genre, director, cast, plot, fullplot, ...",
        ),
        Resource(
            name="kaggle/goodreads-books/goodreads_books.csv",
            kaggle="austinreese/goodreads-books",
            member="goodreads_books.csv",
            page="https://www.kaggle.com/datasets/austinreese/goodreads-books",
            description="Goodreads books - 31 features: id, title, author, isbn, isbn13, description, genre_and_votes",
        ),
        Resource(
            name="kaggle/goodreads-books-100k/GoodReads_100k_books.csv",
            kaggle="mdhamani/goodreads-books-100k",
            member="GoodReads_100k_books.csv",
            page="https://www.kaggle.com/datasets/mdhamani/goodreads-books-100k",
            description="Goodreads 100K books: author, desc, genre, isbn, isbn13, link, title, ...",
        ),
        _published(
            "goodbooks", sha256="e7c0dffc838cf80f0882a2ccd491187365c5cdeb8543d56013c74a329f8e55e5", size=3_750_826
        ),
        _published("ml20m", git_blob="3a4e20f13ce391397ffe3c9e80398b758af73bb2"),
        _published("amazbooks", git_blob="91d29b345b1d4fea423b616b940442b6152a00a5"),
    )
}

#: Per paper source: role -> resource name. ``published`` is needed only with ``published_items: true``.
SOURCES: dict[str, dict[str, str]] = {
    "movielens-20m": {
        "archive": "movielens-20m/ml-20m.zip",
        "plots": "kaggle/imdb-movies-analysis/movies_initial.csv",
        "published": "published/ml20m/item_text_descriptions.feather",
    },
    "goodbooks-10k": {
        "ratings": "goodbooks-10k/ratings.csv",
        "books": "goodbooks-10k/books.csv",
        "goodreads": "kaggle/goodreads-books/goodreads_books.csv",
        "goodreads100k": "kaggle/goodreads-books-100k/GoodReads_100k_books.csv",
        "published": "published/goodbooks/item_text_descriptions.feather",
    },
    "amazon-books": {
        "ratings": "amazon-books/Books.csv",
        "meta": "amazon-books/meta_Books.json.gz",
        "published": "published/amazbooks/item_text_descriptions.feather",
    },
}

#: The id column of each published descriptions file (the authors' config).
PUBLISHED_ID_COLUMN = {"movielens-20m": "movieId", "goodbooks-10k": "book_id", "amazon-books": "asin"}
PUBLISHED_TEXT_COLUMN = "llama31_description"


def resources_for(spec: Mapping[str, Any]) -> dict[str, str]:
    """Role -> resource name of the files a paper-source dataset spec needs (empty for other sources)."""
    roles = SOURCES.get(str(spec.get("source")), {})
    return {role: name for role, name in roles.items() if role != "published" or spec.get("published_items")}


def published_for(source: str) -> str | None:
    """The resource name of the authors' published descriptions for a paper source, or ``None``."""
    return SOURCES.get(source, {}).get("published")


def names(kind: str | None = None) -> list[str]:
    """All resource names, or only those fetched over ``http`` or from ``kaggle``."""
    return [name for name, r in RESOURCES.items() if kind is None or r.kind == kind]


def kaggle_preflight(datasets: Mapping[str, Mapping[str, Any]], resources_dir: str | Path = "resources") -> str | None:
    """The setup message when Kaggle files the ``datasets`` need are missing and no credentials exist, else None.

    For a check before any work starts (the workflow's ``onstart``): files already in place need no credentials.
    """
    missing: dict[str, tuple[Resource, Path]] = {}
    for spec in datasets.values():
        for name in resources_for(spec).values():
            resource, path = RESOURCES[name], Path(resources_dir) / name
            if resource.kind == "kaggle" and not path.is_file():
                missing[name] = (resource, path)
    if missing and kaggle_credentials() is None:
        return kaggle_setup_message(list(missing.values()))
    return None
