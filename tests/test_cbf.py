"""Content-based scoring against a dense brute-force computation."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from beeformer.evaluate.cbf import score_top_k


def test_top_k_matches_dense_scores_with_history_masked():
    rng = np.random.default_rng(0)
    n_users, n_items, d, k = 30, 50, 8, 10
    embeddings = rng.normal(size=(n_items, d)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    history = sp.csr_matrix((rng.random((n_users, n_items)) < 0.15).astype(np.float32))
    candidates = rng.choice(n_items, size=25, replace=False)
    index, score = score_top_k(history, embeddings, candidates, k, block=7)

    dense = history.toarray()
    for u in range(n_users):
        scores = np.array(
            [sum(float(embeddings[i] @ embeddings[c]) for i in np.flatnonzero(dense[u])) for c in candidates]
        )
        scores[dense[u, candidates] > 0] = -np.inf
        expected = np.argsort(-scores, kind="stable")[:k]
        expected_scores = scores[expected]
        np.testing.assert_allclose(score[u], expected_scores, rtol=1e-5, atol=1e-5)
        finite = np.isfinite(expected_scores)
        assert list(index[u][finite]) == list(expected[finite])
