"""Engine ``transformers``: a local Hugging Face causal LM, batched, so the stage also runs on a CPU.

Prompts are rendered with the tokenizer's chat template (as for vLLM), tokenized without adding special tokens
(the template already has them), sorted by length so that a batch holds prompts of similar length, left-padded
and generated ``transformers.batch_size`` at a time. Generation stops at the end-of-sequence token and the
``sampling.stop_tokens``; an output that reached ``max_tokens`` without one has finish reason ``length``.
``temperature: 0`` is greedy decoding; otherwise the tokens are sampled with ``temperature`` and ``top_p``
(seeded per batch by ``sampling.seed`` when set).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from beeformer.contract.models import resolve_model
from beeformer.describe import prompt as prompts
from beeformer.describe.engine import Engine, Request, Result, local_model_folder
from beeformer.describe.settings import DescribeError

log = logging.getLogger(__name__)

DTYPES = ("auto", "float32", "bfloat16", "float16")


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(self, config):
        super().__init__(config)
        if config.transformers.dtype not in DTYPES:
            raise DescribeError(f"describe.transformers.dtype: {config.transformers.dtype!r}; use one of {DTYPES}")
        if config.transformers.batch_size < 1:
            raise DescribeError("describe.transformers.batch_size must be at least 1")
        self.model = None
        self.tokenizer = None
        self.stop_ids: list[int] = []

    def output_settings(self) -> dict[str, Any]:
        return {"dtype": self.config.transformers.dtype}

    def load(self) -> None:
        """Load the tokenizer (left padding) and the model (eval mode, on the configured device)."""
        if self.model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        settings = self.config.transformers
        local_model_folder(self.config.model)
        source = resolve_model(self.config.model)
        tokenizer = AutoTokenizer.from_pretrained(source)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token is None:
                raise DescribeError(f"describe.model {self.config.model!r}: the tokenizer has no pad or eos token")
            tokenizer.pad_token = tokenizer.eos_token
        device = settings.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = settings.dtype if settings.dtype == "auto" else getattr(torch, settings.dtype)
        started = time.perf_counter()
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(device).eval()
        self.load_seconds = time.perf_counter() - started
        self.tokenizer, self.model, self.device = tokenizer, model, device
        self.stop_ids = prompts.stop_token_ids(tokenizer, self.config.sampling)
        if not self.stop_ids:
            raise DescribeError(f"describe.model {self.config.model!r}: no end-of-sequence or stop token known")
        log.info("transformers: %s on %s (%s), stop ids %s", source, device, settings.dtype, self.stop_ids)

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        self.load()
        tokenizer = self.tokenizer
        rendered = [prompts.render(tokenizer, self.config.prompt, r.text) for r in requests]
        lengths = [len(ids) for ids in tokenizer(rendered, add_special_tokens=False)["input_ids"]]
        order = sorted(range(len(requests)), key=lambda i: (-lengths[i], i))
        size = self.config.transformers.batch_size
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            for index, (output, finish) in zip(batch, self.generate_batch([rendered[i] for i in batch]), strict=True):
                yield Result(requests[index].key, output, finish)

    def generate_batch(self, prompt_strings: Sequence[str]) -> list[tuple[str, str]]:
        """Generate for rendered prompts at once (left padding); (text, finish reason) per prompt."""
        import torch

        self.load()
        sampling = self.config.sampling
        encoded = self.tokenizer(list(prompt_strings), return_tensors="pt", padding=True, add_special_tokens=False)
        input_ids = encoded["input_ids"].to(self.device)
        attention_mask = encoded["attention_mask"].to(self.device)
        options: dict[str, Any] = {
            "max_new_tokens": sampling.max_tokens,
            "eos_token_id": self.stop_ids,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if sampling.temperature > 0:
            options.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)
        else:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            generated = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **options)
        new_tokens = generated[:, input_ids.shape[1] :].tolist()
        results = []
        for tokens in new_tokens:
            stop_at = next((i for i, token in enumerate(tokens) if token in self.stop_ids), None)
            finish = "stop" if stop_at is not None else "length"
            kept = tokens if stop_at is None else tokens[:stop_at]
            results.append((self.tokenizer.decode(kept, skip_special_tokens=True), finish))
        return results

    def close(self) -> None:
        self.model = None
