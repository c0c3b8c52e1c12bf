"""End to end: real Snakemake runs of the embedded demo and of the Goodbooks sample, into temporary folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, SHARED_DATA

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3000)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-5000:]}\n{result.stderr[-8000:]}")
    return result


def jobs(dry_run_output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count."""
    lines = dry_run_output.split("Job stats:")[1].splitlines()[3:]
    table = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        table[parts[0]] = int(parts[1])
    return table


def test_demo_runs_end_to_end_and_beeformer_wins(tmp_path):
    work = tmp_path / "demo"
    work.mkdir()
    config = str(REPO / "config" / "config.yaml")
    target = snakemake(work, "-n", "results/splits/demo-item/split.json", "--configfile", config)
    assert jobs(target.stdout + target.stderr) == {"prepare_dataset": 1, "describe_items": 1, "split_dataset": 1}

    snakemake(work, "all", "--configfile", config)
    table = pd.read_csv(work / "results/tables/demo-cold-start.csv").set_index("method")
    pretrained = table.loc["all-MiniLM-L6-v2", "recall@20"]
    trained = table.loc["beeformer-demo-MiniLM", "recall@20"]
    print(f"demo recall@20: pretrained {pretrained:.4f}, beeFormer {trained:.4f}")
    assert trained > pretrained
    assert (work / "results/tables/demo-cold-start.md").read_text().count("|") > 10
    assert (work / "results/training/beeformer-demo-MiniLM/loss.png").stat().st_size > 1000

    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(work / "results/models/beeformer-demo-MiniLM"), device="cpu")
    assert model.encode(["a tent"]).shape == (1, 384)

    again = snakemake(work, "all", "--configfile", config)
    assert "Nothing to be done" in again.stdout + again.stderr


def local_config(name: str, overrides: dict) -> dict:
    """An example config with the shared-data paths made absolute and a smaller budget."""
    config = yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text())
    for spec in config["datasets"].values():
        for section in ("interactions", "items"):
            spec[section]["path"] = str(SHARED_DATA / spec[section]["path"].split("shared/data/")[1])
        if "id_map" in spec["items"]:
            spec["items"]["id_map"]["path"] = str(
                SHARED_DATA / spec["items"]["id_map"]["path"].split("shared/data/")[1]
            )
    for key, value in overrides.items():
        section, name_, field = key.split(".")
        config[section][name_][field] = (
            value if not isinstance(value, dict) else {**config[section][name_][field], **value}
        )
    return config


@pytest.mark.skipif(not (SHARED_DATA / "goodbooks").is_dir(), reason=f"{SHARED_DATA}/goodbooks is absent")
def test_goodbooks_sample_workflow(tmp_path):
    config = local_config(
        "goodbooks",
        {
            "splits.goodbooks-item.test_items": 300,
            "splits.goodbooks-item.validation_items": 100,
            "encoders.beeformer-goodbooks-MiniLM.train": {
                "max_steps": 2,
                "batch_size": 4,
                "items_per_step": 300,
                "max_seq_length": 64,
            },
        },
    )
    config["evaluation"].update({"max_seq_length": 48, "n_bootstrap": 100})
    path = tmp_path / "goodbooks.yaml"
    path.write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "all", "--configfile", str(path))

    data = pd.read_json(tmp_path / "results/data/goodbooks/data.json", typ="series")
    # ../shared/data/goodbooks/SOURCE.md: ~203,700 interactions, 2,669 users, 9,915 items before dropping the
    # ratings of the 25 books without a description (tests/test_data_local.py checks the exact figures)
    assert abs(data["interactions"] - 203_700) < 500 and data["users"] == 2669 and 9850 < data["items"] <= 9915
    table = pd.read_csv(tmp_path / "results/tables/goodbooks-cold-start.csv").set_index("method")
    assert set(table.index) == {"all-MiniLM-L6-v2", "beeformer-goodbooks-MiniLM"}
    assert (table["recall@20"] > 0.01).all() and (table["users"] > 100).all()


@pytest.mark.skipif(not (SHARED_DATA / "movielens-small").is_dir(), reason=f"{SHARED_DATA}/movielens-small is absent")
def test_movielens_sample_data_and_splits(tmp_path):
    path = tmp_path / "movielens.yaml"
    path.write_text(yaml.safe_dump(local_config("movielens", {})))
    snakemake(
        tmp_path,
        "results/splits/movielens-item/split.json",
        "results/splits/movielens-time/split.json",
        "--configfile",
        str(path),
    )
    time_target = pd.read_parquet(tmp_path / "results/splits/movielens-time/test_target.parquet")
    train = pd.read_parquet(tmp_path / "results/splits/movielens-time/train.parquet")
    assert train["timestamp"].max() <= time_target["timestamp"].min()
    items = pd.read_parquet(tmp_path / "results/data/movielens/items.parquet")
    assert items["text"].str.len().min() > 0 and len(items) > 1000


def test_bad_config_stops_with_a_clear_message(tmp_path):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["splits"]["demo-item"]["dataset"] = "nope"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n", "--configfile", str(path), check=False)
    assert result.returncode != 0
    assert "splits.demo-item.dataset: unknown dataset 'nope'" in result.stdout + result.stderr

    config["splits"]["demo-item"]["kind"] = "random"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n", "--configfile", str(path), check=False)
    assert result.returncode != 0 and "random" in result.stdout + result.stderr


def test_paper_config_dry_runs_the_full_dag(tmp_path):
    result = snakemake(tmp_path, "-n", "--configfile", str(REPO / "config" / "paper.yaml"))
    stats = jobs(result.stdout + result.stderr)
    assert stats["train_beeformer"] == 4 and stats["report"] == 5 and stats["prepare_dataset"] == 3


def test_lint_is_clean():
    if shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists():
        pytest.skip("ruff is not installed")
    ruff = subprocess.run(
        [str(Path(sys.executable).parent / "ruff"), "check", str(REPO)], capture_output=True, text=True
    )
    assert ruff.returncode == 0, ruff.stdout
    lint = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--lint"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
