"""Equal to the evaluation: the demo's trained model indexed by the workflow's rule and queried for the demo's
test users gives the evaluate stage's top-20, and an independent numpy ranking over the model's embeddings agrees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from serving import cli, exact_top_k

from beeformer import contract

pytestmark = pytest.mark.slow

PREDICTIONS = "results/eval/demo-item/test/beeformer-demo-MiniLM/predictions.parquet"
EMBEDDINGS = "results/embeddings/demo/beeformer-demo-MiniLM/test.parquet"
INDEX = "results/index/demo-MiniLM"
TOP = 20
TARGETS = [INDEX, PREDICTIONS, "--configfile", REPO / "config/config.yaml"]  # targets before --configfile


def top(predictions: pd.DataFrame) -> dict[str, list[str]]:
    best = predictions[predictions["rank"] < TOP].sort_values(["user_id", "rank"])
    return best.groupby("user_id")["item_id"].agg(list).to_dict()


def test_the_demo_index_ranks_as_the_evaluation(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            REPO / "Snakefile",
            "--directory",
            tmp_path,
            "--cores",
            "2",
            *TARGETS,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    split = tmp_path / "results/splits/demo-item"
    query = [split / "test_source.parquet", "--candidates", split / "test_candidates.parquet"]
    assert (
        cli("query", "--index", tmp_path / INDEX, "--interactions", *query, "--predictions", tmp_path / "q.parquet")
        == 0
    )
    queried, evaluated = pd.read_parquet(tmp_path / "q.parquet"), pd.read_parquet(tmp_path / PREDICTIONS)
    ours, evaluation = top(queried), top(evaluated)
    assert ours.keys() == evaluation.keys() and len(ours) == 848
    overlap = np.mean([len(set(ours[u]) & set(evaluation[u])) / len(evaluation[u]) for u in evaluation])
    print(f"top-{TOP} overlap with the evaluation: {overlap:.4f} over {len(ours)} users")
    # the same items, but where the evaluation's 20th and 21st scores tie within float32 rounding
    cut = evaluated[evaluated["rank"].isin([TOP - 1, TOP])].pivot(index="user_id", columns="rank", values="score")
    differing = [u for u in evaluation if set(ours[u]) != set(evaluation[u])]
    assert all(cut.loc[u, TOP - 1] - cut.loc[u, TOP] < 1e-5 for u in differing), differing

    # independently: numpy over the evaluate stage's embeddings of the model (the same top scores; the same items
    # wherever the 20th and 21st score are not a tie)
    ids, embeddings = contract.read_embeddings(tmp_path / EMBEDDINGS)
    rows = pd.Index(ids)
    source = pd.read_parquet(split / "test_source.parquet")
    allowed = rows.get_indexer(pd.read_parquet(split / "test_candidates.parquet")["item_id"]).tolist()
    scores = queried[queried["rank"] < TOP].sort_values(["user_id", "rank"]).groupby("user_id")["score"].agg(list)
    for user, history in source.groupby("user_id")["item_id"]:
        expected, expected_scores = exact_top_k(embeddings, rows.get_indexer(history).tolist(), TOP + 1, allowed)
        np.testing.assert_allclose(scores[user], expected_scores[:TOP], atol=1e-5)
        if expected_scores[TOP - 1] - expected_scores[TOP] > 1e-5:
            assert set(ours[user]) == set(ids[expected[:TOP]]), user
