"""The baselines' protocol: grid on validation, the best kept, refit on train_full for the test phase."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from beeformer import contract
from beeformer.baselines import tuning
from beeformer.baselines.base import BaselineError
from beeformer.baselines.cf import ELSA
from beeformer.contract.metrics import per_user_metrics
from beeformer.split import SplitConfig, split


@pytest.fixture
def split_dir(tmp_path):
    """A user split of two user groups with their own item halves (so CF has something to learn)."""
    rng = np.random.default_rng(0)
    rows = []
    for user in range(240):
        half = np.arange(20) if user % 2 else np.arange(20, 40)
        for item in rng.choice(half, size=8, replace=False):
            rows.append((f"u{user:03d}", f"i{item:02d}", int(rng.integers(0, 1000))))
    contract.write_table(pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]), tmp_path / "x.parquet")
    items = pd.DataFrame({"item_id": [f"i{i:02d}" for i in range(40)], "text": ["t"] * 40})
    contract.write_table(items, tmp_path / "items.parquet")
    out = tmp_path / "split"
    split(
        SplitConfig(kind="user", test_users=40, validation_users=40),
        tmp_path / "x.parquet",
        tmp_path / "items.parquet",
        out,
    )
    return out


def tune(split_dir, method, settings, out):
    return tuning.tune(
        method,
        settings,
        train=split_dir / "train.parquet",
        source=split_dir / "validation_source.parquet",
        target=split_dir / "validation_target.parquet",
        candidates=split_dir / "validation_candidates.parquet",
        predictions=out / "predictions.parquet",
        tuning=out / "tuning.json",
    )


def test_the_grid_is_tried_and_the_best_validation_point_kept(split_dir, tmp_path):
    out = tmp_path / "itemknn"
    result = tune(split_dir, "itemknn", {"neighbors": [1, 3, 30]}, out)
    assert [r["settings"] for r in result["grid"]] == [{"neighbors": 1}, {"neighbors": 3}, {"neighbors": 30}]
    scores = [r["recall@20"] for r in result["grid"]]
    assert result["chosen"] == result["grid"][int(np.argmax(scores))]["settings"]
    written = json.loads((out / "tuning.json").read_text())
    assert written["chosen"] == result["chosen"] and written["fit"]["users"] == 160
    predictions = contract.read_predictions(out / "predictions.parquet")
    targets = contract.read_interactions(split_dir / "validation_target.parquet")
    recall = per_user_metrics(predictions, targets, ["recall@20"])["recall@20"].mean()
    assert recall == pytest.approx(max(scores))  # the kept predictions are the chosen point's
    assert recall > 0.5  # the user groups are learnable
    assert set(predictions.groupby("user_id")["rank"].max()) == {39 - 6}  # 40 candidates minus a 6-item history


def test_an_iterative_method_is_scored_after_each_listed_epoch_in_one_run(split_dir, tmp_path, monkeypatch):
    fits = []
    original = ELSA.fit
    monkeypatch.setattr(
        ELSA, "fit", lambda self, *a, **k: fits.append(self.settings["epochs"]) or original(self, *a, **k)
    )
    result = tune(split_dir, "elsa", {"factors": 4, "batch_size": 32, "epochs": [1, 4]}, tmp_path / "elsa")
    assert fits == [4]
    assert [r["settings"]["epochs"] for r in result["grid"]] == [1, 4]
    assert isinstance(result["chosen"]["epochs"], int)


def test_refit_uses_the_choice_on_train_full(split_dir, tmp_path):
    out = tmp_path / "als"
    tune(split_dir, "als", {"factors": [2, 8], "iterations": 5}, out)
    chosen = json.loads((out / "tuning.json").read_text())["chosen"]
    result = tuning.refit(
        "als",
        out / "tuning.json",
        train_full=split_dir / "train_full.parquet",
        source=split_dir / "test_source.parquet",
        candidates=split_dir / "test_candidates.parquet",
        predictions=out / "test.parquet",
        fit_report=out / "fit.json",
    )
    assert result["settings"] == chosen
    assert result["fit"]["users"] == 200  # train users and validation users
    predictions = contract.read_predictions(out / "test.parquet")
    assert set(predictions["user_id"]) == set(contract.read_interactions(split_dir / "test_source.parquet")["user_id"])


def test_cf_refuses_cold_items_and_writes_nothing(tmp_path):
    rows = [(f"u{u}", f"i{(u + j) % 30}") for u in range(60) for j in range(6)]
    contract.write_table(pd.DataFrame(rows, columns=["user_id", "item_id"]), tmp_path / "x.parquet")
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(30)], "text": ["t"] * 30})
    contract.write_table(items, tmp_path / "items.parquet")
    split(
        SplitConfig(test_items=5, validation_items=5),
        tmp_path / "x.parquet",
        tmp_path / "items.parquet",
        tmp_path / "s",
    )
    with pytest.raises(BaselineError, match=r"cold-start items \(an item split\), which collaborative"):
        tune(tmp_path / "s", "popularity", {}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_input_is_named(split_dir, tmp_path):
    with pytest.raises(BaselineError, match="unknown baseline 'svd'"):
        tune(split_dir, "svd", {}, tmp_path / "a")
    with pytest.raises(BaselineError, match=r"als: unknown setting\(s\) \['factor'\]"):
        tune(split_dir, "als", {"factor": [2]}, tmp_path / "b")
    empty = tmp_path / "empty.parquet"
    contract.write_table(pd.DataFrame({"user_id": [], "item_id": []}, dtype=str), empty)
    with pytest.raises(BaselineError, match=r"empty\.parquet has no interactions to fit"):
        tuning.tune(
            "popularity",
            {},
            train=empty,
            source=split_dir / "validation_source.parquet",
            target=split_dir / "validation_target.parquet",
            candidates=split_dir / "validation_candidates.parquet",
            predictions=tmp_path / "c.parquet",
            tuning=tmp_path / "c.json",
        )
    assert not list(tmp_path.glob("[abc]*"))
