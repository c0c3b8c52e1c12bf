"""Tests of beeformer.data.filters: the paper's filters, in the paper's order."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import MOVIELENS_SPEC, shared_folder

from beeformer.contract import ContractError
from beeformer.data.filters import FilterReport, apply_filters
from beeformer.data.local import load_local


def frame(rows: list[tuple[str, str, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def items_for(*ids: str) -> pd.DataFrame:
    return pd.DataFrame({"item_id": list(ids), "text": [f"text of {i}" for i in ids]})


def run(
    interactions: pd.DataFrame, items: pd.DataFrame, min_rating: float | None = None, min_users: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame, FilterReport]:
    return apply_filters(interactions, items, min_rating=min_rating, min_user_interactions=min_users, dataset="t")


def test_min_rating_keeps_ratings_at_or_above() -> None:
    data = frame([("u", "a", 3.5, 1), ("u", "b", 4.0, 2), ("u", "c", 5.0, 3)])
    kept, _, report = run(data, items_for("a", "b", "c"), min_rating=4.0)
    assert kept["item_id"].tolist() == ["b", "c"]
    assert (report.raw, report.after_min_rating) == (3, 2)


def test_min_rating_needs_a_rating_column() -> None:
    data = frame([("u", "a", 4.0, 1)]).drop(columns="rating")
    with pytest.raises(ContractError, match=r"dataset 't': filters\.min_rating=4 needs a rating column"):
        run(data, items_for("a"), min_rating=4)
    kept, _, _ = run(data, items_for("a"), min_rating=None)
    assert len(kept) == 1


def test_duplicate_pairs_keep_the_earliest() -> None:
    data = frame(
        [
            ("u", "a", 5.0, 30),
            ("u", "a", 2.0, 10),
            ("u", "b", 4.0, 20),
            ("v", "a", 1.0, 5),
            ("u", "a", 3.0, 20),
        ]
    )
    kept, _, report = run(data, items_for("a", "b"))
    assert kept.to_dict("list") == {
        "user_id": ["u", "u", "v"],
        "item_id": ["a", "b", "a"],
        "rating": [2.0, 4.0, 1.0],
        "timestamp": [10, 20, 5],
    }
    assert (report.after_dedupe, report.after_min_user_interactions) == (3, 3)


def test_duplicate_pairs_without_timestamp_keep_the_first_row() -> None:
    data = frame([("u", "b", 5.0, 0), ("u", "a", 2.0, 0), ("u", "b", 1.0, 0)]).drop(columns="timestamp")
    kept, _, _ = run(data, items_for("a", "b"))
    assert kept.to_dict("list") == {"user_id": ["u", "u"], "item_id": ["a", "b"], "rating": [2.0, 5.0]}


def test_rating_filter_comes_before_dedupe() -> None:
    # the earliest copy is a low rating: the paper drops it first, so the later high rating survives
    data = frame([("u", "a", 1.0, 1), ("u", "a", 5.0, 2)])
    kept, _, _ = run(data, items_for("a"), min_rating=4)
    assert kept["rating"].tolist() == [5.0]


def test_items_without_text_are_removed() -> None:
    data = frame([("u", "a", 5.0, 1), ("u", "b", 5.0, 2), ("u", "c", 5.0, 3), ("u", "d", 5.0, 4)])
    items = pd.DataFrame({"item_id": ["a", "b", "c", "x"], "text": ["A", "  ", None, "X"]})
    kept, kept_items, report = run(data, items)
    assert kept["item_id"].tolist() == ["a"]
    assert kept_items.to_dict("list") == {"item_id": ["a"], "text": ["A"]}
    assert report.after_item_text == 1


def test_users_with_too_few_interactions_are_removed() -> None:
    data = frame([("u", "a", 5.0, 1), ("u", "b", 5.0, 2), ("v", "a", 5.0, 3), ("w", "c", 5.0, 1), ("w", "c", 4.0, 2)])
    kept, kept_items, report = run(data, items_for("a", "b", "c"), min_users=2)
    # w has two rows but one distinct item after dedupe, so w goes too
    assert kept["user_id"].tolist() == ["u", "u"]
    assert kept_items["item_id"].tolist() == ["a", "b"]
    assert report.as_dict() == {
        "dataset": "t",
        "min_rating": None,
        "min_user_interactions": 2,
        "raw": 5,
        "after_min_rating": 5,
        "after_dedupe": 4,
        "after_item_text": 4,
        "after_min_user_interactions": 2,
        "users": 1,
        "items": 2,
    }


def test_output_order_index_and_items() -> None:
    data = frame([("2", "b", 5.0, 9), ("10", "c", 5.0, 3), ("2", "a", 5.0, 9), ("2", "c", 5.0, 1)])
    data.index = [7, 7, 3, 1]
    items = pd.DataFrame({"item_id": ["c", "z", "a", "b"], "text": ["C", "Z", "A", "B"], "title": list("czab")})
    kept, kept_items, _ = run(data, items)
    assert list(zip(kept["user_id"], kept["timestamp"], kept["item_id"], strict=True)) == [
        ("10", 3, "c"),
        ("2", 1, "c"),
        ("2", 9, "a"),
        ("2", 9, "b"),
    ]
    assert isinstance(kept.index, pd.RangeIndex) and kept.index.start == 0
    assert kept_items["item_id"].tolist() == ["a", "b", "c"]  # z has no interactions
    assert isinstance(kept_items.index, pd.RangeIndex)
    assert list(data["user_id"]) == ["2", "10", "2", "2"]  # input untouched


def test_integer_ids_are_compared_as_strings() -> None:
    data = pd.DataFrame({"user_id": [1, 1], "item_id": [10, 11]})
    kept, kept_items, _ = run(data, items_for("10"))
    assert kept.to_dict("list") == {"user_id": ["1"], "item_id": ["10"]}
    assert kept_items["item_id"].tolist() == ["10"]


def test_one_pass_is_a_fixed_point() -> None:
    rows = [(f"u{u}", f"i{(u * 7 + k) % 13}", float(k % 5 + 1), k) for u in range(30) for k in range(u % 9)]
    items = items_for(*[f"i{i}" for i in range(0, 13, 2)])
    once, once_items, _ = run(frame(rows), items, min_rating=2, min_users=3)
    twice, twice_items, _ = run(once, once_items, min_rating=2, min_users=3)
    pd.testing.assert_frame_equal(once, twice)
    pd.testing.assert_frame_equal(once_items, twice_items)
    assert once.groupby("user_id").size().min() >= 3


def test_empty_result_is_an_error() -> None:
    data = frame([("u", "a", 5.0, 1)])
    message = (
        "dataset 't' is empty after filtering (min_rating=4, min_user_interactions=2): "
        "lower the thresholds or check the column mapping"
    )
    with pytest.raises(ContractError) as error:
        run(data, items_for("a"), min_rating=4, min_users=2)
    assert str(error.value) == message


# --------------------------------------------------------------------------- real data


def independent_filter(ratings: pd.DataFrame, with_text: pd.Series, min_rating: float, min_user: int) -> pd.DataFrame:
    """The paper's filters in plain pandas, written separately from apply_filters."""
    kept = ratings[ratings["rating"] >= min_rating]
    if "timestamp" in kept.columns:
        kept = kept.sort_values("timestamp", kind="stable")
    kept = kept.drop_duplicates(["user", "item"])
    kept = kept[kept["item"].isin(with_text)]
    per_user = kept.groupby("user")["item"].transform("size")
    return kept[per_user >= min_user]


