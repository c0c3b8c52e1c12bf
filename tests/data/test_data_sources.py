"""The paper sources on real samples: joins and filters checked against independent plain-pandas computations.

MovieLens: ml-latest-small + TMDB overviews standing in for the IMDB plots. Goodbooks: the 5% ratings sample, the
real books.csv, fake Goodreads sets keyed to real ids and ISBNs, and the authors' published descriptions.
Also Amazon Books on a hand-made sample, the goodlens union, and the CLI.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.feather
import pytest
from conftest import shared_folder
from paper_fixtures import (
    goodbooks_resources,
    imdb_plots,
    movielens_resources,
    paper_filters,
    substitute,
)

from beeformer import contract
from beeformer.contract import ContractError
from beeformer.data import movielens, prepare
from beeformer.data.joins import imdb_key, isbn_stem, norm_title, split_title_year, strip_html
from beeformer.data.readers import read_feather

FILTERS = {"min_rating": 4, "min_user_interactions": 5}


def run(tmp_path: Path, name: str, spec: dict, resources: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    out = tmp_path / "out" / name
    summary = prepare(
        name, spec, out / "interactions.parquet", out / "features.parquet", out / "data.json", resources_dir=resources
    )
    assert contract.read_json(out / "data.json") == json.loads(json.dumps(summary))
    return summary, pd.read_parquet(out / "interactions.parquet"), pd.read_parquet(out / "features.parquet")


# --------------------------------------------------------------------------- key helpers


def test_key_normalisation() -> None:
    keys = imdb_key(pd.Series(["114709", "0114709", "tt0114709", "114709.0", "", None, "abc", "tt12345678"]))
    assert keys.tolist()[:4] == ["tt0114709"] * 4 and keys.iloc[4:7].isna().all() and keys.iloc[7] == "tt12345678"
    stems = isbn_stem(pd.Series(["439023483", "0439023483", "9780439023481", "9.78043902348e+12", "043965548X", "x"]))
    assert stems.tolist()[:4] == ["978043902348"] * 4 and stems.iloc[4] == "978043965548" and pd.isna(stems.iloc[5])
    titles = norm_title(
        pd.Series(["Matrix, The", "The Matrix", "THE MATRIX!", "The Hunger Games (The Hunger Games, #1)"])
    )
    assert titles.tolist() == ["matrix", "matrix", "matrix", "hunger games"]
    title, year = split_title_year(pd.Series(["Toy Story (1995)", "Babylon 5", "Cosmos (1980-1981)"]))
    assert title.tolist() == ["Toy Story", "Babylon 5", "Cosmos"] and year.iloc[0] == "1995" and pd.isna(year.iloc[1])
    html = strip_html(pd.Series(["<p>A <b>bold</b> book &amp; more</p><br/>Next", "   ", "<div></div>"]))
    assert html.iloc[0] == "A bold book & more\nNext" and html.iloc[1:].isna().all()


# --------------------------------------------------------------------------- MovieLens


def norm_title_reference(title: str) -> str:
    """Written independently of beeformer.data.joins: what a person would compare."""
    title = re.sub(r"\([^)]*\)", " ", title.lower())
    title = re.sub(r",\s*(the|a|an)\s*$", "", title.strip())
    title = re.sub(r"[^\w ]|_", " ", title)  # letters of any script stay
    words = title.split()
    if words and words[0] in ("the", "a", "an"):
        words = words[1:]
    return " ".join(words)


def matched_by_imdb_id(plots: pd.DataFrame) -> pd.DataFrame:
    """ml-latest-small's movies whose links.csv imdbId equals a plot's imdbID, both compared as integers."""
    folder = shared_folder("movielens-small") / "ml-latest-small"
    movies = pd.read_csv(folder / "movies.csv")
    links = pd.read_csv(folder / "links.csv")
    by_id = plots[plots["imdbID"] != ""].assign(imdb=lambda f: f["imdbID"].astype(int)).drop_duplicates("imdb")
    return movies.merge(links, on="movieId").merge(by_id, left_on="imdbId", right_on="imdb", how="inner")


def test_movielens_join_and_filters_match_plain_pandas(tmp_path: Path) -> None:
    resources = movielens_resources(tmp_path / "resources")
    summary, interactions, features = run(
        tmp_path, "movielens", {"source": "movielens-20m", "filters": FILTERS}, resources
    )

    # independent join: links imdbId -> plot by integer id, then normalised title + year for the rest
    folder = shared_folder("movielens-small") / "ml-latest-small"
    movies = pd.read_csv(folder / "movies.csv")
    plots = imdb_plots()
    plots = plots[plots["fullplot"].fillna("").str.strip() != ""]
    with_id = matched_by_imdb_id(plots)
    rest = movies[~movies["movieId"].isin(with_id["movieId"])].copy()
    parts = rest["title"].str.extract(r"^(.*?)\s*\((\d{4})\)\s*$")
    rest["key"] = parts[0].map(norm_title_reference, na_action="ignore") + "|" + parts[1]
    plot_keys = (plots["title"].map(norm_title_reference) + "|" + plots["year"]).dropna().drop_duplicates()
    by_title = rest[rest["key"].isin(plot_keys)]
    assert summary["join"]["matched"] == {"imdb id": len(with_id), "title+year": len(by_title)}
    assert 3000 < len(with_id) < 3537  # SOURCE.md: 3,537 movies have an overview; every 7th lost its imdbID
    assert len(by_title) > 50  # every 7th plot lost its imdbID: the fallback finds most of them
    assert summary["join"]["unmatched"] == len(movies) - len(with_id) - len(by_title)
    assert len(summary["join"]["unmatched_sample"]) == 20

    described = set(with_id["movieId"].astype(str)) | set(by_title["movieId"].astype(str))
    ratings = pd.read_csv(folder / "ratings.csv").rename(columns={"userId": "user_id", "movieId": "item_id"})
    ratings = ratings.astype({"user_id": str, "item_id": str})
    expected = paper_filters(ratings, described, time=True)
    assert {k: summary["filters"][k] for k in expected} == expected
    assert (summary["users"], summary["items"], summary["interactions"]) == (
        expected["users"],
        expected["items"],
        expected["after_min_user_interactions"],
    )
    # timestamps kept; interactions are 1; every item has a text with its plot
    assert list(interactions.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert (interactions["rating"] == 1).all()
    merged = interactions.merge(ratings, on=["user_id", "item_id"], suffixes=("", "_raw"))
    assert (merged["timestamp"] == merged["timestamp_raw"]).all() and (merged["rating_raw"] >= 4).all()
    assert set(features["item_id"]) == set(interactions["item_id"])
    toy = features.set_index("item_id").loc["1", "text"]
    assert (
        toy.startswith("Title: Toy Story\nYear: 1995\nGenres: Adventure, Animation") and "\nPlot: Led by Woody" in toy
    )
    assert set(summary["resources"]) == {"movielens-20m/ml-20m.zip", "kaggle/imdb-movies-analysis/movies_initial.csv"}
    assert summary["substitutes"] == ["movielens-20m/ml-20m.zip"]  # ml-latest-small stands in for it


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda number: number, id="plain number"),
        pytest.param(lambda number: f"tt{int(number):07d}", id="tt prefix"),
        pytest.param(lambda number: f"{number}.0", id="float"),
    ],
)
def test_imdb_ids_match_links_with_or_without_the_tt_prefix(form) -> None:
    folder = shared_folder("movielens-small") / "ml-latest-small"
    movies = pd.read_csv(folder / "movies.csv", dtype=str)
    links = pd.read_csv(folder / "links.csv", dtype=str)  # '0114709': 7 digits, no prefix
    plots = imdb_plots()  # imdbID as a plain number ('114709'), blank for every 7th plot
    expected = matched_by_imdb_id(plots[plots["fullplot"].fillna("").str.strip() != ""])
    written = plots.assign(imdbID=plots["imdbID"].map(lambda v: form(v) if v else v))
    _, report = movielens.join(movies, links, written)
    assert report.matched["imdb id"] == len(expected) > 3000


# --------------------------------------------------------------------------- Goodbooks


def reference_goodbooks_matches(root: Path) -> tuple[dict[str, int], set[str]]:
    """The cascade in plain Python: per set, Goodreads id, ISBN, ISBN-13, title + author; counts and matched books."""
    books = pd.read_csv(root / "goodbooks-10k/books.csv", dtype=str)
    sets = {
        "goodreads-31": pd.read_csv(root / "kaggle/goodreads-books/goodreads_books.csv", dtype=str).rename(
            columns={"description": "text"}
        ),
        "goodreads-100k": pd.read_csv(root / "kaggle/goodreads-books-100k/GoodReads_100k_books.csv", dtype=str).rename(
            columns={"desc": "text"}
        ),
    }
    sets["goodreads-100k"]["id"] = sets["goodreads-100k"]["link"].str.extract(r"show/(\d+)")[0]

    def stem(value: object) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return None
        value = str(int(float(value))) if "e+" in value else value.strip()
        if len(value) == 13:
            return value[:12]
        return "978" + value.zfill(10)[:9]

    def person(value: object) -> str:
        return re.sub(r"\W+", "", str(value).split(",")[0].lower())

    counts, matched = {}, {}
    for name, frame in sets.items():
        frame = frame[frame["text"].fillna("").str.strip() != ""]
        ids, stems, titles = {}, {}, {}
        for row in frame.itertuples():
            ids.setdefault(row.id, row.Index)
            for value in (row.isbn, row.isbn13):
                if stem(value):
                    stems.setdefault(stem(value), row.Index)
            titles.setdefault((norm_title_reference(str(row.title)), person(row.author)), row.Index)
        for key in ("goodreads id", "isbn", "isbn13", "title+author"):
            counts[f"{name}: {key}"] = 0
        for book in books.itertuples():
            if book.book_id in matched:
                continue
            attempts = [
                ("goodreads id", [ids.get(book.goodreads_book_id), ids.get(book.best_book_id)]),
                ("isbn", [stems.get(stem(book.isbn))]),
                ("isbn13", [stems.get(stem(book.isbn13))]),
                (
                    "title+author",
                    [
                        titles.get((norm_title_reference(str(t)), person(book.authors)))
                        for t in (book.title, book.original_title)
                        if isinstance(t, str)
                    ],
                ),
            ]
            for key, hits in attempts:
                if any(h is not None for h in hits):
                    counts[f"{name}: {key}"] += 1
                    matched[book.book_id] = name
                    break
    return counts, set(matched)


def test_goodbooks_joins_both_goodreads_sets_and_filters(tmp_path: Path) -> None:
    resources = goodbooks_resources(tmp_path / "resources")
    summary, interactions, features = run(
        tmp_path, "goodbooks", {"source": "goodbooks-10k", "filters": FILTERS}, resources
    )
    counts, described = reference_goodbooks_matches(resources)
    assert summary["join"]["matched"] == counts
    assert summary["join"]["unmatched"] == 10_000 - len(described)
    # every key found books; group 6's empty 31-feature description made the 100K set find them by Goodreads id
    assert all(counts[f"goodreads-31: {k}"] > 300 for k in ("goodreads id", "isbn", "title+author"))
    assert counts["goodreads-31: isbn13"] > 0 and counts["goodreads-100k: goodreads id"] > 900
    assert counts["goodreads-100k: isbn"] > 600 and counts["goodreads-100k: title+author"] > 900

    ratings = pd.read_csv(shared_folder("goodbooks") / "ratings_random.csv").rename(columns={"book_id": "item_id"})
    ratings = ratings.astype({"user_id": str, "item_id": str})
    expected = paper_filters(ratings, described)
    assert {k: summary["filters"][k] for k in expected} == expected
    assert list(interactions.columns) == ["user_id", "item_id", "rating"]  # Goodbooks has no timestamps
    text = features.set_index("item_id").loc["1", "text"]
    assert text.startswith("Title: The Hunger Games (The Hunger Games, #1)\nAuthors: Suzanne Collins\nYear: 2008")
    assert "Genres: Fiction, Fantasy, Young Adult\nDescription: Description of The Hunger Games" in text


def test_goodbooks_published_items_reproduce_the_papers_item_set(tmp_path: Path) -> None:
    resources = goodbooks_resources(tmp_path / "resources")
    spec = {"source": "goodbooks-10k", "published_items": True, "filters": FILTERS}
    summary, _, features = run(tmp_path, "goodbooks", spec, resources)
    published = pd.read_feather(shared_folder("goodbooks") / "item_text_descriptions.feather")
    ratings = pd.read_csv(shared_folder("goodbooks") / "ratings_random.csv").rename(columns={"book_id": "item_id"})
    ratings = ratings.astype({"user_id": str, "item_id": str})
    expected = paper_filters(ratings, set(published["book_id"].astype(str)))
    assert {k: summary["filters"][k] for k in expected} == expected
    # ../shared/data/goodbooks/SOURCE.md: about 203,700 interactions, 2,669 users, 9,915 items
    assert expected["users"] == 2669 and abs(expected["after_min_user_interactions"] - 203_700) < 500
    assert summary["published_items"]["published"] == 9975
    assert summary["published_items"]["of_which_without_description"] > 0  # books the fakes leave undescribed
    assert set(features["item_id"]) <= set(published["book_id"].astype(str))


# --------------------------------------------------------------------------- Amazon Books


AMAZON_ITEMS = 12


def amazon_resources(root: Path, meta_lines: list[str] | None = None) -> Path:
    rows = []
    for user in range(12):
        for item in range(AMAZON_ITEMS):
            if (user + item) % 4:
                rating = 3 if item % 5 == 0 else 5
                rows.append(f"B{item:09d},U{user:03d},{rating}.0,{1_400_000_000 + user * 100 + item}")
    rows.append("B000000001,U000,5.0,1300000000")  # a repeated pair, earlier: kept
    (root / "amazon-books").mkdir(parents=True, exist_ok=True)
    substitute(root / "amazon-books/Books.csv").write_text("\n".join(rows) + "\n")
    if meta_lines is None:
        meta_lines = [
            json.dumps(
                {
                    "asin": f"B{i:09d}",
                    "title": f"Book {i}",
                    "brand": "Visit Amazon's Jane Doe Page",
                    "category": ["Books", "Literature & Fiction"],
                    "description": [f"<p>The <b>story</b> of {i} &amp; more.</p>"] if i != 7 else [],
                    "also_buy": ["B1", "B2"],
                }
            )
            for i in range(AMAZON_ITEMS)
        ]
    with gzip.open(root / "amazon-books/meta_Books.json.gz", "wt") as handle:
        handle.write("\n".join(meta_lines) + "\n")
    return root


def test_amazon_books_join_by_asin_strips_html_and_keeps_time(tmp_path: Path) -> None:
    resources = amazon_resources(tmp_path / "resources")
    spec = {"source": "amazon-books", "filters": FILTERS}
    summary, interactions, features = run(tmp_path, "amazbooks", spec, resources)
    assert summary["join"]["matched"] == {"asin": AMAZON_ITEMS} and summary["join"]["with_description"] == 11
    text = features.set_index("item_id").loc["B000000001", "text"]
    assert (
        text == "Title: Book 1\nAuthor: Jane Doe\nCategories: Literature & Fiction\nDescription: The story of 1 & more."
    )
    assert "B000000007" not in set(features["item_id"])  # no description: removed
    assert summary["filters"]["after_dedupe"] == summary["filters"]["after_min_rating"] - 1
    first = interactions[(interactions["user_id"] == "U000") & (interactions["item_id"] == "B000000001")]
    assert first["timestamp"].tolist() == [1300000000]  # the earliest of the repeated pair


def test_amazon_metadata_with_strings_instead_of_lists_is_read_line_by_line(tmp_path: Path) -> None:
    lines = [
        json.dumps({"asin": f"B{i:09d}", "title": f"Book {i}", "description": f"Plain {i}"})
        for i in range(AMAZON_ITEMS)
    ]
    resources = amazon_resources(tmp_path / "resources", meta_lines=lines)
    summary, _, features = run(tmp_path, "amazbooks", {"source": "amazon-books", "filters": FILTERS}, resources)
    assert summary["join"]["with_description"] == AMAZON_ITEMS
    assert features.set_index("item_id").loc["B000000003", "text"] == "Title: Book 3\nDescription: Plain 3"


def amazon_published(root: Path) -> Path:
    """The authors' Amazon descriptions, shaped like theirs: asin and llama31_description, a stored pandas index,
    repeated asins, asins rated 3 only (0, 5, 10) and one asin nobody rated."""
    asins = [f"B{i:09d}" for i in range(AMAZON_ITEMS)] + ["B000000002", "B000000005", "B000000009", "B999999999"]
    frame = pd.DataFrame(
        {"asin": asins, "llama31_description": [f'"A book, {asin}."' for asin in asins]},
        index=pd.Index(range(len(asins), 0, -1), name=None),
    )
    path = root / "published/amazbooks/item_text_descriptions.feather"
    path.parent.mkdir(parents=True, exist_ok=True)
    pyarrow.feather.write_feather(pa.Table.from_pandas(frame, preserve_index=True), path)
    return substitute(path)


def test_amazon_published_items_are_the_authors_item_set(tmp_path: Path) -> None:
    resources = amazon_resources(tmp_path / "resources")
    published_path = amazon_published(resources)
    assert "__index_level_0__" in pyarrow.feather.read_table(published_path).column_names  # like the real files
    spec = {"source": "amazon-books", "published_items": True, "filters": FILTERS}
    summary, _, features = run(tmp_path, "amazbooks", spec, resources)

    # the authors' _datasets/amazbooks/preprocess.py, in plain pandas
    ratings = pd.read_csv(resources / "amazon-books/Books.csv", header=None)
    ratings.columns = ["asin", "uid", "rating", "timestamp"]
    liked = ratings[ratings.rating >= 4]
    published = pd.read_feather(published_path).drop_duplicates("asin")
    authors = published[published.asin.isin(liked.asin)]
    assert len(authors) == 9  # of 13 distinct asins: three rated 3 only, one never rated
    report = summary["published_items"]
    assert (report["published"], report["authors_item_set"]) == (13, len(authors))
    assert report["published_with_gathered_features"] == 9 and report["of_which_without_description"] == 1
    as_strings = ratings.rename(columns={"asin": "item_id", "uid": "user_id"})
    expected = paper_filters(as_strings, set(authors.asin), time=True)
    assert {k: summary["filters"][k] for k in expected} == expected
    assert set(features["item_id"]) <= set(authors.asin)

    # without a rating filter the rule alone decides: exactly the authors' items
    spec = {"source": "amazon-books", "published_items": True, "filters": {"min_user_interactions": 1}}
    _, _, features = run(tmp_path, "unfiltered", spec, resources)
    assert sorted(features["item_id"]) == sorted(authors.asin)


def test_feather_reader_ignores_a_stored_pandas_index(tmp_path: Path) -> None:
    path = amazon_published(tmp_path)
    with pytest.raises(
        ContractError, match=r"\['nope'\] not in the file, which has \['asin', 'llama31_description'\];"
    ):
        read_feather(path, ["asin", "nope"])
    frame = read_feather(path, ["asin", "llama31_description"])
    assert frame["asin"].iloc[-1] == "B999999999" and frame["llama31_description"].iloc[-1] == '"A book, B999999999."'


# --------------------------------------------------------------------------- goodlens and the CLI


def test_goodlens_union_keeps_ids_apart(tmp_path: Path) -> None:
    goodbooks = goodbooks_resources(tmp_path / "gb")
    movielens = movielens_resources(tmp_path / "ml")
    parts = {}
    for name, spec, resources in (
        ("goodbooks", {"source": "goodbooks-10k", "filters": FILTERS}, goodbooks),
        ("movielens", {"source": "movielens-20m", "filters": FILTERS}, movielens),
    ):
        summary, interactions, features = run(tmp_path, name, spec, resources)
        items = tmp_path / "out" / name / "items.parquet"
        features.to_parquet(items)  # what describe engine none writes
        parts[name] = (tmp_path / "out" / name / "interactions.parquet", items, summary, interactions)
    out = tmp_path / "out/goodlens"
    summary = prepare(
        "goodlens",
        {"source": "union", "of": ["goodbooks", "movielens"], "filters": {"min_rating": None}},
        out / "interactions.parquet",
        out / "features.parquet",
        out / "data.json",
        parts={k: v[:2] for k, v in parts.items()},
    )
    union = pd.read_parquet(out / "interactions.parquet")
    assert list(union.columns) == ["user_id", "item_id", "rating"]  # Goodbooks has no timestamps
    assert summary["interactions"] == sum(len(p[3]) for p in parts.values())  # a fixed point: nothing dropped
    assert summary["users"] == sum(p[2]["users"] for p in parts.values())
    assert union["user_id"].str.match(r"^(goodbooks|movielens):").all()
    both = union["item_id"].str.split(":").str[1]
    assert set(both[union["item_id"].str.startswith("goodbooks:")]) & {"1", "2"}  # raw ids repeat across parts...
    assert set(both[union["item_id"].str.startswith("movielens:")]) & {"1", "2"}  # ...but stay apart, prefixed
    assert summary["parts"]["goodbooks"]["interactions"] == len(parts["goodbooks"][3])


def test_cli_data_stage_for_a_paper_source(tmp_path: Path) -> None:
    resources = movielens_resources(tmp_path / "resources")
    out = tmp_path / "out"
    spec = json.dumps({"source": "movielens-20m", "filters": FILTERS})
    result = subprocess.run(
        [
            *(sys.executable, "-m", "beeformer", "data", "--name", "ml", "--params", spec),
            *("--resources-dir", str(resources), "--interactions", str(out / "i.parquet")),
            *("--items", str(out / "f.parquet"), "--report", str(out / "d.json")),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "join MovieLens-20M -> IMDB movies analysis (plots): 3" in result.stderr and "unmatched, e.g." in result.stderr
    )
    assert contract.read_json(out / "d.json")["source"] == "movielens-20m"
