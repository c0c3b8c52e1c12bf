"""Negative sampling, the synthetic shop, and training data assembly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from beeformer import contract
from beeformer.data.synthetic import MISSIONS, SyntheticConfig, generate
from beeformer.train.sampling import sample_items
from beeformer.train.trainer import TrainingData


def make_matrix():
    rows = [0, 0, 1, 2, 2, 2]
    cols = [1, 3, 3, 0, 5, 6]
    return sp.csr_matrix((np.ones(6, np.float32), (rows, cols)), shape=(3, 20))


def test_m_is_a_floor_and_positives_come_first():
    X = make_matrix()
    batch = sample_items(X, np.array([0, 2]), m=10, rng=np.random.default_rng(0))
    assert batch.n_positive_items == 5 and list(batch.items[:5]) == [0, 1, 3, 5, 6]
    assert len(batch.items) == 10
    assert batch.X.shape == (2, 10)
    assert batch.X[:, 5:].sum() == 0
    assert batch.X[0, :5].tolist() == [0, 1, 1, 0, 0] and batch.X[1, :5].tolist() == [1, 0, 0, 1, 1]
    # more touched items than m: all are kept, plus at least one negative (the authors' code)
    small = sample_items(X, np.array([0, 1, 2]), m=2, rng=np.random.default_rng(0))
    assert small.n_positive_items == 5 and len(small.items) == 6


def test_official_negatives_never_duplicate_a_touched_item():
    """The authors' dataloader masks the batch's items before sampling: no positive is ever drawn as a negative."""
    X = make_matrix()  # users 0 and 2 touch items {0, 1, 3, 5, 6} of 20
    rng = np.random.default_rng(0)
    drawn = set()
    for _ in range(200):
        batch = sample_items(X, np.array([0, 2]), m=40, rng=rng, negatives="official")
        negatives = batch.items[batch.n_positive_items :]
        assert len(negatives) == 35  # with replacement: m - 5 draws
        drawn |= set(negatives.tolist())
    assert drawn == set(range(20)) - {0, 1, 3, 5, 6}  # every untouched item, and only those
    # a batch that touched the whole catalogue has nothing to draw from
    full = sp.csr_matrix(np.ones((2, 4), np.float32))
    batch = sample_items(full, np.array([0, 1]), m=10, rng=rng, negatives="official")
    assert batch.n_positive_items == 4 and len(batch.items) == 4


def test_paper_negatives_are_distinct_and_untouched():
    X = make_matrix()
    batch = sample_items(X, np.array([0, 2]), m=12, rng=np.random.default_rng(1), negatives="paper")
    negatives = batch.items[batch.n_positive_items :]
    assert len(negatives) == 7 and len(set(negatives)) == 7
    assert not set(negatives) & {0, 1, 3, 5, 6}


def test_synthetic_shop_is_deterministic_and_links_unlike_items():
    config = SyntheticConfig(n_users=200)
    interactions, items = generate(config)
    again, _ = generate(config)
    pd.testing.assert_frame_equal(interactions, again)
    assert len(items) == sum(len(p) for p in MISSIONS.values()) * config.variants_per_product
    assert items["item_id"].is_unique and interactions["item_id"].isin(items["item_id"]).all()
    assert not interactions.duplicated(["user_id", "item_id"]).any()
    # co-consumption follows missions: a headlamp is bought with tents far more than with desk lamps
    text = items.set_index("item_id")["text"]
    basket = interactions.assign(text=interactions["item_id"].map(text))

    def buyers(word):
        return set(basket.loc[basket["text"].str.contains(word), "user_id"])

    headlamp = buyers("headlamp")
    assert len(headlamp & buyers("dome tent")) > 3 * len(headlamp & buyers("desk lamp"))


def test_training_data_keeps_datasets_apart(tmp_path):
    for name in ("a", "b"):
        contract.write_table(
            pd.DataFrame({"user_id": ["1", "1", "2"], "item_id": ["x", "y", "x"]}), tmp_path / f"{name}_train.parquet"
        )
        contract.write_table(
            pd.DataFrame({"item_id": ["x", "y", "z"], "text": ["t x", "t y", "t z"]}),
            tmp_path / f"{name}_items.parquet",
        )
    data = TrainingData.load(
        [(n, tmp_path / f"{n}_train.parquet", tmp_path / f"{n}_items.parquet") for n in ("a", "b")]
    )
    assert data.X.shape == (4, 4)  # 2 users and 2 items (z has no interactions) per dataset
    assert list(data.item_ids) == ["a:x", "a:y", "b:x", "b:y"]
    assert data.X.sum() == 6


def three_sources(tmp_path, users: dict[str, int]) -> TrainingData:
    """Sources named as given (listed in another order than their ids sort), each with ``users[name]`` users
    who touch 2 of its 6 items."""
    rng = np.random.default_rng(0)
    for name, n in users.items():
        rows = [(f"u{u}", f"i{i}") for u in range(n) for i in rng.choice(6, size=2, replace=False)]
        contract.write_table(pd.DataFrame(rows, columns=["user_id", "item_id"]), tmp_path / f"{name}_train.parquet")
        items = pd.DataFrame({"item_id": [f"i{i}" for i in range(6)], "text": [f"{name} {i}" for i in range(6)]})
        contract.write_table(items, tmp_path / f"{name}_items.parquet")
    return TrainingData.load(three_sources_of(tmp_path, tuple(users)))


def three_sources_of(tmp_path, names: tuple[str, ...]) -> list[tuple[str, object, object]]:
    """The (name, train, items) files that ``three_sources`` wrote."""
    return [(n, tmp_path / f"{n}_train.parquet", tmp_path / f"{n}_items.parquet") for n in names]


def test_sources_taking_turns_cut_each_epoch_into_single_source_batches_of_their_own_size(tmp_path):
    users = {"goodbooks": 50, "amazon": 300, "movielens": 12}
    sizes = {"goodbooks": 4, "amazon": 64, "movielens": 4}
    data = three_sources(tmp_path, users)
    batches = data.batches(sizes)
    owner = {
        u: str(data_user).split(":")[0]
        for u, data_user in enumerate(sorted(f"{n}:u{i}" for n in users for i in range(users[n])))
    }
    assert batches.steps_per_epoch == 13 + 5 + 3  # ceil(50/4) + ceil(300/64) + ceil(12/4)
    rng = np.random.default_rng(1)
    for _ in range(2):  # two epochs
        order = batches.epoch_order(rng)
        steps = [batches.batch(order, i) for i in range(batches.steps_per_epoch)]
        assert sorted(np.concatenate(steps)) == list(range(362))  # every user exactly once an epoch
        names = []
        for step in steps:
            [name] = {owner[int(u)] for u in step}  # one source a step
            names.append(name)
            full = {"goodbooks": 48, "amazon": 256, "movielens": 12}[name]  # the users that fill whole batches
            assert len(step) == sizes[name] or len(step) == users[name] - full  # its own size, or its last
            items = batches.negatives_of(step)  # negatives from the source's own items
            assert {str(data.item_ids[i]).split(":")[0] for i in items} == {name}
            batch = sample_items(data.X, step, 10, rng, catalogue=items)
            assert {str(data.item_ids[i]).split(":")[0] for i in batch.items} == {name}
        # each source's steps are spread over the epoch: its mean position is near the middle
        for name in users:
            where = [i for i, n in enumerate(names) if n == name]
            assert abs(np.mean(where) / (len(names) - 1) - 0.5) < 0.1, (name, where)
    # one number: pooled, one permutation of every user (the paper's goodlens)
    pooled = data.batches(8)
    assert pooled.steps_per_epoch == 46
    order = pooled.epoch_order(np.random.default_rng(1))
    assert np.array_equal(order, np.random.default_rng(1).permutation(362))
    assert np.array_equal(pooled.batch(order, 45), order[360:])


def test_a_batch_size_per_source_must_name_every_source(tmp_path):
    data = three_sources(tmp_path, {"a": 5, "b": 5})
    no_texts = tmp_path / "c_items.parquet"
    contract.write_table(pd.DataFrame({"item_id": ["other"], "text": ["t"]}), no_texts)
    with_empty = TrainingData.load(
        [*three_sources_of(tmp_path, ("a", "b")), ("c", tmp_path / "a_train.parquet", no_texts)]
    )
    with pytest.raises(contract.ContractError, match=r"\['c'\] have no training interactions with item texts"):
        with_empty.batches({"a": 4, "b": 4, "c": 4})
    for bad, message in (
        ({"a": 4}, r"must give users per step for each source of this run, \['a', 'b'\]"),
        ({"a": 4, "b": 4, "c": 1}, "must give users per step for each source"),
        ({"a": 4, "b": 0}, r"\{'b': 0\}: users per step must be positive integers"),
    ):
        with pytest.raises(contract.ContractError, match=message):
            data.batches(bad)
