"""Tests of the ranking metrics: against RecPack, a brute-force reference, hand-computed values; bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from beeformer.contract.metrics import METRICS, parse_metric, per_user_metrics, summarize


def _predictions(rows: list[tuple[str, str]]) -> pd.DataFrame:
    """Predictions from (user, item) rows listed best first per user."""
    frame = pd.DataFrame(rows, columns=["user_id", "item_id"])
    frame["rank"] = frame.groupby("user_id").cumcount()
    frame["score"] = -frame["rank"].astype(float)
    return frame


def _targets(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id"])


# --------------------------------------------------------------------------- against RecPack


def _top_predictions(scores: np.ndarray, k: int) -> pd.DataFrame:
    """Top-k nonzero scores per user as a predictions table (ids ``u000``, ``i0``)."""
    rows = []
    for user, row in enumerate(scores):
        order = np.argsort(-row, kind="stable")
        order = order[row[order] > 0][:k]
        rows += [(f"u{user:03d}", f"i{item}", row[item], rank) for rank, item in enumerate(order)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "score", "rank"])


def test_matches_recpack() -> None:
    reason = "recpack is not installed (pip install --no-deps recpack==0.3.6)"
    rp = pytest.importorskip("recpack.metrics", reason=reason, exc_type=ImportError)
    rng = np.random.default_rng(0)
    n_users, n_items = 200, 300
    truth = np.zeros((n_users, n_items))
    for user in range(10, n_users):  # users 0-9 have no targets
        truth[user, rng.choice(n_items, size=rng.integers(1, 31), replace=False)] = 1.0
    scores = rng.permutation(n_users * n_items).reshape(n_users, n_items) + 1.0  # no ties, all > 0
    scores[20:40, 60:] = 0.0  # users 20-39 have only 60 predictions
    scores[40:50] = 0.0  # users 40-49 have none
    y_true, y_pred = sp.csr_matrix(truth), sp.csr_matrix(scores)

    predictions = _top_predictions(scores, 100)
    targets = _targets([(f"u{u:03d}", f"i{i}") for u, i in zip(*truth.nonzero(), strict=True)])
    ours = per_user_metrics(
        predictions, targets, ["recall@20", "recall@50", "recall@100", "ndcg@20", "ndcg@50", "ndcg@100"]
    )
    assert list(ours.index) == [f"u{u:03d}" for u in range(10, n_users)]

    max_diff = 0.0
    for k in (20, 50, 100):
        for name, metric in ((f"recall@{k}", rp.CalibratedRecallK(k)), (f"ndcg@{k}", rp.NDCGK(k))):
            metric.calculate(y_true, y_pred)
            theirs = metric.results.set_index("user_id")["score"]
            theirs.index = [f"u{u:03d}" for u in theirs.index]
            assert theirs.index.equals(ours.index)
            max_diff = max(max_diff, abs(ours[name].mean() - metric.value))
            max_diff = max(max_diff, float(np.abs(ours[name].to_numpy() - theirs.to_numpy()).max()))
    assert max_diff < 1e-12
    assert ours.to_numpy().max() > 0.1  # the comparison is not between two vectors of zeros


# --------------------------------------------------------------------------- against a brute-force reference


def _reference(predictions: pd.DataFrame, targets: pd.DataFrame, name: str) -> dict[str, float]:
    """Per-user metric computed by plain loops."""
    kind, k = parse_metric(name)
    relevant: dict[str, set[str]] = {}
    for user, item in zip(targets["user_id"], targets["item_id"], strict=True):
        relevant.setdefault(user, set()).add(item)
    ranking: dict[str, list[tuple[int, str]]] = {}
    columns = (predictions["user_id"], predictions["item_id"], predictions["rank"])
    for user, item, rank in zip(*columns, strict=True):
        ranking.setdefault(user, []).append((int(rank), item))
    result = {}
    for user, items in relevant.items():
        top = [item for rank, item in sorted(ranking.get(user, [])) if rank < k]
        n_ideal = min(k, len(items))
        if kind == "recall":
            result[user] = sum(item in items for item in top) / n_ideal
        else:
            dcg = sum(1 / math.log2(pos + 2) for pos, item in enumerate(top) if item in items)
            result[user] = dcg / sum(1 / math.log2(pos + 2) for pos in range(n_ideal))
    return result


def test_matches_brute_force_reference() -> None:
    rng = np.random.default_rng(1)
    items = [f"item{i}" for i in range(60)]
    target_rows, prediction_rows = [], []
    for user in range(80):
        uid = f"user{user}"
        if user % 10 != 9:  # every tenth user has predictions but no targets
            n_targets = 25 if user % 7 == 0 else int(rng.integers(1, 8))  # some have more targets than K
            target_rows += [(uid, item) for item in rng.choice(items, size=n_targets, replace=False)]
        if user % 10 != 3:  # some users with targets have no predictions
            n_predictions = int(rng.integers(1, 25))  # often fewer than K
            prediction_rows += [(uid, item) for item in rng.choice(items, size=n_predictions, replace=False)]
    target_rows += target_rows[:5]  # duplicated targets count once
    prediction_rows += [("stranger", "item0"), ("user0", "unknown-item")]
    predictions = _predictions(prediction_rows).sample(frac=1.0, random_state=0)  # row order is irrelevant
    targets = _targets(target_rows)

    names = ["recall@1", "recall@5", "recall@20", "ndcg@3", "ndcg@10", "ndcg@20"]
    ours = per_user_metrics(predictions, targets, names)
    assert list(ours.columns) == names
    assert ours.index.name == "user_id"
    assert set(ours.index) == set(targets["user_id"])
    assert ours.loc["user3"].eq(0.0).all()
    for name in names:
        expected = _reference(predictions, targets, name)
        reference = [expected[user] for user in ours.index]
        np.testing.assert_allclose(ours[name].to_numpy(), reference, rtol=0, atol=1e-12)
    assert ours.to_numpy().max() > 0.5


# --------------------------------------------------------------------------- hand-computed examples


def test_hand_computed_example() -> None:
    predictions = _predictions([("u", "x"), ("u", "a"), ("u", "y"), ("u", "b"), ("v", "c"), ("v", "d")])
    targets = _targets([("u", "a"), ("u", "b"), ("v", "c"), ("v", "d"), ("v", "e"), ("w", "a")])
    result = per_user_metrics(predictions, targets, ["recall@1", "recall@2", "recall@4", "ndcg@2", "ndcg@4"])
    log3, log5 = math.log2(3), math.log2(5)
    assert result.loc["u", "recall@1"] == 0.0
    assert result.loc["u", "recall@2"] == pytest.approx(0.5)
    assert result.loc["u", "recall@4"] == pytest.approx(1.0)
    assert result.loc["u", "ndcg@2"] == pytest.approx((1 / log3) / (1 + 1 / log3))
    assert result.loc["u", "ndcg@4"] == pytest.approx((1 / log3 + 1 / log5) / (1 + 1 / log3))
    # v: 3 targets, hits at ranks 0 and 1
    assert result.loc["v", "recall@1"] == pytest.approx(1.0)
    assert result.loc["v", "recall@2"] == pytest.approx(1.0)
    assert result.loc["v", "recall@4"] == pytest.approx(2 / 3)
    assert result.loc["v", "ndcg@2"] == pytest.approx(1.0)
    assert result.loc["v", "ndcg@4"] == pytest.approx((1 + 1 / log3) / (1 + 1 / log3 + 0.5))
    assert result.loc["w"].eq(0.0).all()  # no predictions


def test_item_predicted_twice_counts_once_at_its_best_rank() -> None:
    predictions = pd.DataFrame({"user_id": ["u"] * 3, "item_id": ["x", "a", "a"], "rank": [1, 2, 0]})
    result = per_user_metrics(predictions, _targets([("u", "a"), ("u", "b")]), ["recall@3", "ndcg@3"])
    assert result.loc["u", "recall@3"] == pytest.approx(0.5)
    assert result.loc["u", "ndcg@3"] == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_default_metrics_and_rank_not_position_of_row() -> None:
    predictions = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["a", "x"], "score": [0.1, 0.9], "rank": [60, 0]})
    result = per_user_metrics(predictions, _targets([("u", "a")]))
    assert list(result.columns) == list(METRICS)
    assert result.loc["u", "recall@20"] == 0.0
    assert result.loc["u", "recall@50"] == 0.0
    assert result.loc["u", "ndcg@100"] == pytest.approx(1 / math.log2(62))


@pytest.mark.parametrize(
    "name", ["precision@10", "recall", "recall@0", "recall@x", "ndcg@-1", "ndcg@2.5", "@5", "ndcg@ 5"]
)
def test_bad_metric_names(name: str) -> None:
    with pytest.raises(ValueError, match=r"unknown metric|bad K"):
        parse_metric(name)
    with pytest.raises(ValueError):
        per_user_metrics(_predictions([("u", "a")]), _targets([("u", "a")]), [name])


def test_bad_inputs() -> None:
    targets = _targets([("u", "a")])
    with pytest.raises(ValueError, match="rank"):
        per_user_metrics(pd.DataFrame({"user_id": ["u"], "item_id": ["a"]}), targets)
    with pytest.raises(ValueError, match="integer"):
        per_user_metrics(pd.DataFrame({"user_id": ["u"], "item_id": ["a"], "rank": [0.5]}), targets)
    with pytest.raises(ValueError, match=">= 0"):
        per_user_metrics(pd.DataFrame({"user_id": ["u"], "item_id": ["a"], "rank": [-1]}), targets)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_standard_error() -> None:
    rng = np.random.default_rng(2)
    n = 20_000
    # sorted values: resampling only part of the users would shrink the error
    per_user = pd.DataFrame({"recall@20": np.sort(rng.random(n)), "ndcg@100": rng.exponential(size=n), "flat": 0.5})
    summary = summarize(per_user, n_bootstrap=500, seed=7)
    assert list(summary) == ["recall@20", "ndcg@100", "flat"]
    for name in ("recall@20", "ndcg@100"):
        values = per_user[name].to_numpy()
        assert summary[name]["users"] == n
        assert summary[name]["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert summary[name]["se"] == pytest.approx(values.std(ddof=1) / math.sqrt(n), rel=0.1)
    assert summary["flat"]["se"] == pytest.approx(0.0, abs=1e-15)

    assert summarize(per_user, n_bootstrap=500, seed=7) == summary
    other = summarize(per_user, n_bootstrap=500, seed=8)
    assert other["recall@20"]["se"] != summary["recall@20"]["se"]
    assert other["recall@20"]["mean"] == summary["recall@20"]["mean"]


def test_bootstrap_bad_inputs() -> None:
    with pytest.raises(ValueError, match="n_bootstrap"):
        summarize(pd.DataFrame({"recall@20": [0.1, 0.2]}), n_bootstrap=1)
    with pytest.raises(ValueError, match="no users"):
        summarize(pd.DataFrame({"recall@20": pd.Series([], dtype=float)}))
