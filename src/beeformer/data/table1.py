"""Table 1 of the paper: items, users, interactions, density of X and of XᵀX per dataset, next to the published values.

X is the binary user-item matrix of a prepared dataset. The non-zeros of XᵀX (pairs of items with a common user,
the diagonal included) are counted block by block of items, never holding the whole product: Amazon Books has
about 300 million of them. Each block is a sparse boolean product ``X[:, block]ᵀ X`` whose non-zeros are counted
and dropped; the block size keeps a block's product under ``max_block_entries`` entries. The stage writes the
figures as CSV; :mod:`beeformer.report.table1` renders them as Markdown and LaTeX.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from beeformer import contract

log = logging.getLogger(__name__)

#: The paper's Table 1 (RecSys 2024), per source. ``interactions`` as printed (millions, two decimals); the
#: authors' README gives the exact counts (``interactions_exact``) and densities with four decimals.
PAPER = {
    "goodbooks-10k": {
        "label": "GB10k",
        "items": 9975,
        "users": 53365,
        "interactions": 4.20e6,
        "interactions_exact": 4119623,
        "density_x": 0.77,
        "density_xtx": 41.22,
    },
    "movielens-20m": {
        "label": "ML20M",
        "items": 16902,
        "users": 136589,
        "interactions": 9.69e6,
        "interactions_exact": 9694668,
        "density_x": 0.42,
        "density_xtx": 26.93,
    },
    "amazon-books": {
        "label": "AB",
        "items": 63305,
        "users": 634964,
        "interactions": 8.29e6,
        "interactions_exact": 8290500,
        "density_x": 0.02,
        "density_xtx": 7.59,
    },
}
MAX_BLOCK_ENTRIES = 50_000_000
#: The figures of Table 1, in its row order.
FIGURES = ("items", "users", "interactions", "density_x", "density_xtx")


@dataclass(frozen=True)
class Stats:
    """One dataset's row of Table 1 (densities in percent)."""

    dataset: str
    source: str
    items: int
    users: int
    interactions: int
    density_x: float
    xtx_nonzeros: int
    density_xtx: float


def interaction_matrix(interactions: pd.DataFrame) -> sp.csr_matrix:
    """The binary users x items matrix of an interactions table (repeated pairs count once)."""
    users = pd.factorize(interactions["user_id"])[0]
    items = pd.factorize(interactions["item_id"])[0]
    shape = (int(users.max()) + 1 if len(users) else 0, int(items.max()) + 1 if len(items) else 0)
    matrix = sp.csr_matrix((np.ones(len(users), dtype=bool), (users, items)), shape=shape)
    matrix.sum_duplicates()
    return matrix


def xtx_nonzeros(
    matrix: sp.spmatrix, block_items: int | None = None, max_block_entries: int = MAX_BLOCK_ENTRIES
) -> int:
    """Number of non-zeros of XᵀX for a binary X, computed ``block_items`` columns (items) at a time."""
    X = sp.csr_matrix(matrix, dtype=bool)
    X.sum_duplicates()
    X.eliminate_zeros()
    n_items = X.shape[1]
    if n_items == 0:
        return 0
    block = block_items or max(1, max_block_entries // n_items)
    by_item = X.tocsc()
    total = 0
    for start in range(0, n_items, block):
        rows = by_item[:, start : start + block].T.tocsr()  # block x users
        product = rows @ X  # block x items, boolean: non-zero iff the two items share a user
        total += int(product.nnz)
        del product, rows
    return total


def dataset_stats(dataset: str, interactions: pd.DataFrame, source: str = "", block_items: int | None = None) -> Stats:
    """Table 1 figures of one prepared dataset."""
    X = interaction_matrix(interactions)
    users, items = X.shape
    nnz = int(X.nnz)
    xtx = xtx_nonzeros(X, block_items)
    stats = Stats(
        dataset=dataset,
        source=source,
        items=items,
        users=users,
        interactions=nnz,
        density_x=100.0 * nnz / (users * items) if users and items else 0.0,
        xtx_nonzeros=xtx,
        density_xtx=100.0 * xtx / (items * items) if items else 0.0,
    )
    log.info("table 1, %s: %s", dataset, asdict(stats))
    return stats


def frame(stats: Sequence[Stats]) -> pd.DataFrame:
    """One row per dataset: our figures, then the paper's (NaN where the paper has none)."""
    rows = []
    for s in stats:
        paper = PAPER.get(s.source, {})
        rows.append(
            {
                **asdict(s),
                "paper_label": paper.get("label", ""),
                **{f"paper_{key}": paper.get(key, np.nan) for key in FIGURES},
                "paper_interactions_exact": paper.get("interactions_exact", np.nan),
            }
        )
    return pd.DataFrame(rows)


def write_table1(
    datasets: Sequence[tuple[str, str | os.PathLike[str], str | os.PathLike[str] | None]],
    csv_path: str | os.PathLike[str],
    block_items: int | None = None,
) -> list[Stats]:
    """Table 1 of the prepared ``datasets`` (name, interactions.parquet, data.json or None) as CSV: one row per
    dataset, our figures and the paper's (``paper_*``, empty where the paper has not the dataset's source)."""
    stats = []
    for name, interactions_path, report_path in datasets:
        source = str(contract.read_json(report_path).get("source", "")) if report_path else ""
        interactions = contract.read_table(interactions_path, contract.INTERACTION_COLUMNS)[
            list(contract.INTERACTION_COLUMNS)
        ]
        stats.append(dataset_stats(name, interactions, source, block_items))
        del interactions
    with contract.atomic_path(csv_path) as csv:
        frame(stats).to_csv(csv, index=False)
    print(f"table 1: {len(stats)} dataset(s) -> {csv_path}")
    return stats
