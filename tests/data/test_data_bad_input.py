"""Bad input to the paper sources' readers: each case is handled as documented or stopped with a message naming the
file, the row and the problem; and nothing downstream is left half-written."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import shared_folder
from paper_fixtures import goodbooks_resources, movielens_resources

from beeformer.contract import ContractError
from beeformer.data import prepare
from beeformer.data.download import ChecksumError, DownloadError

FILTERS = {"min_rating": 4, "min_user_interactions": 5}
GOODBOOKS = {"source": "goodbooks-10k", "filters": FILTERS}
MOVIELENS = {"source": "movielens-20m", "filters": FILTERS}


def outputs(folder: Path) -> tuple[Path, Path, Path]:
    return folder / "interactions.parquet", folder / "item_features.parquet", folder / "data.json"


def run(spec: dict, resources: Path, out: Path) -> dict:
    return prepare("x", spec, *outputs(out), resources_dir=resources)


def failing(spec: dict, resources: Path, out: Path) -> str:
    """Run, expect a stop, check that no output (and no temporary file) appeared; return the message."""
    with pytest.raises(ContractError) as error:
        run(spec, resources, out)
    assert not out.exists() or list(out.iterdir()) == []
    return str(error.value)


def ratings_sample() -> list[str]:
    return (shared_folder("goodbooks") / "ratings_random.csv").read_text().splitlines()


def test_missing_column(tmp_path: Path) -> None:
    lines = (shared_folder("movielens-small") / "ml-latest-small/ratings.csv").read_text().splitlines()
    without_time = "\n".join(",".join(line.split(",")[:3]) for line in lines) + "\n"
    resources = movielens_resources(tmp_path / "r", ratings=without_time.encode())
    message = failing(MOVIELENS, resources, tmp_path / "out")
    assert "ml-20m.zip:ml-20m/ratings.csv" in message and "['timestamp'] not in the file" in message


def test_non_numeric_rating_names_the_row(tmp_path: Path) -> None:
    lines = ratings_sample()
    lines[1234] = lines[1234].rsplit(",", 1)[0] + ",four"
    resources = goodbooks_resources(tmp_path / "r", ratings=("\n".join(lines) + "\n").encode())
    message = failing(GOODBOOKS, resources, tmp_path / "out")
    assert "goodbooks-10k/ratings.csv" in message and "column 'rating'" in message
    assert "'four' in data row 1234" in message


def test_empty_value_names_the_row(tmp_path: Path) -> None:
    lines = ratings_sample()
    lines[77] = "," + lines[77].split(",", 1)[1]
    resources = goodbooks_resources(tmp_path / "r", ratings=("\n".join(lines) + "\n").encode())
    message = failing(GOODBOOKS, resources, tmp_path / "out")
    assert "column 'user_id' is empty in 1 row(s), the first in data row 77" in message


def test_truncated_last_line_names_the_row(tmp_path: Path) -> None:
    lines = ratings_sample()
    cut = "\n".join(lines)[:-2]  # '...,4' loses its rating and the comma: two fields instead of three
    resources = goodbooks_resources(tmp_path / "r", ratings=cut.encode())
    message = failing(GOODBOOKS, resources, tmp_path / "out")
    assert f"data row {len(lines) - 1}" in message and "Expected 3 columns, got 2" in message
    assert "download it again" in message


def test_duplicate_pairs_keep_the_earliest(tmp_path: Path) -> None:
    lines = (shared_folder("movielens-small") / "ml-latest-small/ratings.csv").read_text().splitlines()
    user, item, _, stamp = lines[1].split(",")
    lines += [f"{user},{item},5.0,{int(stamp) + 1000}", f"{user},{item},4.5,{int(stamp) - 1000}"]
    resources = movielens_resources(tmp_path / "r", ratings=("\n".join(lines) + "\n").encode())
    summary = run(MOVIELENS, resources, tmp_path / "out")
    filters = summary["filters"]
    assert filters["raw"] == len(lines) - 1 and filters["after_dedupe"] == filters["after_min_rating"] - 2
    interactions = pd.read_parquet(tmp_path / "out/interactions.parquet")
    pair = interactions[(interactions["user_id"] == user) & (interactions["item_id"] == item)]
    assert pair["timestamp"].tolist() == [int(stamp) - 1000]


def test_non_utf8_texts_are_replaced_with_a_warning(tmp_path: Path) -> None:
    resources = goodbooks_resources(tmp_path / "r")
    path = resources / "kaggle/goodreads-books/goodreads_books.csv"
    data = path.read_bytes().replace(b"Description of The Hunger Games (", b"Description of The Hunger Games \xff\xfe(")
    path.write_bytes(data)
    with pytest.warns(UnicodeWarning, match=r"goodreads_books\.csv: not valid UTF-8"):
        run(GOODBOOKS, resources, tmp_path / "out")
    texts = pd.read_parquet(tmp_path / "out/item_features.parquet").set_index("item_id")["text"]
    assert "Description of The Hunger Games \ufffd\ufffd(" in texts["1"]


def test_failed_run_leaves_earlier_outputs_untouched(tmp_path: Path) -> None:
    resources = goodbooks_resources(tmp_path / "r")
    out = tmp_path / "out"
    run(GOODBOOKS, resources, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (resources / "goodbooks-10k/ratings.csv").write_text("user_id,book_id,rating\n1,2,x\n")
    (resources / "goodbooks-10k/ratings.csv.sha256").unlink()  # a new copy, not the pinned one
    with pytest.raises(ContractError, match="data row 1"):
        run(GOODBOOKS, resources, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_missing_and_wrong_resources(tmp_path: Path) -> None:
    resources = goodbooks_resources(tmp_path / "r")
    (resources / "goodbooks-10k/books.csv").write_text("book_id\n1\n")  # not the recorded books.csv
    with pytest.raises(ChecksumError, match="expected 4d21d0e0"):
        run(GOODBOOKS, resources, tmp_path / "out")
    shutil.rmtree(resources / "kaggle")
    (resources / "goodbooks-10k/books.csv").unlink()
    message = failing(GOODBOOKS, resources, tmp_path / "out")
    assert "missing " in message and "goodbooks-10k/books.csv, " in message and "GoodReads_100k_books.csv." in message
    assert "beeformer download goodbooks-10k/books.csv kaggle/goodreads-books/goodreads_books.csv" in message
    with pytest.raises(DownloadError, match=r"missing .*published/goodbooks/item_text_descriptions\.feather"):
        run({**GOODBOOKS, "published_items": True}, tmp_path / "empty", tmp_path / "out")


def test_amazon_metadata_bad_line_and_truncated_archive(tmp_path: Path) -> None:
    resources = tmp_path / "r" / "amazon-books"
    resources.mkdir(parents=True)
    (resources / "Books.csv").write_text("B1,U1,5.0,100\nB2,U1,5.0,100\n")
    (resources / "Books.csv.substitute").write_text("a test sample\n")  # not the official Books.csv
    with gzip.open(resources / "meta_Books.json.gz", "wt") as handle:
        handle.write('{"asin": "B1", "title": "A", "description": ["x"]}\n{"asin": "B2", "title": "B", "descr\n')
    message = failing({"source": "amazon-books", "filters": FILTERS}, tmp_path / "r", tmp_path / "out")
    assert "meta_Books.json.gz: line 2 is not valid JSON" in message

    whole = gzip.compress(b'{"asin": "B1", "title": "A", "description": ["x"]}\n' * 2000)
    (resources / "meta_Books.json.gz").write_bytes(whole[: len(whole) // 2])
    (resources / "meta_Books.json.gz.sha256").unlink()
    message = failing({"source": "amazon-books", "filters": FILTERS}, tmp_path / "r", tmp_path / "out")
    assert "meta_Books.json.gz: the file ends early or is damaged" in message
