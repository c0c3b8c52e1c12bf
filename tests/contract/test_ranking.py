"""Ranking (the predictions contract) and content-based scoring against dense brute-force computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from beeformer import contract
from beeformer.contract import ranking
from beeformer.evaluate.cbf import recommend


def brute_force_top_k(scores: np.ndarray, seen: np.ndarray, k: int) -> list[list[int]]:
    masked = np.where(seen > 0, -np.inf, scores)
    return [[int(c) for c in np.argsort(-row, kind="stable")[:k] if np.isfinite(row[c])] for row in masked]


def test_rank_users_masks_history_and_breaks_ties_by_position(monkeypatch):
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(30, 25)).astype(np.float32)  # many ties
    seen = (rng.random((30, 25)) < 0.2).astype(np.float32)
    monkeypatch.setattr(ranking, "BLOCK_ENTRIES", 7 * 25)  # several blocks of 7 users
    index, score = ranking.rank_users(lambda a, b: scores[a:b], sp.csr_matrix(seen), k=10)
    expected = brute_force_top_k(scores, seen, 10)
    for user in range(30):
        finite = np.isfinite(score[user])
        assert list(index[user][finite]) == expected[user]
    frame = ranking.predictions_frame(np.array([f"u{u}" for u in range(30)]), np.arange(25).astype(str), index, score)
    assert frame.groupby("user_id")["rank"].min().eq(0).all()
    assert np.isfinite(frame["score"]).all()


def test_content_based_scores_are_sums_of_cosine_similarities(tmp_path):
    rng = np.random.default_rng(1)
    n_items, d = 40, 8
    embeddings = rng.normal(size=(n_items, d)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    item_ids = np.array([f"i{i:02d}" for i in range(n_items)])
    contract.write_embeddings(item_ids, embeddings, tmp_path / "emb.parquet")
    history = (rng.random((12, n_items)) < 0.15).astype(np.float32)
    history[:, 0] = 1  # nobody without a history
    users, items = np.nonzero(history)
    source = pd.DataFrame({"user_id": [f"u{u:02d}" for u in users], "item_id": item_ids[items]})
    contract.write_table(source, tmp_path / "source.parquet")
    candidates = item_ids[rng.choice(n_items, size=20, replace=False)]
    contract.write_table(pd.DataFrame({"item_id": candidates}), tmp_path / "candidates.parquet")

    predictions = recommend(
        tmp_path / "emb.parquet",
        tmp_path / "source.parquet",
        tmp_path / "candidates.parquet",
        tmp_path / "p.parquet",
        k=5,
    )
    columns = [int(c[1:]) for c in candidates]
    for user in range(12):
        dense = np.array(
            [sum(float(embeddings[i] @ embeddings[c]) for i in np.flatnonzero(history[user])) for c in columns]
        )
        expected = [candidates[c] for c in brute_force_top_k(dense[None], history[user, columns][None], 5)[0]]
        got = predictions[predictions["user_id"] == f"u{user:02d}"].sort_values("rank")["item_id"].tolist()
        assert got == expected


def test_embeddings_file_round_trip_and_errors(tmp_path):
    ids = np.array(["b", "a", "c"])
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    contract.write_embeddings(ids, matrix, tmp_path / "e.parquet")
    read_ids, read_matrix = contract.read_embeddings(tmp_path / "e.parquet")
    assert list(read_ids) == ["b", "a", "c"]
    np.testing.assert_array_equal(read_matrix, matrix)
    contract.write_table(pd.DataFrame({"x": [1]}), tmp_path / "bad.parquet")
    for path, message in (
        (tmp_path / "bad.parquet", "expected columns item_id, embedding"),
        (tmp_path / "no.parquet", "file not found"),
    ):
        try:
            contract.read_embeddings(path)
        except contract.ContractError as error:
            assert message in str(error)
        else:
            raise AssertionError("no error")
