"""Heater: content path close to the CF path on warm items, cold items scored from content, determinism, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from beeformer.baselines.base import BaselineError, FitData, Queries
from beeformer.baselines.heater import Heater, Pairs

CLUSTERS = 3
#: Small and quick; the reference's defaults otherwise.
SETTINGS = {"factors": 16, "experts": 3, "rank_out": 32, "batch_size": 256, "lr": 0.05, "epochs": 10}


@dataclasses.dataclass(frozen=True)
class Clustered:
    """Users who interact only with the items of their cluster; an item's content is its cluster's centre + noise."""

    interactions: pd.DataFrame
    content: tuple[np.ndarray, np.ndarray]
    cluster: pd.Series  # of every user and item id
    cold: pd.Series  # item ids held out of the fit data


def clustered(n_users: int = 150, n_items: int = 150, per_user: int = 15, dim: int = 16) -> Clustered:
    rng = np.random.default_rng(0)
    item_ids = np.array([f"i{i}" for i in range(n_items)])
    user_ids = np.array([f"u{u}" for u in range(n_users)])
    item_cluster, user_cluster = np.arange(n_items) % CLUSTERS, np.arange(n_users) % CLUSTERS
    embeddings = 3 * rng.normal(size=(CLUSTERS, dim))[item_cluster] + rng.normal(size=(n_items, dim))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    rows = [
        (user, item)
        for user, c in zip(user_ids, user_cluster, strict=True)
        for item in rng.choice(item_ids[item_cluster == c], per_user, replace=False)
    ]
    return Clustered(
        interactions=pd.DataFrame(rows, columns=["user_id", "item_id"]),
        content=(item_ids.astype(object), embeddings.astype(np.float32)),
        cluster=pd.Series(np.concatenate([user_cluster, item_cluster]), index=[*user_ids, *item_ids]),
        cold=pd.Series(item_ids[::5]),
    )


@pytest.fixture(scope="module")
def data() -> Clustered:
    return clustered()


def fit_data(data: Clustered) -> FitData:
    return FitData.build(data.interactions[~data.interactions["item_id"].isin(data.cold)])


def fitted(data: Clustered, seed: int = 0, **settings: object) -> Heater:
    model = Heater(content=data.content, seed=seed, threads=1, **{**SETTINGS, **settings})
    model.fit(fit_data(data))
    return model


def queries(data: Clustered, candidates: pd.Series) -> Queries:
    fit = fit_data(data)
    return Queries.build(fit, data.interactions[data.interactions["item_id"].isin(fit.item_ids)], candidates)


def scores(model: Heater, query: Queries) -> np.ndarray:
    return model.scorer(query)(0, len(query.user_ids))


@pytest.fixture(scope="module", params=["bpr", "als"])
def model(data: Clustered, request: pytest.FixtureRequest) -> Heater:
    return fitted(data, cf=request.param)


def test_content_path_agrees_with_cf_path_on_warm_items(data: Clustered, model: Heater) -> None:
    warm = queries(data, pd.Series(fit_data(data).item_ids))
    through_content = dataclasses.replace(warm, candidate_cols=np.full(len(warm.candidate_cols), -1))
    cf, content = scores(model, warm), scores(model, through_content)
    agreement = [np.corrcoef(a, b)[0, 1] for a, b in zip(cf, content, strict=True)]
    assert np.mean(agreement) > 0.8


def test_cold_items_are_scored_from_content(data: Clustered, model: Heater) -> None:
    query = queries(data, data.cold)
    top = np.argsort(-scores(model, query), axis=1)[:, :5]
    same_cluster = data.cluster[query.candidate_ids[top].ravel()].to_numpy() == np.repeat(
        data.cluster[query.user_ids].to_numpy(), top.shape[1]
    )
    assert same_cluster.mean() > 0.9  # chance: 1 / CLUSTERS


def test_pairs_of_an_epoch() -> None:
    X = sp.coo_matrix(np.eye(7, dtype=np.float32))
    pairs = Pairs.sample(X, neg=2, dropout=0.5, batch_size=4, generator=torch.Generator().manual_seed(0))
    assert pairs.targets.sum() == 7 and len(pairs.targets) == 21
    assert [(b.start, b.stop) for b in pairs.batches] == [(0, 4), (4, 8), (8, 12), (12, 16), (16, 20)]  # not 1 pair
    assert [int(pairs.from_content[b].sum()) for b in pairs.batches] == [2] * 5
    positives = pairs.targets == 1
    assert torch.equal(pairs.users[positives], pairs.items[positives])


def test_same_seed_same_scores(data: Clustered) -> None:
    query = queries(data, pd.concat([data.cold, pd.Series(["i1", "i2"])]))
    first, again, other = (scores(fitted(data, seed, epochs=2), query) for seed in (1, 1, 2))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_refuses_queries_without_a_fit_user(data: Clustered, model: Heater) -> None:
    strangers = pd.DataFrame({"user_id": ["x1", "x2"], "item_id": ["i1", "i2"]})
    with pytest.raises(BaselineError, match="none of the 2 users"):
        model.scorer(Queries.build(fit_data(data), strangers, data.cold))
    mixed = Queries.build(fit_data(data), pd.concat([strangers, data.interactions[:1]]), data.cold)
    assert np.isfinite(scores(model, mixed)).all()  # a stranger among fit users: the zero CF vector


def test_names_a_candidate_without_content(data: Clustered, model: Heater) -> None:
    with pytest.raises(BaselineError, match="'nowhere'"):
        model.scorer(queries(data, pd.concat([data.cold, pd.Series(["nowhere"])])))


def test_names_a_fit_item_without_content(data: Clustered) -> None:
    ids, embeddings = data.content
    model = Heater(content=(ids[ids != "i1"], embeddings[ids != "i1"]), **SETTINGS)
    with pytest.raises(BaselineError, match="'i1'"):
        model.fit(fit_data(data))


@pytest.mark.parametrize(("settings", "message"), [({"gates": 3}, "unknown setting"), ({"dropout": 2}, "dropout")])
def test_refuses_bad_settings(data: Clustered, settings: dict[str, object], message: str) -> None:
    with pytest.raises(BaselineError, match=message):
        Heater(content=data.content, **settings)
