"""Collaborative-filtering baselines of the time-split table (Table 4), on the libraries the field uses.

- ``popularity``: the number of fit interactions of an item (a sanity row).
- ``itemknn``: item-based kNN (Sarwar et al., 2001) with cosine similarity of item columns (or its asymmetric and
  shrunk variants), the ``neighbors`` most similar items kept per item (as RecPack's ItemKNN); score = sum of the
  history items' similarities.
- ``ease``: EASE (Steck, 2019), closed form ``B = I - P / diag(P)`` with ``P = (XᵀX + l2 I)⁻¹``; dense, so it
  refuses more than ``max_items`` fit items.
- ``sansa``: SANSA (Spišák et al., 2023), the ``sansa`` package: EASE through a sparse approximate LDLᵀ
  factorisation and approximate inverse, ``weight_matrix_density`` controlling the sparsity.
- ``als``: ALS matrix factorisation for implicit feedback (Hu et al., 2008; Takács et al., 2011), ``implicit``'s
  CPU solver with conjugate gradient; users are folded in from their histories (one exact least-squares step).
- ``elsa``: ELSA (Vančura et al., 2022): ``X Â Âᵀ - X`` trained with NMSE and NAdam; the project's own torch
  implementation (sparse batches, many times faster), and ``elsarec``, Recombee's package, to compare with.

All of them score only items that occur in the fit data; see :mod:`beeformer.baselines.base`.
"""

from __future__ import annotations

import gc
import logging
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from threadpoolctl import threadpool_limits

from beeformer.baselines.base import BaselineError, EpochCallback, FitData, WarmItemRecommender, require
from beeformer.contract.ranking import BLOCK_ENTRIES, ScoreBlock

log = logging.getLogger(__name__)


class Popularity(WarmItemRecommender):
    """Items ranked by their number of fit interactions, the same list for every user."""

    def fit(self, data: FitData, on_epoch: EpochCallback | None = None) -> None:
        self.counts = np.asarray(data.X.sum(axis=0), dtype=np.float32).ravel()

    def warm_scorer(self, history: sp.csr_matrix, user_rows: np.ndarray, columns: np.ndarray) -> ScoreBlock:
        counts = self.counts[columns]
        return lambda start, stop: np.broadcast_to(counts, (stop - start, len(columns)))


class ItemKNN(WarmItemRecommender):
    """Item-item similarities of co-occurrence, the top ``neighbors`` per item kept.

    ``similarity(i, j) = |X_i ∩ X_j| / (n_i^alpha · n_j^(1 - alpha) + shrink)``, with ``n`` the items' interaction
    counts: ``alpha = 0.5, shrink = 0`` is the cosine; ``alpha`` above 0.5 is Aiolli's (2013) asymmetric cosine
    and ``shrink`` the usual shrinkage of similarities built from few co-occurrences (Koren, 2008).
    """

    defaults: ClassVar[dict[str, Any]] = {"neighbors": 200, "alpha": 0.5, "shrink": 0.0}

    def fit(self, data: FitData, on_epoch: EpochCallback | None = None) -> None:
        k = int(self.settings["neighbors"])
        alpha, shrink = float(self.settings["alpha"]), float(self.settings["shrink"])
        if k < 1 or not 0 <= alpha <= 1 or shrink < 0:
            raise BaselineError(f"itemknn: need neighbors >= 1, 0 <= alpha <= 1, shrink >= 0; got {self.settings}")
        X = data.X
        n_items = X.shape[1]
        k = min(k, n_items - 1) if n_items > 1 else 1
        counts = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
        items_by_user = X.T.tocsr()
        rows, cols, values = [], [], []
        block = max(1, BLOCK_ENTRIES // n_items)
        for start in range(0, n_items, block):  # co-occurrences of a block of items with all items
            stop = min(start + block, n_items)
            similarity = (items_by_user[start:stop] @ X).toarray().astype(np.float32)
            similarity /= (counts[start:stop, None] ** alpha * counts[None, :] ** (1 - alpha) + shrink).astype(
                np.float32
            )
            similarity[np.arange(stop - start), np.arange(start, stop)] = 0.0
            top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
            top_values = np.take_along_axis(similarity, top, axis=1)
            keep = top_values > 0
            rows.append(np.repeat(np.arange(start, stop), k)[keep.ravel()])
            cols.append(top[keep])
            values.append(top_values[keep])
        self.similarity = sp.csr_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items)
        )

    def warm_scorer(self, history: sp.csr_matrix, user_rows: np.ndarray, columns: np.ndarray) -> ScoreBlock:
        similarity = self.similarity[:, columns].tocsr()
        return lambda start, stop: (history[start:stop] @ similarity).toarray()