def test_goodbooks_sample() -> None:
    folder = shared_folder("goodbooks")
    goodbooks = {
        "interactions": {
            "path": "ratings_random.csv",
            "columns": {"user_id": "user_id", "item_id": "book_id", "rating": "rating"},
        },
        "items": {
            "path": "item_text_descriptions.feather",
            "columns": {"item_id": "book_id", "text": "llama31_description"},
        },
    }
    interactions, items = load_local(goodbooks, folder)
    kept, kept_items, report = apply_filters(
        interactions, items, min_rating=4, min_user_interactions=5, dataset="goodbooks"
    )

    ratings = pd.read_csv(folder / "ratings_random.csv").rename(columns={"user_id": "user", "book_id": "item"})
    descriptions = pd.read_feather(folder / "item_text_descriptions.feather")
    expected = independent_filter(ratings, descriptions["book_id"], 4, 5)
    assert len(kept) == len(expected) == report.after_min_user_interactions
    assert kept["user_id"].nunique() == expected["user"].nunique() == report.users
    assert len(kept_items) == expected["item"].nunique() == report.items
    assert set(kept_items["item_id"]) == set(expected["item"].astype(str))
    # SOURCE.md: about 203,700 interactions, 2,669 users, 9,915 items (figures without the text filter,
    # which removes the 0.25% of books that have no description)
    assert report.after_min_rating == 203_703
    assert abs(len(kept) - 203_700) < 400
    assert abs(report.users - 2_669) <= 5
    assert abs(report.items - 9_915) < 50


def test_movielens_small_with_tmdb_overviews() -> None:
    folder = shared_folder("movielens-small")
    interactions, items = load_local(MOVIELENS_SPEC, folder)
    kept, kept_items, report = apply_filters(interactions, items, min_rating=4, min_user_interactions=5, dataset="ml")

    ratings = pd.read_csv(folder / "ml-latest-small" / "ratings.csv")
    ratings = ratings.rename(columns={"userId": "user", "movieId": "item"})
    links = pd.read_csv(folder / "ml-latest-small" / "links.csv").dropna(subset=["tmdbId"])
    tmdb = pd.read_csv(folder / "tmdb_5000_movies.csv.zip", usecols=["id", "title", "overview"])
    tmdb = tmdb[tmdb["title"].notna() | tmdb["overview"].notna()]
    with_text = links.loc[links["tmdbId"].astype("int64").isin(tmdb["id"]), "movieId"]
    expected = independent_filter(ratings, with_text, 4, 5)

    assert len(items) == with_text.nunique()
    assert len(kept) == len(expected) == report.after_min_user_interactions
    assert kept["user_id"].nunique() == expected["user"].nunique() == report.users
    assert len(kept_items) == expected["item"].nunique() == report.items
    assert kept.groupby("user_id")["timestamp"].apply(lambda t: t.is_monotonic_increasing).all()
