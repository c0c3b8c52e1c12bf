"""The command line's error messages, atomic writes, and the workflow-config reference checks."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from beeformer import contract, workflow_config
from beeformer.cli import main


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_missing_column_is_named_and_nothing_is_written(tmp_path, capsys):
    (tmp_path / "ratings.csv").write_text("user,item\n1,2\n")
    spec = {
        "source": "local",
        "interactions": {"path": str(tmp_path / "ratings.csv"), "columns": {"user_id": "user", "item_id": "book"}},
        "items": {"path": str(tmp_path / "ratings.csv"), "columns": {"item_id": "item", "text": "user"}},
    }
    code, err = run(
        capsys,
        "data",
        "--name",
        "x",
        "--params",
        json.dumps(spec),
        "--interactions",
        str(tmp_path / "out/i.parquet"),
        "--items",
        str(tmp_path / "out/t.parquet"),
        "--report",
        str(tmp_path / "out/r.json"),
    )
    assert code == 2
    assert "ratings.csv" in err and "book" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_dataset_empty_after_filtering_says_which_setting(tmp_path, capsys):
    spec = {
        "source": "synthetic",
        "synthetic": {"n_users": 20, "max_items_per_user": 6},
        "filters": {"min_user_interactions": 500},
    }
    code, err = run(
        capsys,
        "data",
        "--name",
        "tiny",
        "--params",
        json.dumps(spec),
        "--interactions",
        str(tmp_path / "i.parquet"),
        "--items",
        str(tmp_path / "t.parquet"),
        "--report",
        str(tmp_path / "r.json"),
    )
    assert code == 2 and "tiny" in err and "min_user_interactions=500" in err
    assert not (tmp_path / "i.parquet").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["describe", "--params", '{"engine": "vllm"}', "--features", "f.parquet", "--items", "o.parquet"],
            "f.parquet: file not found",
        ),
        (
            [
                "data",
                "--name",
                "ml",
                "--params",
                '{"source": "movielens-20m"}',
                "--interactions",
                "a",
                "--items",
                "b",
                "--report",
                "c",
            ],
            "resources/movielens-20m/ml-20m.zip",
        ),
        (
            [
                "tune",
                "--method",
                "svd",
                "--train",
                "a",
                "--source",
                "b",
                "--target",
                "t",
                "--candidates",
                "c",
                "--predictions",
                "d",
                "--tuning",
                "e",
            ],
            "unknown baseline 'svd'",
        ),
        (
            ["split", "--interactions", "missing.parquet", "--items", "x", "--out-dir", "s"],
            "missing.parquet: file not found",
        ),
    ],
)
def test_unfinished_or_impossible_steps_fail_clearly(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, err = run(capsys, *argv)
    assert code == 2 and message in err


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "table.parquet"
    with pytest.raises(RuntimeError), contract.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    contract.write_table(pd.DataFrame({"item_id": ["a"], "text": ["t"]}), target)
    assert contract.read_items(target)["text"].tolist() == ["t"]
    with pytest.raises(contract.ContractError, match="missing column"):
        contract.read_interactions(target)


def test_config_references_are_checked():
    config = {
        "datasets": {"d": {}},
        "splits": {"s": {"dataset": "d", "kind": "time"}},
        "encoders": {"e": {"base": "x"}, "b": {"base": "x", "train_on": ["s"]}},
        "experiments": {"t": {"split": "s", "methods": ["e", "b", "heater-e", "als"], "reference": "als"}},
    }
    workflow_config.check_references(config)
    config["experiments"]["t"]["reference"] = "b"
    with pytest.raises(workflow_config.ConfigError, match=r"experiments\.t\.reference: 'b' must be one of"):
        workflow_config.check_references(config)
    del config["experiments"]["t"]["reference"]
    config["splits"]["s"]["kind"] = "item"
    with pytest.raises(workflow_config.ConfigError, match=r"experiments\.t\.methods: als on split 's' \(item\)"):
        workflow_config.check_references(config)
    config["splits"]["s"]["kind"] = "user"
    with pytest.raises(workflow_config.ConfigError, match=r"heater-e on split 's' \(user\): Heater needs"):
        workflow_config.check_references(config)
    config["splits"]["s"]["kind"] = "time"
    assert workflow_config.trained_encoders(config) == ["b"]
    assert workflow_config.pretrained_encoders(config) == ["e"]
    config["experiments"]["t"]["methods"].append("heater-zzz")
    with pytest.raises(workflow_config.ConfigError, match=r"experiments\.t\.methods: method 'heater-zzz'"):
        workflow_config.check_references(config)
    config["encoders"]["b"]["train_on"] = ["nope"]
    with pytest.raises(workflow_config.ConfigError, match=r"encoders\.b\.train_on: unknown split 'nope'"):
        workflow_config.check_references(config)


def test_table_specs_follow_the_config_and_bad_tables_are_named():
    config = {
        "datasets": {"d": {}},
        "splits": {"s": {"dataset": "d", "kind": "item"}},
        "encoders": {"e": {"base": "x"}, "b": {"base": "x", "train_on": ["s"]}},
        "evaluation": {"n_bootstrap": 50, "seed": 3},
        "experiments": {"x": {"split": "s", "phase": "validation", "methods": ["e", "heater-e", "b"]}},
        "tables": {
            "t": {
                "caption": "T",
                "blocks": [{"experiment": "x", "label": "D", "groups": {"CBF": ["b"], "Heater": ["heater-e"]}}],
                "labels": {"heater-e": "e"},
                "published": {"x": {"b": {"recall@20": 0.5}}},
            }
        },
    }
    workflow_config.check_references(config)
    assert workflow_config.table_names(config) == ["x", "t"]
    spec = workflow_config.table_spec(config, "t")
    assert (spec["caption"], spec["n_bootstrap"], spec["seed"]) == ("T", 50, 3)
    [block] = spec["blocks"]
    cbf, heater = block["groups"]
    assert cbf["rows"][0] == {
        "method": "b",
        "label": "b",
        "trained": True,
        "metrics": "results/eval/s/validation/b/metrics.json",
        "per_user": "results/eval/s/validation/b/per_user.parquet",
        "published": {"recall@20": 0.5},
        "fit": "train",  # the validation phase: fitted on train
        "tuning": "results/training/b/validation/tuning.json",
    }
    assert (heater["label"], heater["rows"][0]["label"], heater["rows"][0]["trained"]) == ("Heater", "e", False)
    own = workflow_config.table_spec(config, "x")  # an experiment's own table: one block, every method
    assert [r["method"] for r in own["blocks"][0]["groups"][0]["rows"]] == ["e", "heater-e", "b"]
    assert len(workflow_config.table_inputs(config, "t")) == 6  # metrics, per-user values and tuning of two rows

    for change, message in (
        (lambda t: t["blocks"][0].update(experiment="nope"), r"tables\.t\.blocks\[0\]\.experiment: unknown experiment"),
        (lambda t: t["blocks"][0]["groups"].update(CBF=["als"]), r"tables\.t\.blocks\[0\]\.groups\.CBF: \['als'\]"),
        (lambda t: t["published"]["x"].update(e={"recall@20": 0.1}), r"tables\.t\.published\.x\.e: not a row"),
    ):
        bad = copy.deepcopy(config)
        change(bad["tables"]["t"])
        with pytest.raises(workflow_config.ConfigError, match=message):
            workflow_config.check_references(bad)
    clash = copy.deepcopy(config)
    clash["tables"]["x"] = clash["tables"].pop("t")
    with pytest.raises(workflow_config.ConfigError, match=r"tables\.x: an experiment has this name"):
        workflow_config.check_references(clash)