class EASE(WarmItemRecommender):
    """Embarrassingly shallow autoencoder, in closed form (dense items x items)."""

    defaults: ClassVar[dict[str, Any]] = {"l2": 500.0, "max_items": 20_000}

    def fit(self, data: FitData, on_epoch: EpochCallback | None = None) -> None:
        n_items = data.X.shape[1]
        if n_items > self.settings["max_items"]:
            raise BaselineError(
                f"ease: {n_items:,} fit items exceed max_items {self.settings['max_items']:,} (the dense inverse "
                f"needs {2 * 8 * n_items**2 / 2**30:.1f} GB and O(n³) time); use sansa, or raise "
                "baselines.ease.max_items"
            )
        from scipy.linalg import lapack

        gram = (data.X.T @ data.X).toarray().astype(np.float64)
        gram[np.diag_indices(n_items)] += float(self.settings["l2"])
        factor, info = lapack.dpotrf(gram, lower=False, overwrite_a=True)
        if info != 0:
            raise BaselineError(f"ease: XᵀX + l2·I is not positive definite (info {info}); raise l2")
        inverse, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
        inverse = np.triu(inverse) + np.triu(inverse, 1).T  # dpotri fills one triangle
        weights = inverse / -np.diag(inverse)
        weights[np.diag_indices(n_items)] = 0.0
        self.weights = weights.astype(np.float32)

    def warm_scorer(self, history: sp.csr_matrix, user_rows: np.ndarray, columns: np.ndarray) -> ScoreBlock:
        weights = np.ascontiguousarray(self.weights[:, columns])
        return lambda start, stop: np.asarray(history[start:stop] @ weights)


class SANSA(WarmItemRecommender):
    """Scalable approximate non-symmetric autoencoder (the ``sansa`` package, CHOLMOD factorisation)."""

    defaults: ClassVar[dict[str, Any]] = {
        "l2": 500.0,
        "weight_matrix_density": 5e-3,
        "factorizer": "cholmod",
        "scans": 3,
        "finetune_steps": 10,
    }

    def fit(self, data: FitData, on_epoch: EpochCallback | None = None) -> None:
        sansa = require(
            "sansa", "sansa", extra="sansa", system="apt-get install libsuitesparse-dev libopenblas0-pthread, then "
        )
        factorizers = {"cholmod": sansa.CHOLMODGramianFactorizerConfig, "icf": sansa.ICFGramianFactorizerConfig}
        if self.settings["factorizer"] not in factorizers:
            raise BaselineError(f"sansa: factorizer must be one of {list(factorizers)}")
        config = sansa.SANSAConfig(
            l2=float(self.settings["l2"]),
            weight_matrix_density=float(self.settings["weight_matrix_density"]),
            gramian_factorizer_config=factorizers[self.settings["factorizer"]](),
            lower_triangle_inverter_config=sansa.UMRUnitLowerTriangleInverterConfig(
                scans=int(self.settings["scans"]), finetune_steps=int(self.settings["finetune_steps"])
            ),
        )
        logging.getLogger("sansa").setLevel(logging.WARNING)
        gc.freeze()  # sansa runs gc.collect() after every step: freezing what exists keeps each one cheap
        try:
            self.encoder, self.decoder = sansa.SANSA(config).fit(data.X.astype(np.float32)).weights
        finally:
            gc.unfreeze()

    def warm_scorer(self, history: sp.csr_matrix, user_rows: np.ndarray, columns: np.ndarray) -> ScoreBlock:
        decoder = self.decoder[:, columns].tocsr()
        return lambda start, stop: ((history[start:stop] @ self.encoder) @ decoder).toarray()


