"""The workflow's catalogue indexes (config `indexes`): which model and options the index rule gets, and names
that do not exist refused before any job runs."""

from __future__ import annotations

import pytest
from conftest import with_schema_defaults

from beeformer.workflow_config import ConfigError, check_references, final_model, index_options

CONFIG = with_schema_defaults(
    {
        "datasets": {"d": {}},
        "splits": {"s": {"dataset": "d", "kind": "item"}},
        "encoders": {
            "pre": {"base": "x"},
            "bee": {"base": "x", "train_on": ["s"]},
            "once": {"base": "x", "train_on": ["s"], "refit": False},
        },
        "experiments": {"e": {"split": "s", "methods": ["pre"]}},
        "indexes": {
            "exact": {"encoder": "bee", "dataset": "d"},
            "graph": {"encoder": "pre", "dataset": "d", "kind": "hnsw", "hnsw_m": 16, "ef_search": 200},
        },
    }
)


def test_an_index_uses_the_encoders_final_model_and_the_evaluations_encoding():
    assert [final_model(CONFIG, e) for e in ("pre", "bee", "once")] == ["pre", "bee/test", "once/validation"]
    assert index_options(CONFIG, "exact") == "--batch-size 64 --precision auto"
    config = {**CONFIG, "evaluation": {**CONFIG["evaluation"], "max_seq_length": 128}}
    assert index_options(config, "graph") == (
        "--kind hnsw --hnsw-m 16 --ef-search 200 --batch-size 64 --max-seq-length 128 --precision auto"
    )
    check_references(CONFIG)


@pytest.mark.parametrize(("key", "value"), [("encoder", "nope"), ("dataset", "gone")])
def test_an_index_naming_nothing_is_refused(key, value):
    config = {**CONFIG, "indexes": {"bad": {"encoder": "bee", "dataset": "d", key: value}}}
    with pytest.raises(ConfigError, match=f"indexes.bad.{key}: unknown {key} '{value}'"):
        check_references(config)
