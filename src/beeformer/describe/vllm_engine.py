"""Engine ``vllm``: offline ``vllm.LLM`` generation, as the authors generated the paper's descriptions.

The authors' setup (README of their repository): ``LLM(model="meta-llama/Meta-Llama-3.1-8B-Instruct",
dtype="float16")``; prompts from ``tokenizer.apply_chat_template(conversation, tokenize=False)`` with the
conversation of :func:`beeformer.describe.prompt.conversation`; ``SamplingParams(temperature=0.1, top_p=0.9,
max_tokens=512, stop_token_ids=[eos, <|eot_id|>])``; the text of the first output. Here the prompts go to
``LLM.generate`` in chunks of ``vllm.chunk_size`` so that each chunk is cached as soon as it returns.

``vllm`` is imported only when something has to be generated: it needs its own GPU environment
(``envs/vllm.yaml``) because it pins a CUDA build of torch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from beeformer.describe import prompt as prompts
from beeformer.describe.engine import Engine, Request, Result
from beeformer.describe.settings import DescribeError

log = logging.getLogger(__name__)


class VllmEngine(Engine):
    name = "vllm"

    def __init__(self, config):
        super().__init__(config)
        self._llm = None

    def output_settings(self) -> dict[str, Any]:
        return {"dtype": self.config.vllm.dtype}

    def llm_kwargs(self) -> dict[str, Any]:
        """Arguments of ``vllm.LLM``."""
        settings = self.config.vllm
        kwargs: dict[str, Any] = {
            "model": self.config.model,
            "dtype": settings.dtype,
            "tensor_parallel_size": settings.tensor_parallel_size or max(self.config.gpus or 1, 1),
            "gpu_memory_utilization": settings.gpu_memory_utilization,
        }
        if settings.max_model_len is not None:
            kwargs["max_model_len"] = settings.max_model_len
        if settings.enforce_eager:
            kwargs["enforce_eager"] = True
        if self.config.sampling.seed is not None:
            kwargs["seed"] = self.config.sampling.seed
        return kwargs

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
                f"describe.engine 'vllm' needs the vllm package, which is not importable here ({error}). "
                "Run this rule with --use-conda (envs/vllm.yaml, a GPU machine), or use engine 'openai' against a "
                "running `vllm serve`, or 'transformers' for a small local model."
            ) from error
        log.info("vllm: loading %s", self.llm_kwargs())
        self._llm = vllm.LLM(**self.llm_kwargs())
        return vllm

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        vllm = self._load()
        tokenizer = self._llm.get_tokenizer()
        params = vllm.SamplingParams(**self.sampling_kwargs(tokenizer))
        size = max(self.config.vllm.chunk_size, 1)
        for start in range(0, len(requests), size):
            chunk = requests[start : start + size]
            outputs = self._llm.generate(self.prompts(tokenizer, [r.text for r in chunk]), params, use_tqdm=False)
            for request, output in zip(chunk, outputs, strict=True):
                completion = output.outputs[0]
                yield Result(request.key, completion.text, completion.finish_reason)

    def close(self) -> None:
        self._llm = None
