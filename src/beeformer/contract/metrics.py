"""Top-K ranking metrics per user (RecPack definitions) and their bootstrap standard errors.

- ``recall@K`` is RecPack's ``CalibratedRecallK``: hits in the top K / min(K, number of targets).
- ``ndcg@K`` is RecPack's ``NDCGK``: DCG@K / IDCG, the ideal DCG of min(K, number of targets) hits,
  with discount 1 / log2(rank + 2) for the 0-based ``rank`` of the predictions.

Every user with at least one target is scored; a user without predictions scores 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

METRICS: tuple[str, ...] = ("recall@20", "recall@50", "ndcg@100")
#: The validation metric that picks training steps and baseline settings, predictions kept per user (the largest
#: K of the metrics), bootstrap resamples and seed: the stages' defaults.
SELECT_BY = METRICS[0]
K = 100
N_BOOTSTRAP = 1000
SEED = 42
METRIC_KINDS = ("recall", "ndcg")

#: Bootstrap resamples are drawn in blocks of at most this many user draws (about 32 MB per array).
BOOTSTRAP_BLOCK_VALUES = 1 << 22
BOOTSTRAP_MAX_BLOCK = 100


def parse_metric(name: str) -> tuple[str, int]:
    """Split ``"<kind>@<K>"`` into its kind and K; raise ``ValueError`` for anything else."""
    kind, sep, k_text = name.partition("@")
    if not sep or kind not in METRIC_KINDS:
        raise ValueError(f"unknown metric {name!r}: expected '<kind>@<K>' with kind in {METRIC_KINDS}")
    if not k_text.isdecimal() or int(k_text) < 1:
        raise ValueError(f"bad K in metric {name!r}: K must be a positive integer")
    return kind, int(k_text)


def _check_columns(frame: pd.DataFrame, required: Sequence[str], what: str) -> None:
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; found {list(frame.columns)}")


def _codes(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each value in ``index``, -1 where absent (factorizing first is fast for Arrow strings)."""
    codes, uniques = pd.factorize(values)
    return np.append(index.get_indexer(uniques), -1)[codes]  # code -1 (a missing value) maps to -1


def per_user_metrics(
    predictions: pd.DataFrame, targets: pd.DataFrame, metrics: Sequence[str] = METRICS
) -> pd.DataFrame:
    """One row per user who has at least one target: index user_id, one column per metric.

    ``predictions`` has user_id, item_id and rank (0 = best, no ties); ``targets`` has user_id and
    item_id (duplicates count once). Prediction rows of users without targets are ignored.
    """
    parsed = [parse_metric(name) for name in metrics]
    if not parsed:
        raise ValueError("no metrics requested")
    if len(set(metrics)) != len(metrics):
        raise ValueError(f"duplicate metric names in {list(metrics)}")
    _check_columns(predictions, ("user_id", "item_id", "rank"), "predictions")
    _check_columns(targets, ("user_id", "item_id"), "targets")
    max_k = max(k for _, k in parsed)

    # Integer codes: users sorted by id, items of the targets; a (user, item) pair becomes one int64 key.
    target_pairs = targets[["user_id", "item_id"]].drop_duplicates()
    target_user, users = pd.factorize(target_pairs["user_id"], sort=True)
    target_item, items = pd.factorize(target_pairs["item_id"])
    n_users, n_items = len(users), len(items)
    n_targets = np.bincount(target_user, minlength=n_users)
    target_keys = pd.Index(target_user.astype(np.int64) * n_items + target_item)

    rank = predictions["rank"].to_numpy()
    if not np.issubdtype(rank.dtype, np.integer):
        raise ValueError(f"predictions: rank must be integer, got dtype {rank.dtype}")
    if rank.size and rank.min() < 0:
        raise ValueError("predictions: rank must be >= 0 (0 = best)")
    in_top = rank < max_k
    pred_user = _codes(predictions["user_id"], users)[in_top]
    pred_item = _codes(predictions["item_id"], items)[in_top]
    rank = rank[in_top]
    known = (pred_user >= 0) & (pred_item >= 0)
    pred_keys = pred_user[known].astype(np.int64) * n_items + pred_item[known]
    is_hit = target_keys.get_indexer(pred_keys) >= 0
    hit_keys, hit_rank = pred_keys[is_hit], rank[known][is_hit]

    # An item predicted twice for a user is a hit once, at its best rank.
    order = np.lexsort((hit_rank, hit_keys))
    hit_keys, hit_rank = hit_keys[order], hit_rank[order]
    first = np.ones(hit_keys.size, dtype=bool)
    first[1:] = hit_keys[1:] != hit_keys[:-1]
    hit_user, hit_rank = hit_keys[first] // n_items, hit_rank[first]

    discount = 1.0 / np.log2(np.arange(max_k) + 2.0)
    ideal_dcg = np.cumsum(discount)
    hit_discount = discount[hit_rank]
    columns: dict[str, np.ndarray] = {}
    for name, (kind, k) in zip(metrics, parsed, strict=True):
        in_k = hit_rank < k
        n_ideal = np.minimum(k, n_targets)
        if kind == "recall":
            columns[name] = np.bincount(hit_user[in_k], minlength=n_users) / n_ideal
        else:
            dcg = np.bincount(hit_user[in_k], weights=hit_discount[in_k], minlength=n_users)
            columns[name] = dcg / ideal_dcg[n_ideal - 1]
    return pd.DataFrame(columns, index=pd.Index(users, name="user_id"))


def resample_means(values: np.ndarray, n_bootstrap: int, seed: int) -> np.ndarray:
    """``n_bootstrap x columns``: column means of the rows (users) resampled with replacement, the same draws for
    every column; deterministic for a ``seed``. Resamples are drawn in blocks, as per-user counts."""
    if n_bootstrap < 2:
        raise ValueError(f"n_bootstrap must be at least 2, got {n_bootstrap}")
    values = np.asarray(values, dtype=np.float64)
    n_users, n_columns = values.shape
    if n_users == 0:
        raise ValueError("no users to resample")
    rng = np.random.default_rng(seed)
    block = max(1, min(BOOTSTRAP_MAX_BLOCK, BOOTSTRAP_BLOCK_VALUES // n_users))
    means = np.empty((n_bootstrap, n_columns))
    for start in range(0, n_bootstrap, block):
        size = min(block, n_bootstrap - start)
        sample = rng.integers(0, n_users, size=(size, n_users))
        sample += np.arange(size)[:, None] * n_users  # resample r counts its users in row r
        counts = np.bincount(sample.ravel(), minlength=size * n_users).reshape(size, n_users)
        means[start : start + size] = counts.astype(np.float64) @ values / n_users
    return means


def summarize(per_user: pd.DataFrame, n_bootstrap: int = N_BOOTSTRAP, seed: int = SEED) -> dict[str, dict[str, float]]:
    """metric -> {"mean": ..., "se": bootstrap standard error over users, "users": n}.

    The same resampled users serve every metric; ``se`` is the standard deviation (ddof=1) of the means
    of ``n_bootstrap`` resamples drawn with replacement (:func:`resample_means`).
    """
    if per_user.empty:
        raise ValueError("no users to summarize")
    values = per_user.to_numpy(dtype=np.float64)
    se = resample_means(values, n_bootstrap, seed).std(axis=0, ddof=1)
    return {
        str(name): {"mean": float(values[:, j].mean()), "se": float(se[j]), "users": len(values)}
        for j, name in enumerate(per_user.columns)
    }
