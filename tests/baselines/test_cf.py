"""Collaborative-filtering baselines against hand-computed answers and independent dense computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from beeformer.baselines.base import BaselineError, FitData, Queries
from beeformer.baselines.cf import ALS, EASE, ELSA, SANSA, ElsaRec, ItemKNN, Popularity


def fit_data(dense: np.ndarray) -> FitData:
    users, items = np.nonzero(dense)
    frame = pd.DataFrame({"user_id": [f"u{u:03d}" for u in users], "item_id": [f"i{i:02d}" for i in items]})
    return FitData.build(frame)


def queries_for(fit: FitData, history: dict[str, list[str]], candidates: list[str]) -> Queries:
    source = pd.DataFrame(
        [(user, item) for user, items in history.items() for item in items], columns=["user_id", "item_id"]
    )
    return Queries.build(fit, source, pd.Series(candidates))


def random_interactions(n_users: int = 60, n_items: int = 25, density: float = 0.2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < density).astype(np.float64)
    dense[np.arange(n_items) % n_users, np.arange(n_items)] = 1.0  # every item has an interaction
    return dense


def all_scores(model, fit: FitData, dense_history: np.ndarray) -> np.ndarray:
    """Scores of users with the given histories (over fit items) for every fit item."""
    history = {f"q{u:03d}": [fit.item_ids[i] for i in np.flatnonzero(row)] for u, row in enumerate(dense_history)}
    queries = queries_for(fit, history, list(fit.item_ids))
    return model.scorer(queries)(0, len(queries.user_ids))


def test_itemknn_cosine_neighbours_by_hand():
    # users x items: i0 and i1 co-occur twice, i0 and i2 once, i3 alone
    dense = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 0]], dtype=float)
    fit = fit_data(dense)
    model = ItemKNN(neighbors=1)
    model.fit(fit)
    counts = dense.sum(0)  # 3, 2, 2, 1
    cosine = dense.T @ dense / np.sqrt(np.outer(counts, counts))
    np.fill_diagonal(cosine, 0)
    S = model.similarity.toarray()
    assert S[0, 1] == pytest.approx(2 / np.sqrt(6))  # i0's best neighbour is i1
    assert S[1, 0] == pytest.approx(2 / np.sqrt(6))
    assert S[3, 2] == pytest.approx(1 / np.sqrt(2))  # i3's only neighbour
    assert (np.count_nonzero(S, axis=1) <= 1).all()
    kept = S > 0
    np.testing.assert_allclose(S[kept], cosine[kept], rtol=1e-6)

    model = ItemKNN(neighbors=3)
    model.fit(fit)
    np.testing.assert_allclose(model.similarity.toarray(), cosine, rtol=1e-6)
    history = np.array([[1, 0, 0, 1]], dtype=float)
    np.testing.assert_allclose(all_scores(model, fit, history)[0], (history @ cosine)[0], rtol=1e-5)


def test_itemknn_asymmetric_and_shrunk_similarity():
    dense = random_interactions()
    fit = fit_data(dense)
    model = ItemKNN(neighbors=dense.shape[1], alpha=0.8, shrink=3.0)
    model.fit(fit)
    counts = dense.sum(0)
    expected = dense.T @ dense / (counts[:, None] ** 0.8 * counts[None, :] ** 0.2 + 3.0)
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(model.similarity.toarray(), expected, rtol=1e-5)


def test_ease_is_the_constrained_least_squares_solution():
    dense = random_interactions()
    fit = fit_data(dense)
    l2 = 7.0
    model = EASE(l2=l2)
    model.fit(fit)
    B = model.weights.astype(np.float64)
    assert np.allclose(np.diag(B), 0)
    # KKT of min ||X - XB||² + l2 ||B||² s.t. diag(B) = 0: (XᵀX + l2 I) B - XᵀX is diagonal
    gram = dense.T @ dense
    residual = (gram + l2 * np.eye(len(gram))) @ B - gram
    off_diagonal = residual - np.diag(np.diag(residual))
    assert np.abs(off_diagonal).max() < 1e-4 * np.abs(gram).max()
    history = dense[:5]
    np.testing.assert_allclose(all_scores(model, fit, history), history @ B, rtol=1e-4, atol=1e-5)


def test_ease_refuses_more_items_than_allowed():
    with pytest.raises(BaselineError, match="max_items"):
        EASE(max_items=10).fit(fit_data(random_interactions()))


def confidence(X: np.ndarray, alpha: float) -> np.ndarray:
    """implicit's confidence: alpha x the value where there is an interaction, 1 elsewhere."""
    return np.where(X > 0, alpha * X, 1.0)


