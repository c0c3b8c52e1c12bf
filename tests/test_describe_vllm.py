"""Engine vllm: the prompts and sampling parameters it sends are the paper's (checked without importing vllm)."""

from __future__ import annotations

import importlib.util
import sys

import pandas as pd
import pytest

from beeformer import contract
from beeformer.describe import DescribeConfig, DescribeError, describe
from beeformer.describe.cache import DescriptionCache, text_key
from beeformer.describe.prompt import conversation, render
from beeformer.describe.vllm_engine import VllmEngine

# The paper's prompt, spelled out here independently of the package's defaults.
SYSTEM = (
    "You are ecomerce shop designer. Given a item description create one paragraph long summarization of the product."
)
PREFILL = "Sure, here is your one paragraph summary of your product:"

#: A Llama-3-style chat template (header tokens, <|eot_id|> after every message), enough to check the rendering.
LLAMA3_STYLE = (
    "{{ '<|begin_of_text|>' }}{% for m in messages %}"
    "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + m['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)


class RecordingTokenizer:
    """Stands in for ``llm.get_tokenizer()``: renders LLAMA3_STYLE and records every call."""

    chat_template = LLAMA3_STYLE
    eos_token_id = 128009
    unk_token_id = None

    def __init__(self):
        self.calls = []

    def convert_tokens_to_ids(self, token):
        return {"<|eot_id|>": 128009, "<|end_of_text|>": 128001}.get(token)

    def apply_chat_template(self, messages, **kwargs):
        import jinja2

        self.calls.append((messages, kwargs))
        template = jinja2.Environment().from_string(self.chat_template)
        return template.render(messages=messages, add_generation_prompt=kwargs.get("add_generation_prompt", False))


def test_paper_defaults():
    config = DescribeConfig.from_dict({"engine": "vllm", "gpus": 2})
    engine = VllmEngine(config)
    assert engine.llm_kwargs() == {
        "model": "meta-llama/Meta-Llama-3.1-8B-Instruct",
        "dtype": "float16",
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.9,
    }
    assert engine.sampling_kwargs(RecordingTokenizer()) == {
        "temperature": 0.1,
        "top_p": 0.9,
        "max_tokens": 512,
        "stop_token_ids": [128009],  # eos and <|eot_id|> (the same token in Llama-3.1-Instruct)
    }
    assert conversation(config.prompt, "Title: Dune") == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Item description: Title: Dune"},
        {"role": "assistant", "content": PREFILL},
    ]


def test_prompts_are_the_authors_chat_template_call():
    engine = VllmEngine(DescribeConfig.from_dict({"engine": "vllm"}))
    tokenizer = RecordingTokenizer()
    features = "Title: Dune {first} novel\nAuthor: Frank Herbert"
    (prompt,) = engine.prompts(tokenizer, [features])
    messages, kwargs = tokenizer.calls[0]
    assert kwargs == {"tokenize": False}  # no generation prompt: the prefill is the last, complete message
    assert messages[1]["content"] == "Item description: " + features  # braces kept, plain concatenation
    assert prompt == (
        "<|begin_of_text|>"
        f"<|start_header_id|>system<|end_header_id|>\n\n{SYSTEM}<|eot_id|>"
        f"<|start_header_id|>user<|end_header_id|>\n\nItem description: {features}<|eot_id|>"
        f"<|start_header_id|>assistant<|end_header_id|>\n\n{PREFILL}<|eot_id|>"
    )


def test_configured_prompt_sampling_and_parallelism():
    config = DescribeConfig.from_dict(
        {
            "engine": "vllm",
            "model": "Qwen/Qwen2.5-7B-Instruct",
            "prompt": {"system": "Be brief.", "user": "Product: {text}", "prefill": "", "prefill_mode": "continue"},
            "sampling": {
                "temperature": 0.0,
                "top_p": 1.0,
                "max_tokens": 64,
                "seed": 7,
                "stop_tokens": ["<|end_of_text|>", "<|not-a-token|>"],
            },
            "vllm": {"tensor_parallel_size": 4, "gpu_memory_utilization": 0.5, "max_model_len": 4096},
        }
    )
    engine = VllmEngine(config)
    assert engine.llm_kwargs() == {
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "dtype": "float16",
        "tensor_parallel_size": 4,
        "gpu_memory_utilization": 0.5,
        "max_model_len": 4096,
        "seed": 7,
    }
    assert engine.sampling_kwargs(RecordingTokenizer()) == {
        "temperature": 0.0,
        "top_p": 1.0,
        "max_tokens": 64,
        "stop_token_ids": [128009, 128001],
        "seed": 7,
    }
    tokenizer = RecordingTokenizer()
    engine.prompts(tokenizer, ["x"])
    assert tokenizer.calls[0] == (
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Product: x"}],
        {"tokenize": False, "add_generation_prompt": True},
    )


def test_continue_mode_leaves_the_assistant_turn_open():
    config = DescribeConfig.from_dict({"engine": "vllm", "prompt": {"prefill_mode": "continue"}})
    tokenizer = RecordingTokenizer()
    render(tokenizer, config.prompt, "x")
    assert tokenizer.calls[0][1] == {"tokenize": False, "continue_final_message": True}


def test_bad_settings_are_named():
    with pytest.raises(DescribeError, match=r"describe: unknown setting\(s\) \['temperature'\]"):
        DescribeConfig.from_dict({"engine": "vllm", "temperature": 0.2})
    with pytest.raises(DescribeError, match=r"describe.sampling: unknown setting\(s\) \['top_k'\]"):
        DescribeConfig.from_dict({"engine": "vllm", "sampling": {"top_k": 5}})
    with pytest.raises(DescribeError, match="placeholder"):
        DescribeConfig.from_dict({"engine": "vllm", "prompt": {"user": "no placeholder"}})
    with pytest.raises(DescribeError, match="unknown engine"):
        DescribeConfig.from_dict({"engine": "llama.cpp"})


def test_fully_cached_run_needs_no_vllm(tmp_path, monkeypatch):
    """Descriptions made on a GPU machine are reused elsewhere: nothing to generate, so vllm is never imported."""
    monkeypatch.setitem(sys.modules, "vllm", None)  # importing vllm now fails
    features = tmp_path / "features.parquet"
    contract.write_table(pd.DataFrame({"item_id": ["1", "2"], "text": ["tent", "lamp"]}), features)
    config = DescribeConfig.from_dict({"engine": "vllm"})
    with pytest.raises(DescribeError, match="needs the vllm package"):
        describe(config, features, tmp_path / "items.parquet", cache_dir=tmp_path / "cache", progress=False)
    with DescriptionCache(tmp_path / "cache", "vllm", VllmEngine(config).cache_settings()) as cache:
        cache.put(text_key("tent"), "assistant\n\nA light tent.", "stop")
        cache.put(text_key("lamp"), " I can't help with that.", "stop")
    report = describe(config, features, tmp_path / "items.parquet", cache_dir=tmp_path / "cache", progress=False)
    assert report["generated"] == 0 and report["dropped"]["refusal"] == 1
    assert contract.read_items(tmp_path / "items.parquet").to_dict("list") == {
        "item_id": ["1"],
        "text": ["A light tent."],
    }


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm is not installed (GPU environment only)")
def test_sampling_params_accepts_the_kwargs():
    import vllm

    params = vllm.SamplingParams(
        **VllmEngine(DescribeConfig.from_dict({"engine": "vllm"})).sampling_kwargs(RecordingTokenizer())
    )
    assert params.temperature == 0.1 and params.top_p == 0.9 and params.max_tokens == 512
