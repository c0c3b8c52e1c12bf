"""Tests of beeformer.data.local: bring-your-own datasets read from local files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import MOVIELENS_SPEC, shared_folder

from beeformer.contract import ContractError
from beeformer.data.local import load_local


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def spec(interactions: dict[str, Any] | None = None, items: dict[str, Any] | None = None) -> dict[str, Any]:
    """A spec for ratings.csv (u, i, r, t) and items.csv (id, text); the arguments replace its sections."""
    return {
        "interactions": interactions
        or {
            "path": "ratings.csv",
            "columns": {"user_id": "u", "item_id": "i", "rating": "r", "timestamp": "t"},
        },
        "items": items or {"path": "items.csv", "columns": {"item_id": "id", "text": "text"}},
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write(tmp_path / "ratings.csv", "u,i,r,t,extra\n1,10,4.0,100,x\n 2 ,11,3.5,200,y\n1,11,5,300,z\n")
    write(tmp_path / "items.csv", "id,text\n10,a book\n11,another book\n12,   \n10,a duplicate\n")
    return tmp_path


def test_reads_interactions_and_items(folder: Path) -> None:
    interactions, items = load_local(spec(), folder)
    assert list(interactions.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert interactions["user_id"].tolist() == ["1", "2", "1"]  # " 2 " is stripped
    assert interactions["item_id"].tolist() == ["10", "11", "11"]
    assert interactions["rating"].tolist() == [4.0, 3.5, 5.0]
    assert interactions["timestamp"].tolist() == [100, 200, 300]
    # blank text is dropped, a repeated id keeps its first text
    assert items.to_dict("list") == {"item_id": ["10", "11"], "text": ["a book", "another book"]}


def test_optional_columns_and_absolute_paths(folder: Path) -> None:
    interactions, items = load_local(
        spec(
            {"path": str(folder / "ratings.csv"), "columns": {"user_id": "u", "item_id": "i"}},
            {"path": str(folder / "items.csv"), "columns": {"item_id": "id", "text": "text"}},
        ),
        "/nonexistent",
    )
    assert list(interactions.columns) == ["user_id", "item_id"]
    assert len(items) == 2


def test_tsv_gzip_and_explicit_sep(tmp_path: Path) -> None:
    pd.DataFrame({"u": [1, 2], "i": [5, 6]}).to_csv(tmp_path / "r.tsv.gz", sep="\t", index=False)
    write(tmp_path / "items.txt", "id;text\n5;five\n6;six\n")
    interactions, items = load_local(
        {
            "interactions": {"path": "r.tsv.gz", "columns": {"user_id": "u", "item_id": "i"}},
            "items": {"path": "items.txt", "sep": ";", "columns": {"item_id": "id", "text": "text"}},
        },
        tmp_path,
    )
    assert interactions.to_dict("list") == {"user_id": ["1", "2"], "item_id": ["5", "6"]}
    assert items["text"].tolist() == ["five", "six"]


@pytest.mark.parametrize("suffix", [".csv.bz2", ".csv.xz", ".csv.zip", ".csv.gz"])
def test_compressed_text_files_are_read_by_their_suffix(tmp_path: Path, suffix: str) -> None:
    pd.DataFrame({"u": ["a", "b"], "i": [5, 6], "r": [4.5, 3.0]}).to_csv(tmp_path / f"r{suffix}", index=False)
    write(tmp_path / "items.csv", "id,text\n5,five\n6,six\n")
    columns = {"user_id": "u", "item_id": "i", "rating": "r"}
    interactions, _ = load_local(
        {
            "interactions": {"path": f"r{suffix}", "columns": columns},
            "items": {"path": "items.csv", "columns": {"item_id": "id", "text": "text"}},
        },
        tmp_path,
    )
    assert interactions["item_id"].tolist() == ["5", "6"] and interactions["rating"].tolist() == [4.5, 3.0]


def test_text_from_several_columns_skips_blank_parts(tmp_path: Path) -> None:
    pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "title": ["Alien", "", None, "Heat"],
            "overview": ["In space.", "Only overview.", "  ", None],
        }
    ).to_parquet(tmp_path / "items.parquet")
    write(tmp_path / "ratings.csv", "u,i\n1,1\n")
    items_spec = {"path": "items.parquet", "columns": {"item_id": "id", "text": ["title", "overview"]}}
    _, items = load_local(
        spec({"path": "ratings.csv", "columns": {"user_id": "u", "item_id": "i"}}, items_spec), tmp_path
    )
    assert items.to_dict("list") == {
        "item_id": ["1", "2", "4"],
        "text": ["Alien\nIn space.", "Only overview.", "Heat"],
    }


def test_float_ids_with_nan_match_integer_ids(tmp_path: Path) -> None:
    # links-like map with a float column (NaN makes pandas write 862.0), items keyed by integers
    write(tmp_path / "ratings.csv", "u,i\n1,1\n1,2\n1,3\n")
    write(tmp_path / "links.csv", "movieId,tmdbId\n1,862.0\n2,\n3, 8844 \n4,862\n")
    pd.DataFrame({"id": [862, 8844, 5], "overview": ["toys", "jungle", "unused"]}).to_feather(tmp_path / "t.feather")
    items_spec = {
        "path": "t.feather",
        "columns": {"item_id": "id", "text": "overview"},
        "id_map": {"path": "links.csv", "from": "movieId", "to": "tmdbId"},
    }
    _, items = load_local(
        spec({"path": "ratings.csv", "columns": {"user_id": "u", "item_id": "i"}}, items_spec), tmp_path
    )
    # interaction ids are used; 2 maps to nothing, 4 is not rated but has text through the map
    assert items.to_dict("list") == {"item_id": ["1", "3", "4"], "text": ["toys", "jungle", "toys"]}


def test_float_id_column_in_parquet(tmp_path: Path) -> None:
    pd.DataFrame({"u": [1.0, 2.0], "i": [np.nan, 7.0]}).to_parquet(tmp_path / "r.parquet")
    pd.DataFrame({"id": [7.0, np.nan], "text": ["seven", "orphan"]}).to_parquet(tmp_path / "i.parquet")
    items_spec = {"path": "i.parquet", "columns": {"item_id": "id", "text": "text"}}
    with pytest.raises(ContractError, match=r"r\.parquet: column 'i' is empty in 1 row\(s\), the first in data row 1"):
        load_local(spec({"path": "r.parquet", "columns": {"user_id": "u", "item_id": "i"}}, items_spec), tmp_path)
    pd.DataFrame({"u": [1.0, 2.0], "i": [7.0, 7.5]}).to_parquet(tmp_path / "r.parquet")
    interactions, items = load_local(
        spec({"path": "r.parquet", "columns": {"user_id": "u", "item_id": "i"}}, items_spec), tmp_path
    )
    assert interactions["item_id"].tolist() == ["7", "7.5"]
    assert items.to_dict("list") == {"item_id": ["7"], "text": ["seven"]}


def test_date_strings_become_unix_seconds(tmp_path: Path) -> None:
    write(tmp_path / "ratings.csv", "u,i,t\n1,2,1970-01-02\n1,3,2000-01-01T00:00:10+00:00\n")
    write(tmp_path / "items.csv", "id,text\n2,x\n")
    interactions, _ = load_local(
        spec({"path": "ratings.csv", "columns": {"user_id": "u", "item_id": "i", "timestamp": "t"}}), tmp_path
    )
    assert interactions["timestamp"].tolist() == [86400, 946684810]


# --------------------------------------------------------------------------- bad input


def test_missing_file(folder: Path) -> None:
    with pytest.raises(ContractError, match=r"nope\.csv: file not found \(interactions\.path\)"):
        load_local(spec({"path": "nope.csv", "columns": {"user_id": "u", "item_id": "i"}}), folder)


def test_unknown_format(folder: Path) -> None:
    write(folder / "ratings.xlsx", "")
    with pytest.raises(ContractError, match=r"ratings\.xlsx: unknown file format; use one of"):
        load_local(spec({"path": "ratings.xlsx", "columns": {"user_id": "u", "item_id": "i"}}), folder)


def test_mapping_names_a_missing_column(folder: Path) -> None:
    with pytest.raises(ContractError) as error:
        load_local(spec({"path": "ratings.csv", "columns": {"user_id": "userId", "item_id": "i"}}), folder)
    message = str(error.value)
    assert "ratings.csv: column(s) ['userId'] not in the file" in message
    assert "['u', 'i', 'r', 't', 'extra']" in message


def test_missing_mapping_key(folder: Path) -> None:
    with pytest.raises(ContractError, match=r"items\.csv: items\.columns lacks \['text'\]"):
        load_local(spec(items={"path": "items.csv", "columns": {"item_id": "id"}}), folder)
    with pytest.raises(ContractError, match=r"interactions\.columns lacks \['user_id'\]"):
        load_local(spec({"path": "ratings.csv", "columns": {"item_id": "i"}}), folder)


def test_unknown_spec_key(folder: Path) -> None:
    with pytest.raises(ContractError, match=r"unknown key\(s\) \['colums'\] in interactions"):
        load_local(spec({"path": "ratings.csv", "colums": {}}), folder)


def test_non_numeric_rating_names_the_row(folder: Path) -> None:
    write(folder / "ratings.csv", "u,i,r,t\n1,10,4,1\n1,11,5,2\n2,10,four,3\n2,11,x,4\n")
    with pytest.raises(ContractError) as error:
        load_local(spec(), folder)
    message = str(error.value)
    assert "ratings.csv: column 'r' must hold a number" in message
    assert "2 value(s) do not; the first is 'four' in data row 3" in message


def test_unparseable_timestamp(folder: Path) -> None:
    write(folder / "ratings.csv", "u,i,r,t\n1,10,4,100\n1,11,5,yesterday\n")
    with pytest.raises(ContractError, match=r"column 't' must hold a unix time .* 'yesterday' in data row 2"):
        load_local(spec(), folder)
    write(folder / "ratings.csv", "u,i,r,t\n1,10,4,2020-01-01\n1,11,5,2020-13-45\n")
    with pytest.raises(ContractError, match=r"column 't' must hold a unix time .* '2020-13-45' in data row 2"):
        load_local(spec(), folder)


def test_truncated_last_line(folder: Path) -> None:
    write(folder / "ratings.csv", "u,i,r,t\n1,10,4,100\n1,11,5,200\n2,")
    with pytest.raises(ContractError, match=r"ratings\.csv: column 'i' is empty .* data row 3.*truncated"):
        load_local(spec(), folder)
    write(folder / "ratings.csv", "u,i,r,t\n1,10,4,100\n1,11,5,200\n2,10,4")
    with pytest.raises(ContractError, match=r"column 't' is empty in 1 row\(s\), the first in data row 3"):
        load_local(spec(), folder)


def test_malformed_line_becomes_contract_error(folder: Path) -> None:
    write(folder / "items.csv", 'id,text\n10,"a book\n')  # quote never closed
    with pytest.raises(ContractError, match=r"items\.csv: malformed or truncated line \(.*EOF inside string"):
        load_local(spec(), folder)


def test_non_utf8_bytes_are_replaced_with_a_warning(folder: Path) -> None:
    (folder / "items.csv").write_bytes(b"id,text\n10,caf\xe9 cr\xe8me\n11,plain\n")
    with pytest.warns(UnicodeWarning, match=r"items\.csv: not valid UTF-8"):
        _, items = load_local(spec(), folder)
    assert items["text"].tolist() == ["caf\ufffd cr\ufffdme", "plain"]


# --------------------------------------------------------------------------- real data


def test_movielens_small_items_through_links() -> None:
    folder = shared_folder("movielens-small")
    interactions, items = load_local(MOVIELENS_SPEC, folder)

    # independent computation
    ratings = pd.read_csv(folder / "ml-latest-small" / "ratings.csv")
    links = pd.read_csv(folder / "ml-latest-small" / "links.csv").dropna(subset=["tmdbId"])
    tmdb = pd.read_csv(folder / "tmdb_5000_movies.csv.zip")
    has_text = tmdb["title"].fillna("").str.strip().ne("") | tmdb["overview"].fillna("").str.strip().ne("")
    expected = set(links.loc[links["tmdbId"].astype(int).isin(tmdb.loc[has_text, "id"]), "movieId"].astype(str))

    assert len(interactions) == len(ratings) == 100_836
    assert set(items["item_id"]) == expected
    assert len(items) == len(expected)
    rated_with_text = interactions["item_id"].drop_duplicates().isin(items["item_id"]).sum()
    assert rated_with_text == ratings["movieId"].drop_duplicates().astype(str).isin(expected).sum()
    assert 3_400 <= rated_with_text <= 3_600  # SOURCE.md: 3,537 rated movies have an overview
    toy_story = items.loc[items["item_id"] == "1", "text"].item()
    assert toy_story.startswith("Toy Story\nLed by Woody")


def test_goodbooks_items() -> None:
    folder = shared_folder("goodbooks")
    goodbooks = {
        "interactions": {
            "path": "ratings_random.csv",
            "columns": {"user_id": "user_id", "item_id": "book_id"},
        },
        "items": {
            "path": "item_text_descriptions.feather",
            "columns": {"item_id": "book_id", "text": "llama31_description"},
        },
    }
    interactions, items = load_local(goodbooks, folder)
    descriptions = pd.read_feather(folder / "item_text_descriptions.feather")
    assert len(interactions) == 298_176
    assert len(items) == descriptions["book_id"].nunique() == 9_975
    assert items["text"].str.len().between(200, 2000).all()
