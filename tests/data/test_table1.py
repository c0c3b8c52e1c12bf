"""Table 1: blockwise counting of XᵀX non-zeros against a dense product, the statistics, and the written CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from beeformer import contract
from beeformer.data.table1 import PAPER, dataset_stats, interaction_matrix, write_table1, xtx_nonzeros


def random_binary(users: int, items: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dense = rng.random((users, items)) < density
    dense[:, rng.integers(items)] = False  # an item nobody has
    return dense


def dense_count(dense: np.ndarray) -> int:
    as_int = dense.astype(np.int64)
    return int(np.count_nonzero(as_int.T @ as_int))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blockwise_count_equals_dense_count_for_any_block_size(seed: int) -> None:
    dense = random_binary(60, 37, 0.06, seed)
    expected = dense_count(dense)
    X = sp.csr_matrix(dense)
    for block in (1, 2, 5, 13, 36, 37, 100):
        assert xtx_nonzeros(X, block_items=block) == expected
    assert xtx_nonzeros(X) == expected
    assert xtx_nonzeros(X, max_block_entries=40) == expected  # a budget that forces one item per block


def test_count_ignores_values_and_explicit_zeros() -> None:
    dense = random_binary(30, 20, 0.15, 7)
    X = sp.csr_matrix(dense.astype(np.float64) * 3.0)
    X.data[::5] = 0.0  # explicit zeros are no interactions
    reference = X.toarray() != 0
    assert xtx_nonzeros(X, block_items=3) == dense_count(reference)


def test_dataset_stats_match_a_direct_computation() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"user_id": rng.integers(0, 50, 400).astype(str), "item_id": rng.integers(0, 30, 400)})
    frame["item_id"] = "b" + frame["item_id"].astype(str)
    frame = pd.concat([frame, frame.head(20)])  # repeated pairs count once
    stats = dataset_stats("toy", frame, "goodbooks-10k", block_items=4)
    pairs = frame.drop_duplicates()
    users, items = pairs["user_id"].nunique(), pairs["item_id"].nunique()
    dense = pd.crosstab(pairs["user_id"], pairs["item_id"]).to_numpy() > 0
    assert (stats.users, stats.items, stats.interactions) == (users, items, len(pairs))
    assert stats.density_x == pytest.approx(100 * len(pairs) / (users * items))
    assert stats.xtx_nonzeros == dense_count(dense)
    assert stats.density_xtx == pytest.approx(100 * dense_count(dense) / items**2)
    assert interaction_matrix(frame).shape == (users, items)


def write_datasets(tmp_path: Path, datasets: tuple[tuple[str, str, int], ...]) -> list[tuple[str, Path, Path]]:
    paths = []
    for name, source, n_users in datasets:
        rng = np.random.default_rng(n_users)
        frame = pd.DataFrame(
            {"user_id": rng.integers(0, n_users, 300).astype(str), "item_id": rng.integers(0, 20, 300).astype(str)}
        ).drop_duplicates()
        contract.write_table(frame, tmp_path / f"{name}.parquet")
        contract.write_json({"source": source}, tmp_path / f"{name}.json")
        paths.append((name, tmp_path / f"{name}.parquet", tmp_path / f"{name}.json"))
    return paths


def test_write_table1_next_to_the_paper(tmp_path: Path) -> None:
    paths = write_datasets(tmp_path, (("goodbooks", "goodbooks-10k", 40), ("mine", "local", 25)))
    csv = tmp_path / "t/table1.csv"
    stats = write_table1(paths, csv, block_items=7)

    table = pd.read_csv(csv).set_index("dataset")
    assert list(table.index) == ["goodbooks", "mine"]
    assert table.loc["goodbooks", "paper_items"] == PAPER["goodbooks-10k"]["items"]
    assert table.loc["goodbooks", "paper_label"] == "GB10k" and table.loc["goodbooks", "paper_density_xtx"] == 41.22
    assert np.isnan(table.loc["mine", "paper_items"]) and pd.isna(table.loc["mine", "paper_label"])
    assert table.loc["mine", "xtx_nonzeros"] == stats[1].xtx_nonzeros
    assert table.loc["mine", "items"] == stats[1].items == 20
    assert not list((tmp_path / "t").glob("*.part"))