def implicit_als_objective(X: np.ndarray, U: np.ndarray, V: np.ndarray, alpha: float, l2: float) -> float:
    """Hu et al. (2008): sum of c (p - uᵀv)² + l2 (|U|² + |V|²), p = 1 where there is an interaction."""
    return float((confidence(X, alpha) * ((X > 0) - U @ V.T) ** 2).sum() + l2 * ((U**2).sum() + (V**2).sum()))


def test_als_loss_falls_and_fold_in_is_the_least_squares_user():
    dense = random_interactions(n_users=80, n_items=30)
    fit = fit_data(dense)
    settings = {"factors": 6, "regularization": 0.1, "alpha": 2.0}
    losses = []
    for iterations in (1, 3, 15):
        model = ALS(iterations=iterations, seed=3, **settings)
        model.fit(fit)
        losses.append(implicit_als_objective(dense, model.model.user_factors, model.model.item_factors, 2.0, 0.1))
    assert losses[0] > losses[1] > losses[2]

    Y = model.model.item_factors.astype(np.float64)
    history = dense[:4]
    expected = []
    for row in history:
        c = confidence(row, 2.0)
        A = Y.T @ (c[:, None] * Y) + 0.1 * np.eye(Y.shape[1])
        expected.append(np.linalg.solve(A, Y.T @ (c * row)) @ Y.T)
    np.testing.assert_allclose(all_scores(model, fit, history), np.array(expected), rtol=1e-3, atol=1e-3)


def clustered_interactions(seed: int = 0) -> np.ndarray:
    """Two groups of users, each consuming only its own half of the items."""
    rng = np.random.default_rng(seed)
    dense = np.zeros((200, 20))
    dense[:100, :10] = rng.random((100, 10)) < 0.5
    dense[100:, 10:] = rng.random((100, 10)) < 0.5
    return dense


@pytest.mark.parametrize("cls", [ELSA, ElsaRec])
def test_elsa_learns_the_clusters_and_reports_epochs(cls):
    dense = clustered_interactions()
    fit = fit_data(dense)
    epochs = []
    model = cls(factors=4, epochs=3, batch_size=32, lr=0.1)
    model.fit(fit, on_epoch=epochs.append)
    assert epochs == [1, 2, 3]
    history = np.zeros((2, 20))
    history[0, :2] = history[1, 10:12] = 1
    scores = all_scores(model, fit, history)
    assert scores[0, 2:10].min() > scores[0, 10:].max()
    assert scores[1, 12:].min() > scores[1, :10].max()


def test_popularity_counts_and_cold_candidates_get_minus_infinity():
    dense = np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1]], dtype=float)
    fit = fit_data(dense)
    model = Popularity()
    model.fit(fit)
    queries = queries_for(fit, {"x": ["i02"]}, ["i00", "i01", "i02", "new"])
    scores = model.scorer(queries)(0, 1)
    np.testing.assert_array_equal(scores[0, :3], [3, 1, 1])
    assert scores[0, 3] == -np.inf
    assert queries.seen.toarray().tolist() == [[0, 0, 1, 0]]  # the history item is masked when ranking


def test_sansa_approximates_ease():
    pytest.importorskip("sansa", reason="sansa needs SuiteSparse (README, 'Quick start')")
    dense = random_interactions(n_users=300, n_items=40, density=0.15)
    fit = fit_data(dense)
    ease, sansa = EASE(l2=20.0), SANSA(l2=20.0, weight_matrix_density=1.0)
    ease.fit(fit)
    sansa.fit(fit)
    history = dense[:50]
    a, b = all_scores(ease, fit, history), all_scores(sansa, fit, history)
    unseen = history == 0  # SANSA keeps EASE's "- x" on the history items, which ranking masks
    assert np.corrcoef(a[unseen], b[unseen])[0, 1] > 0.99
    a[~unseen], b[~unseen] = -np.inf, -np.inf
    top_a, top_b = np.argsort(-a, axis=1)[:, :5], np.argsort(-b, axis=1)[:, :5]
    overlap = np.mean([len(set(x) & set(y)) / 5 for x, y in zip(top_a, top_b, strict=True)])
    assert overlap > 0.9


def test_unknown_setting_is_named():
    with pytest.raises(BaselineError, match=r"itemknn: unknown setting\(s\) \['neighbours'\]"):
        ItemKNN(neighbours=5)


def test_queries_index_users_and_candidates_against_the_fit_data():
    fit = fit_data(np.array([[1, 0], [0, 1]], dtype=float))
    queries = queries_for(fit, {"u001": ["i00", "zz"], "stranger": ["i01"]}, ["i01", "zz"])
    assert list(queries.user_ids) == ["stranger", "u001"]
    assert list(queries.user_rows) == [-1, 1]
    assert list(queries.candidate_cols) == [1, -1]
    assert queries.history.toarray().tolist() == [[0, 1], [1, 0]]  # "zz" is no fit item: not in the history
    assert queries.seen.toarray().tolist() == [[1, 0], [0, 1]]
    assert sp.issparse(queries.seen)