class ALS(WarmItemRecommender):
    """Implicit-feedback matrix factorisation by alternating least squares (``implicit``, CPU)."""

    defaults: ClassVar[dict[str, Any]] = {"factors": 128, "regularization": 0.01, "alpha": 1.0, "iterations": 15}

    def fit(self, data: FitData, on_epoch: EpochCallback | None = None) -> None:
        AlternatingLeastSquares = require("implicit.cpu.als", "als").AlternatingLeastSquares

        with threadpool_limits(limits=1, user_api="blas"):  # implicit's advice: its own threads, BLAS single
            self.model = AlternatingLeastSquares(
                factors=int(self.settings["factors"]),
                regularization=float(self.settings["regularization"]),
                alpha=float(self.settings["alpha"]),
                iterations=int(self.settings["iterations"]),
                random_state=self.seed,
                num_threads=self.threads,
            )
            self.model.fit(data.X, show_progress=False)

    def warm_scorer(self, history: sp.csr_matrix, user_rows: np.ndarray, columns: np.ndarray) -> ScoreBlock:
        with threadpool_limits(limits=1, user_api="blas"):
            users = self.model.recalculate_user(np.arange(history.shape[0]), history.tocsr())
        items = np.ascontiguousarray(self.model.item_factors[columns].T)
        return lambda start, stop: users[start:stop] @ items


class ELSA(WarmItemRecommender):
    """ELSA, the project's own torch implementation: ``X Â Âᵀ - X`` fitted with NMSE and NAdam on user batches.

    The same model, loss, initialisation (Xavier uniform) and optimizer as ``elsarec``, but batches are sliced
    from the sparse matrix at once and ``X Â`` is a sparse product, which makes an epoch many times faster.
    """

    defaults: ClassVar[dict[str, Any]] = {"factors": 256, "lr": 0.1, "epochs": 10, "batch_size": 1024}
    iterative: ClassVar[bool] = True

    def fit(self, data: FitData, on_epoch: EpochCallback | None = None) -> None:
        torch.manual_seed(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        n_users, n_items = data.X.shape
        self.A = torch.nn.Parameter(torch.nn.init.xavier_uniform_(torch.empty(n_items, int(self.settings["factors"]))))
        optimizer = torch.optim.NAdam([self.A], lr=float(self.settings["lr"]))
        batch = int(self.settings["batch_size"])
        for epoch in range(1, int(self.settings["epochs"]) + 1):
            for rows in torch.randperm(n_users, generator=generator).split(batch):
                X = data.X[rows.numpy()]
                coo = X.tocoo()
                x_sparse = torch.sparse_coo_tensor(
                    torch.from_numpy(np.vstack([coo.row, coo.col])).long(),
                    torch.from_numpy(coo.data),
                    X.shape,
                    check_invariants=False,  # from a valid scipy matrix
                )
                x_dense = torch.from_numpy(X.toarray())
                A_hat = torch.nn.functional.normalize(self.A, dim=-1)
                prediction = torch.sparse.mm(x_sparse, A_hat) @ A_hat.T - x_dense
                loss = torch.nn.functional.mse_loss(
                    torch.nn.functional.normalize(prediction, dim=-1), torch.nn.functional.normalize(x_dense, dim=-1)
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            if on_epoch is not None:
                on_epoch(epoch)

    def item_embeddings(self) -> np.ndarray:
        return self.A.detach().numpy()

    def warm_scorer(self, history: sp.csr_matrix, user_rows: np.ndarray, columns: np.ndarray) -> ScoreBlock:
        A = self.item_embeddings()
        A = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)
        profiles = np.asarray(history @ A, dtype=np.float32)
        candidates = np.ascontiguousarray(A[columns].T)
        return lambda start, stop: profiles[start:stop] @ candidates


class ElsaRec(ELSA):
    """ELSA from Recombee's ``elsarec`` package, as published (for comparison with the project's own)."""

    def fit(self, data: FitData, on_epoch: EpochCallback | None = None) -> None:
        ElsaModel = require("elsa", "elsarec").ELSA
        torch.manual_seed(self.seed)  # the initial A and the batch order
        self.model = ElsaModel(
            n_items=data.X.shape[1],
            n_dims=int(self.settings["factors"]),
            device=torch.device("cpu"),
            lr=float(self.settings["lr"]),
        )
        for epoch in range(1, int(self.settings["epochs"]) + 1):
            self.model.fit(data.X, epochs=1, batch_size=int(self.settings["batch_size"]), shuffle=True, verbose=False)
            if on_epoch is not None:
                on_epoch(epoch)

    def item_embeddings(self) -> np.ndarray:
        return self.model.get_items_embeddings(as_numpy=True)
