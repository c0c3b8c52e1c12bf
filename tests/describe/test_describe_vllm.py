"""Engine vllm: the prompts and sampling parameters it sends are the paper's (checked without importing vllm)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from beeformer import contract
from beeformer.describe import DescribeConfig, DescribeError, describe
from beeformer.describe.cache import DescriptionCache, text_key
from beeformer.describe.engine import local_model_folder
from beeformer.describe.prompt import conversation, render
from beeformer.describe.vllm_engine import GIB, Machine, VllmEngine

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


GPU = Machine("gpu")
#: A CPU with bf16 units and 64 GiB of RAM, 40 GiB of it free; and one with AVX2 only.
CPU_BF16 = Machine("cpu", cpu_bf16=True, total_bytes=64 * GIB, available_bytes=40 * GIB)
CPU_AVX2 = Machine("cpu", cpu_bf16=False, total_bytes=8 * GIB, available_bytes=6 * GIB)


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
    engine = VllmEngine(config, GPU)
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
    engine = VllmEngine(config, GPU)
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
    with pytest.raises(DescribeError, match=r"cannot import vllm .*vllm_python"):
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


def model_folder(path, *, chat_template=True, weights_bytes=0, max_positions=131072):
    """A model folder as Hugging Face saves one: config.json, tokenizer_config.json, weights of a given size."""
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"max_position_embeddings": max_positions, "torch_dtype": "bfloat16"}))
    tokenizer_config = {"chat_template": LLAMA3_STYLE} if chat_template else {}
    (path / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    with open(path / "model.safetensors", "wb") as handle:
        handle.truncate(weights_bytes)
    return str(path)


def test_cpu_defaults_fit_the_machine(tmp_path, monkeypatch):
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    model = model_folder(tmp_path / "m", max_positions=2048)
    config = DescribeConfig.from_dict({"engine": "vllm", "model": model})
    assert VllmEngine(config, CPU_BF16).llm_kwargs() == {
        "model": model,
        "dtype": "bfloat16",
        "tensor_parallel_size": 1,
        "kv_cache_memory_bytes": 2 * GIB,  # 2 GiB: less than a quarter of the free 40 GiB
        "max_model_len": 2048,  # the model's own, below 4096
        "enforce_eager": True,
    }
    avx2 = VllmEngine(DescribeConfig.from_dict({"engine": "vllm"}), CPU_AVX2).llm_kwargs()
    assert avx2["dtype"] == "float32" and avx2["kv_cache_memory_bytes"] == int(1.5 * GIB)  # a quarter of 6 GiB
    assert avx2["max_model_len"] == 4096 and "gpu_memory_utilization" not in avx2
    assert VllmEngine(config, CPU_AVX2).output_settings() == {"dtype": "float32"}  # the cache key has the real dtype


def test_cpu_settings_given_are_kept(monkeypatch):
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    settings = {"dtype": "float32", "gpu_memory_utilization": 0.3, "max_model_len": 512, "enforce_eager": False}
    kwargs = VllmEngine(DescribeConfig.from_dict({"engine": "vllm", "vllm": settings}), CPU_BF16).llm_kwargs()
    assert kwargs["dtype"] == "float32" and kwargs["gpu_memory_utilization"] == 0.3
    assert "kv_cache_memory_bytes" not in kwargs and kwargs["max_model_len"] == 512 and "enforce_eager" not in kwargs
    sized = VllmEngine(DescribeConfig.from_dict({"engine": "vllm", "vllm": {"kv_cache_gib": 0.5}}), GPU).llm_kwargs()
    assert sized["kv_cache_memory_bytes"] == GIB // 2 and sized["gpu_memory_utilization"] == 0.9
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "3")  # vLLM's own variable: left to vLLM
    kwargs = VllmEngine(DescribeConfig.from_dict({"engine": "vllm"}), CPU_BF16).llm_kwargs()
    assert "kv_cache_memory_bytes" not in kwargs and "gpu_memory_utilization" not in kwargs


def test_too_little_memory_is_refused_before_loading(tmp_path, monkeypatch):
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    share = VllmEngine(DescribeConfig.from_dict({"engine": "vllm", "vllm": {"gpu_memory_utilization": 0.9}}), CPU_AVX2)
    # 0.9 of 8 GiB is 7.2 GiB > 6 GiB free
    with pytest.raises(
        DescribeError, match=r"describe.vllm.gpu_memory_utilization: 0.9 .* 7.2 GiB, but 6.0 GiB is free"
    ):
        share.check_memory(share.llm_kwargs())
    model = model_folder(tmp_path / "big", weights_bytes=5 * GIB)  # bfloat16 on disk: 10 GiB as float32
    engine = VllmEngine(DescribeConfig.from_dict({"engine": "vllm", "model": model}), CPU_AVX2)
    with pytest.raises(
        DescribeError, match=r"describe.vllm.kv_cache_gib: the model's weights \(~10.0 GiB as float32\)"
    ):
        engine.check_memory(engine.llm_kwargs())
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "8")
    tiny = VllmEngine(DescribeConfig.from_dict({"engine": "vllm", "model": model_folder(tmp_path / "t")}), CPU_AVX2)
    with pytest.raises(DescribeError, match=r"VLLM_CPU_KVCACHE_SPACE: .* 8.0 GiB KV cache"):
        tiny.check_memory(tiny.llm_kwargs())
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")
    tiny.check_memory(tiny.llm_kwargs())  # fits
    VllmEngine(DescribeConfig.from_dict({"engine": "vllm"}), GPU).check_memory({})  # a GPU is vLLM's to check


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: str(tmp / "missing"), r"describe.model: the model folder '.*missing' does not exist"),
        (lambda tmp: model_folder(tmp / "base", chat_template=False), r"describe.model: '.*base' has no chat template"),
    ],
)
def test_bad_model_folders_are_named_before_vllm_loads(tmp_path, monkeypatch, make, message):
    """The folder is checked after the import of vllm (here a stand-in) and before LLM() starts."""
    started = []
    monkeypatch.setitem(sys.modules, "vllm", SimpleNamespace(LLM=lambda **kwargs: started.append(kwargs)))
    engine = VllmEngine(DescribeConfig.from_dict({"engine": "vllm", "model": make(tmp_path)}), GPU)
    with pytest.raises(DescribeError, match=message):
        next(engine.generate([]))
    assert started == []


def test_chat_template_files_count(tmp_path):
    folder = model_folder(tmp_path / "m", chat_template=False)
    (Path(folder) / "chat_template.jinja").write_text(LLAMA3_STYLE)
    assert local_model_folder(folder) == Path(folder)
    assert local_model_folder("meta-llama/Meta-Llama-3.1-8B-Instruct") is None  # a hub name: vLLM resolves it
