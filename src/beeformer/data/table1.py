"""Table 1 of the paper: items, users, interactions, density of X and of XᵀX per dataset, next to the published values.

X is the binary user-item matrix of a prepared dataset. The non-zeros of XᵀX (pairs of items with a common user,
the diagonal included) are counted block by block of items, never holding the whole product: Amazon Books has
about 300 million of them. Each block is a sparse boolean product ``X[:, block]ᵀ X`` whose non-zeros are counted
and dropped; the block size keeps a block's product under ``max_block_entries`` entries.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

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
PAPER_NOTE = (
    "Paper: Table 1 of Vančura et al., RecSys 2024, as printed. The authors' README gives 4,119,623 / 9,694,668 / "
    "8,290,500 interactions; the printed 4.20 M for GB10k disagrees with its own density (0.77% of 9,975 x 53,365 "
    "is 4.12 M)."
)
MAX_BLOCK_ENTRIES = 50_000_000


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


# --------------------------------------------------------------------------- rendering


ROWS = (
    ("items", "# of items in X"),
    ("users", "# of users in X"),
    ("interactions", "# of interactions in X"),
    ("density_x", "density of X"),
    ("density_xtx", "density of XᵀX"),
)


def _fmt(key: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if key == "interactions" and value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if key.startswith("density"):
        return f"{value:.2f} %"
    return f"{int(value):,}"


def frame(stats: Sequence[Stats]) -> pd.DataFrame:
    """One row per dataset: our figures, then the paper's (NaN where the paper has none)."""
    rows = []
    for s in stats:
        paper = PAPER.get(s.source, {})
        rows.append(
            {
                **asdict(s),
                "paper_label": paper.get("label", ""),
                **{f"paper_{key}": paper.get(key, np.nan) for key, _ in ROWS},
                "paper_interactions_exact": paper.get("interactions_exact", np.nan),
            }
        )
    return pd.DataFrame(rows)


def columns(stats: Sequence[Stats]) -> list[tuple[str, dict[str, Any]]]:
    """(header, figures) per column of the rendered table: ours, and the paper's where it has the dataset."""
    result, shown = [], set()
    for s in stats:
        paper = PAPER.get(s.source)
        label = f"{s.dataset} ({paper['label']})" if paper else s.dataset
        result.append((label, asdict(s)))
        if paper and s.source not in shown:  # the paper's column once, after the first dataset of that source
            result.append((f"{paper['label']}, paper", paper))
            shown.add(s.source)
    return result


def _with_paper(stats: Sequence[Stats]) -> bool:
    return any(s.source in PAPER for s in stats)


def _caption(stats: Sequence[Stats]) -> str:
    """The paper's caption, saying so when the paper's figures stand beside ours."""
    beside = " (ours next to the paper's)" if _with_paper(stats) else ""
    return f"Detailed statistics of datasets used for evaluation{beside}."


def markdown(stats: Sequence[Stats]) -> str:
    cols = columns(stats)
    lines = [
        f"Table 1: {_caption(stats)}",
        "",
        "| | " + " | ".join(h for h, _ in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for key, label in ROWS:
        lines.append(f"| {label} | " + " | ".join(_fmt(key, c.get(key)) for _, c in cols) + " |")
    lines += ["", PAPER_NOTE, ""] if _with_paper(stats) else [""]
    return "\n".join(lines)


def _tex_escape(text: str) -> str:
    for old, new in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
        text = text.replace(old, new)
    return text.replace("XᵀX", "$X^TX$").replace("in X", "in $X$").replace("of X", "of $X$")


def latex(stats: Sequence[Stats]) -> str:
    cols = columns(stats)
    lines = [
        r"\begin{table}",
        rf"\caption{{{_caption(stats)}}}",
        r"\begin{tabular}{l" + "r" * len(cols) + "}",
        r"\hline",
        " & ".join(["", *(_tex_escape(h) for h, _ in cols)]) + r" \\",
        r"\hline",
    ]
    for key, label in ROWS:
        lines.append(" & ".join([_tex_escape(label), *(_tex_escape(_fmt(key, c.get(key))) for _, c in cols)]) + r" \\")
    lines += [r"\hline", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def write_table1(
    datasets: Sequence[tuple[str, str | os.PathLike[str], str | os.PathLike[str] | None]],
    markdown_path: str | os.PathLike[str],
    csv_path: str | os.PathLike[str],
    tex_path: str | os.PathLike[str],
    block_items: int | None = None,
) -> list[Stats]:
    """Table 1 of the prepared ``datasets`` (name, interactions.parquet, data.json or None), written three ways."""
    stats = []
    for name, interactions_path, report_path in datasets:
        source = str(contract.read_json(report_path).get("source", "")) if report_path else ""
        interactions = contract.read_table(interactions_path, contract.INTERACTION_COLUMNS)[
            list(contract.INTERACTION_COLUMNS)
        ]
        stats.append(dataset_stats(name, interactions, source, block_items))
        del interactions
    table = frame(stats)
    with (
        contract.atomic_path(markdown_path) as md,
        contract.atomic_path(csv_path) as csv,
        contract.atomic_path(tex_path) as tex,
    ):
        md.write_text(markdown(stats))
        table.to_csv(csv, index=False)
        tex.write_text(latex(stats))
    log.info("table 1 -> %s, %s, %s", markdown_path, csv_path, tex_path)
    return stats
