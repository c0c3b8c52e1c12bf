"""Describe stage: turn each item's gathered features into the text the encoder is trained on.

The paper rewrites the features into a one-paragraph description with Llama-3.1-8B-Instruct (vLLM) and drops
the items the model refuses. Engines, chosen by ``describe.engine`` in the config:

- ``none``: the features as they are (the embedded demo, and datasets whose texts already are descriptions);
- ``vllm``: offline ``vllm.LLM`` with the authors' model, prompt and sampling (:mod:`.vllm_engine`);
- ``openai``: any OpenAI-compatible chat endpoint, e.g. ``vllm serve`` (:mod:`.openai_engine`);
- ``transformers``: a local Hugging Face causal LM, batched; runs on a CPU with a small model
  (:mod:`.transformers_engine`);
- ``published``: descriptions released with the paper, read from a file (:mod:`.published`).

Generated outputs are cached as soon as they are made (:mod:`.cache`), then cleaned and filtered
(:mod:`.refusals`); a report with counts and examples is written beside the items. The stage imports no other
stage, only :mod:`beeformer.contract`.
"""

from beeformer.describe.settings import ENGINES, DescribeConfig, DescribeError
from beeformer.describe.stage import describe, make_engine

__all__ = ["ENGINES", "DescribeConfig", "DescribeError", "describe", "make_engine"]
