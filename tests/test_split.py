"""Item and time splits: no leakage, the documented sizes, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from beeformer import contract
from beeformer.split import SplitConfig, split


def make_dataset(tmp_path, users=60, items=40, seed=0):
    rng = np.random.default_rng(seed)
    rows = [
        (f"u{u}", f"i{i}", int(rng.integers(0, 10_000)))
        for u in range(users)
        for i in rng.choice(items, size=int(rng.integers(3, min(12, items))), replace=False)
    ]
    interactions = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    texts = pd.DataFrame({"item_id": [f"i{i}" for i in range(items)], "text": [f"item {i}" for i in range(items)]})
    contract.write_table(interactions, tmp_path / "interactions.parquet")
    contract.write_table(texts, tmp_path / "items.parquet")
    return interactions


def read_parts(folder):
    return {
        p: pd.read_parquet(contract.split_file(folder, p))
        for p in contract.SPLIT_INTERACTION_PARTS + contract.SPLIT_CANDIDATE_PARTS
    }


def test_item_split_holds_out_cold_items(tmp_path):
    interactions = make_dataset(tmp_path)
    out = tmp_path / "split"
    split(
        SplitConfig(kind="item", test_items=8, validation_items=5, seed=3),
        tmp_path / "interactions.parquet",
        tmp_path / "items.parquet",
        out,
    )
    parts = read_parts(out)
    test_items = set(parts["test_candidates"]["item_id"])
    validation_items = set(parts["validation_candidates"]["item_id"])
    assert len(test_items) == 8 and len(validation_items) == 5 and not test_items & validation_items
    train_items = set(parts["train"]["item_id"])
    assert not train_items & (test_items | validation_items)
    # every interaction with a non-held-out item is in train
    expected_train = interactions[~interactions["item_id"].isin(test_items | validation_items)]
    assert len(parts["train"]) == len(expected_train)
    for phase, held in (("test", test_items), ("validation", validation_items)):
        target, source = parts[f"{phase}_target"], parts[f"{phase}_source"]
        assert set(target["item_id"]) <= held
        assert set(target["user_id"]) == set(source["user_id"])
        assert set(source["item_id"]) <= train_items
        # target = all held-out interactions of users who also have a training history
        with_history = set(parts["train"]["user_id"])
        expected = interactions[interactions["item_id"].isin(held) & interactions["user_id"].isin(with_history)]
        assert len(target) == len(expected)
    summary = json.loads((out / "split.json").read_text())
    assert summary["test_target"]["rows"] == len(parts["test_target"])


def test_item_split_is_deterministic_and_seed_dependent(tmp_path):
    make_dataset(tmp_path)
    runs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        split(
            SplitConfig(test_items=8, validation_items=5, seed=seed),
            tmp_path / "interactions.parquet",
            tmp_path / "items.parquet",
            tmp_path / name,
        )
        runs[name] = read_parts(tmp_path / name)["test_candidates"]["item_id"].tolist()
    assert runs["a"] == runs["b"] != runs["c"]


def test_time_split_uses_the_last_shares(tmp_path):
    interactions = make_dataset(tmp_path, users=80)
    out = tmp_path / "split"
    split(
        SplitConfig(kind="time", test_share=0.2, validation_share=0.2),
        tmp_path / "interactions.parquet",
        tmp_path / "items.parquet",
        out,
    )
    parts = read_parts(out)
    n = len(interactions)
    assert len(parts["train"]) == round(n * 0.6)
    cutoff = parts["train"]["timestamp"].max()
    assert (parts["test_target"]["timestamp"] >= cutoff).all()
    assert parts["test_source"]["timestamp"].max() <= parts["test_target"]["timestamp"].min()
    assert set(parts["test_source"]["user_id"]) == set(parts["test_target"]["user_id"])
    assert len(parts["test_candidates"]) == interactions["item_id"].nunique()


def test_item_and_time_splits_refit_on_everything_before_the_test_phase(tmp_path):
    interactions = make_dataset(tmp_path, users=80)
    for kind in ("item", "time"):
        out = tmp_path / kind
        split(
            SplitConfig(kind=kind, test_items=6, validation_items=6),
            tmp_path / "interactions.parquet",
            tmp_path / "items.parquet",
            out,
        )
        parts = read_parts(out)
        if kind == "item":
            expected = interactions[~interactions["item_id"].isin(parts["test_candidates"]["item_id"])]
        else:
            expected = interactions.iloc[: round(len(interactions) * 0.8)]  # everything before the last 20%
            assert parts["train_full"]["timestamp"].max() <= parts["test_target"]["timestamp"].min()
        assert len(parts["train_full"]) == len(expected) > len(parts["train"])
        assert set(parts["train"].itertuples(index=False)) <= set(parts["train_full"].itertuples(index=False))


def test_user_split_holds_out_whole_users(tmp_path):
    interactions = make_dataset(tmp_path, users=100, items=30)
    out = tmp_path / "split"
    split(
        SplitConfig(kind="user", test_users=20, validation_users=15, target_share=0.25, seed=5),
        tmp_path / "interactions.parquet",
        tmp_path / "items.parquet",
        out,
    )
    parts = read_parts(out)
    test_users, validation_users = set(parts["test_source"]["user_id"]), set(parts["validation_source"]["user_id"])
    assert len(test_users) == 20 and len(validation_users) == 15 and not test_users & validation_users
    assert not set(parts["train"]["user_id"]) & (test_users | validation_users)
    assert set(parts["train_full"]["user_id"]) == set(interactions["user_id"]) - test_users
    for phase, users in (("test", test_users), ("validation", validation_users)):
        source, target = parts[f"{phase}_source"], parts[f"{phase}_target"]
        assert set(target["user_id"]) == users
        for user in users:
            everything = set(interactions.loc[interactions["user_id"] == user, "item_id"])
            history = set(source.loc[source["user_id"] == user, "item_id"])
            held = set(target.loc[target["user_id"] == user, "item_id"])
            assert history | held == everything and not history & held
            assert len(held) == max(1, min(len(everything) - 1, round(0.25 * len(everything))))
        assert len(parts[f"{phase}_candidates"]) == interactions["item_id"].nunique()
    again = tmp_path / "again"
    split(
        SplitConfig(kind="user", test_users=20, validation_users=15, target_share=0.25, seed=5),
        tmp_path / "interactions.parquet",
        tmp_path / "items.parquet",
        again,
    )
    pd.testing.assert_frame_equal(read_parts(again)["test_target"], parts["test_target"])


def test_bad_settings_give_clear_errors(tmp_path):
    make_dataset(tmp_path, items=10)
    with pytest.raises(contract.ContractError, match="only 10 items"):
        split(
            SplitConfig(test_items=8, validation_items=5),
            tmp_path / "interactions.parquet",
            tmp_path / "items.parquet",
            tmp_path / "s",
        )
    assert not (tmp_path / "s").exists()  # nothing half-written
    with pytest.raises(contract.ContractError, match="unknown setting"):
        SplitConfig.from_dict({"kind": "item", "test_item": 3})
    with pytest.raises(contract.ContractError, match="only 60 users"):
        split(
            SplitConfig(kind="user", test_users=40, validation_users=20),
            tmp_path / "interactions.parquet",
            tmp_path / "items.parquet",
            tmp_path / "u",
        )
    pd.DataFrame({"user_id": ["a"], "item_id": ["i1"]}).to_parquet(tmp_path / "no_time.parquet")
    with pytest.raises(contract.ContractError, match="timestamp"):
        split(SplitConfig(kind="time"), tmp_path / "no_time.parquet", tmp_path / "items.parquet", tmp_path / "t")


def test_time_split_with_active_candidates_ranks_only_the_periods_items(tmp_path):
    """The authors' protocol on a toy log, by hand: the last 20% (2 rows) are the test period, the 20% before it
    validation; only users with a history are scored, and only items in the scored users' targets are ranked."""
    rows = [
        ("a", "x"),
        ("b", "y"),
        ("a", "z"),
        ("c", "x"),
        ("b", "u"),
        ("a", "y"),  # train (ts 1-6)
        ("c", "v"),
        ("d", "z"),  # validation period: d has no history, so only c (target v) is scored
        ("a", "w"),
        ("e", "y"),
    ]  # test period: only a (target w) is scored
    interactions = pd.DataFrame(rows, columns=["user_id", "item_id"]).assign(timestamp=range(1, 11))
    contract.write_table(interactions, tmp_path / "interactions.parquet")
    items = sorted(interactions["item_id"].unique())
    contract.write_table(pd.DataFrame({"item_id": items, "text": items}), tmp_path / "items.parquet")
    for candidates in ("all", "active"):
        split(
            SplitConfig(kind="time", test_share=0.2, validation_share=0.2, candidates=candidates),
            tmp_path / "interactions.parquet",
            tmp_path / "items.parquet",
            tmp_path / candidates,
        )
    active, every = read_parts(tmp_path / "active"), read_parts(tmp_path / "all")
    assert active["test_candidates"]["item_id"].tolist() == ["w"]
    assert active["validation_candidates"]["item_id"].tolist() == ["v"]
    assert every["test_candidates"]["item_id"].tolist() == ["u", "v", "w", "x", "y", "z"]
    for part in contract.SPLIT_INTERACTION_PARTS:  # the protocol changes the candidates only
        pd.testing.assert_frame_equal(active[part], every[part])
    assert json.loads((tmp_path / "active" / "split.json").read_text())["config"]["candidates"] == "active"

    # ranked by content: a (history x, z, y) gets w only under 'active', and u, v, w under 'all'
    from beeformer.evaluate.cbf import recommend

    contract.write_embeddings(items, np.eye(len(items), dtype=np.float32), tmp_path / "embeddings.parquet")
    for candidates, expected in (("active", {"w"}), ("all", {"u", "v", "w"})):
        folder = tmp_path / candidates
        predictions = recommend(
            tmp_path / "embeddings.parquet",
            contract.split_file(folder, "test_source"),
            contract.split_file(folder, "test_candidates"),
            folder / "predictions.parquet",
        )
        assert set(predictions.loc[predictions["user_id"] == "a", "item_id"]) == expected


def test_active_candidates_mean_nothing_outside_a_time_split():
    for kind in ("item", "user"):
        with pytest.raises(contract.ContractError, match=r"split\.candidates: 'active' is the authors' time-split"):
            SplitConfig(kind=kind, candidates="active")
    with pytest.raises(contract.ContractError, match="use 'all' or 'active'"):
        SplitConfig(kind="time", candidates="recent")
