"""The describe stage's settings: one dataclass per config section, with the paper's values as defaults.

A dataset's ``describe:`` entry in the workflow config maps onto :class:`DescribeConfig` (unknown keys are an
error that lists the known ones). Nothing here imports an engine's library.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from beeformer import contract

ENGINES = ("none", "vllm", "openai", "transformers", "published")
#: Engines that generate text with a language model (and so use the prompt, the sampling and the cache).
GENERATING_ENGINES = ("vllm", "openai", "transformers")

#: The paper's model and prompt (the authors' README, "LLM Data augmentations").
PAPER_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct"
PAPER_SYSTEM = (
    "You are ecomerce shop designer. Given a item description create one paragraph long summarization of the product."
)
PAPER_USER = "Item description: {text}"
PAPER_PREFILL = "Sure, here is your one paragraph summary of your product:"
#: Llama-3's end-of-turn token; the tokenizer's own end-of-sequence token is always a stop token too.
PAPER_STOP_TOKENS = ("<|eot_id|>",)

PREFILL_MODES = ("message", "continue")
TRUNCATED_ACTIONS = ("drop", "trim", "keep")


class DescribeError(contract.ContractError):
    """A describe setting or run failed; the message names the setting or the items and the fix."""


@dataclass(frozen=True)
class Prompt:
    """The conversation sent for each item.

    ``user`` holds ``{text}``, replaced by the item's gathered features (plain replacement, so braces in the
    features or elsewhere in the template are kept as they are). ``prefill`` is the start of the assistant's
    answer. ``prefill_mode``: ``message`` renders it as a complete assistant message, exactly as the authors'
    code did (``apply_chat_template([system, user, assistant], tokenize=False)``; Llama-3's template closes that
    turn, so the model opens a new assistant turn); ``continue`` leaves the assistant turn open so the model
    continues the prefill. An empty prefill asks for a fresh assistant turn (``add_generation_prompt``).
    """

    system: str = PAPER_SYSTEM
    user: str = PAPER_USER
    prefill: str = PAPER_PREFILL
    prefill_mode: str = "message"

    def __post_init__(self) -> None:
        if "{text}" not in self.user:
            raise DescribeError(f"describe.prompt.user: {self.user!r} has no '{{text}}' placeholder for the features")
        if self.prefill_mode not in PREFILL_MODES:
            raise DescribeError(f"describe.prompt.prefill_mode: {self.prefill_mode!r}; use one of {PREFILL_MODES}")


@dataclass(frozen=True)
class Sampling:
    """Sampling settings (the paper's: temperature 0.1, top-p 0.9, at most 512 new tokens).

    ``temperature: 0`` is greedy decoding. ``stop_tokens`` are tokens that end a description besides the
    tokenizer's end-of-sequence token (tokens the tokenizer does not know are ignored); ``seed`` makes sampling
    repeatable where the engine supports it (``null``: the engine's default).
    """

    temperature: float = 0.1
    top_p: float = 0.9
    max_tokens: int = 512
    seed: int | None = None
    stop_tokens: tuple[str, ...] = PAPER_STOP_TOKENS

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop_tokens", tuple(self.stop_tokens))
        if self.temperature < 0:
            raise DescribeError(f"describe.sampling.temperature: {self.temperature} is negative")
        if not 0 < self.top_p <= 1:
            raise DescribeError(f"describe.sampling.top_p: {self.top_p} is not in (0, 1]")
        if self.max_tokens < 1:
            raise DescribeError(f"describe.sampling.max_tokens: {self.max_tokens} < 1")


@dataclass(frozen=True)
class Filter:
    """Which outputs are dropped (see :mod:`beeformer.describe.refusals` for the rules).

    ``enabled``: ``null`` turns the filter on for generating engines and off for ``published`` (the authors'
    released texts are already their filtered set). ``extra_patterns``: more refusal regular expressions,
    searched in the whole output. ``min_chars``: outputs shorter than this (after cleaning) count as empty.
    ``truncated``: what to do with an output cut off at ``max_tokens`` — ``drop`` it, ``trim`` it back to its
    last complete sentence (dropped when it has none), or ``keep`` it.
    """

    enabled: bool | None = None
    extra_patterns: tuple[str, ...] = ()
    min_chars: int = 1
    truncated: str = "drop"

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra_patterns", tuple(self.extra_patterns))
        if self.truncated not in TRUNCATED_ACTIONS:
            raise DescribeError(f"describe.filter.truncated: {self.truncated!r}; use one of {TRUNCATED_ACTIONS}")


@dataclass(frozen=True)
class VllmSettings:
    """Offline ``vllm.LLM``. Settings left ``auto``/null are chosen for the device vLLM runs on (see
    :mod:`beeformer.describe.vllm_engine`): on a GPU the paper's, on a CPU ones that fit the machine.

    ``tensor_parallel_size`` null: ``describe.gpus`` (at least 1). ``gpu_memory_utilization`` is the share of
    GPU memory vLLM reserves — on a CPU, the share of *RAM*; ``kv_cache_gib`` sizes the KV cache directly instead
    (vLLM's ``kv_cache_memory_bytes``). ``chunk_size`` prompts go to ``LLM.generate`` at once; each chunk's
    descriptions are cached when it returns, so a crash loses at most one chunk.
    """

    dtype: str = "auto"
    tensor_parallel_size: int | None = None
    gpu_memory_utilization: float | None = None
    kv_cache_gib: float | None = None
    max_model_len: int | None = None
    enforce_eager: bool | None = None
    chunk_size: int = 512


@dataclass(frozen=True)
class OpenAISettings:
    """An OpenAI-compatible ``/chat/completions`` endpoint (for example ``vllm serve``).

    ``api_key_env`` names the environment variable holding the key (sent as a bearer token when set; never
    written anywhere). ``concurrency`` requests are in flight at once; each may take ``timeout`` seconds and is
    retried ``max_retries`` times after a timeout, a connection error, HTTP 408/409/425/429/5xx or a malformed
    reply, waiting ``backoff * 2**attempt`` seconds (at most 60; a ``Retry-After`` header wins). ``extra_body``
    is merged into every request (server-specific options such as vLLM's ``continue_final_message``).
    """

    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout: float = 120.0
    max_retries: int = 5
    backoff: float = 1.0
    extra_body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TransformersSettings:
    """A local Hugging Face causal LM; prompts are sorted by length and generated ``batch_size`` at a time.

    ``dtype``: ``auto`` (the checkpoint's), ``float32``, ``bfloat16`` or ``float16``; ``device``: ``auto`` (CUDA
    when available, else CPU), or a torch device string.
    """

    dtype: str = "auto"
    device: str = "auto"
    batch_size: int = 8


@dataclass(frozen=True)
class PublishedSettings:
    """Descriptions released with the paper: a feather, parquet or CSV/TSV file (may be compressed).

    ``id_column`` holds the ids of the features' ``item_id`` (compared as strings), ``text_column`` the text.
    """

    path: str = ""
    id_column: str = "item_id"
    text_column: str = "text"


@dataclass(frozen=True)
class DescribeConfig:
    """One dataset's ``describe:`` entry."""

    engine: str = "none"
    gpus: int | None = None
    model: str = PAPER_MODEL
    allow_failures: int = 0
    prompt: Prompt = field(default_factory=Prompt)
    sampling: Sampling = field(default_factory=Sampling)
    filter: Filter = field(default_factory=Filter)
    vllm: VllmSettings = field(default_factory=VllmSettings)
    openai: OpenAISettings = field(default_factory=OpenAISettings)
    transformers: TransformersSettings = field(default_factory=TransformersSettings)
    published: PublishedSettings = field(default_factory=PublishedSettings)

    @classmethod
    def from_dict(cls, params: dict[str, Any] | None) -> DescribeConfig:
        """Build from a config entry; unknown keys (at any level) are an error that lists the known ones."""
        params = dict(params or {})
        values = _known(cls, params, "describe", allowed=set(_SECTIONS) | _TOP_LEVEL)
        for name in _SECTIONS:
            if name in values:
                section = values[name]
                if not isinstance(section, dict):
                    raise DescribeError(f"describe.{name}: expected a mapping, got {section!r}")
                values[name] = _SECTIONS[name](**_known(_SECTIONS[name], section, f"describe.{name}"))
        config = cls(**values)
        if config.engine not in ENGINES:
            raise DescribeError(f"describe.engine: unknown engine {config.engine!r}; use one of {ENGINES}")
        if config.engine == "published" and not config.published.path:
            raise DescribeError("describe.published.path: engine 'published' needs the file of released descriptions")
        if config.allow_failures < 0:
            raise DescribeError(f"describe.allow_failures: {config.allow_failures} is negative")
        return config

    @property
    def filter_enabled(self) -> bool:
        if self.filter.enabled is None:
            return self.engine in GENERATING_ENGINES
        return self.filter.enabled

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_SECTIONS: dict[str, type] = {
    "prompt": Prompt,
    "sampling": Sampling,
    "filter": Filter,
    "vllm": VllmSettings,
    "openai": OpenAISettings,
    "transformers": TransformersSettings,
    "published": PublishedSettings,
}
_TOP_LEVEL = {"engine", "gpus", "model", "allow_failures"}


def _known(cls: type, params: dict[str, Any], where: str, allowed: set[str] | None = None) -> dict[str, Any]:
    known = allowed if allowed is not None else {f.name for f in fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise DescribeError(f"{where}: unknown setting(s) {unknown}; known: {sorted(known)}")
    return dict(params)
