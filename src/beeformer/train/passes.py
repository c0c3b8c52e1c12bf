"""How each pass of a training step runs: dropout on or off, and which attention implementation.

``dropout: true`` trains in training mode, as the authors' code does: every hidden state and attention
probability gets a random mask, drawn on the device for each forward. ``false`` (the default, chosen on
validation: docs/method.md) trains in eval mode (no masks, no random numbers): on a CPU the masks cost more than
the matrix products they sit between (docs/benchmarks.md).

``attention`` picks the implementation of transformers' attention interface for the step's two kinds of pass:
the no-grad pass (b), which also serves validation and encoding, and the passes that keep an autograd graph
(pass (d), or the single pass). ``auto`` is a fixed rule per device:

- CUDA: SDPA for both (fused kernels, forward and backward);
- CPU with dropout off: SDPA for pass (b) and eager for the gradient passes. PyTorch's CPU flash-attention
  backward is slower than eager attention's plain matrix products; its forward is faster. Pass (d) then differs
  from pass (b) by rounding only: the two implementations compute the same function;
- CPU with dropout on: SDPA for both, so that pass (d) replays pass (b)'s masks exactly (each implementation
  draws its attention masks in its own way).

``sdpa`` or ``eager`` uses that one implementation everywhere. A model whose architecture has only its own
attention (MPNet, the paper's base model, in transformers 5) keeps it, and the log says so. Switching sets the
model config's implementation: the weights are neither copied nor reloaded.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

Attention = Literal["auto", "sdpa", "eager"]


@dataclass(frozen=True)
class Passes:
    """The attention implementation of the no-grad pass and of the gradient passes (None: the model's own)."""

    no_grad: str | None
    grad: str | None

    @property
    def mixed(self) -> bool:
        return self.no_grad != self.grad

    def describe(self) -> str:
        if self.no_grad is None:
            return "the model's own attention"
        if self.mixed:
            return f"{self.no_grad} attention without gradients, {self.grad} with"
        return f"{self.no_grad} attention"


def plan_passes(model: SentenceTransformer, attention: Attention, dropout: bool, device: torch.device) -> Passes:
    """The passes for this model, setting and device (the rule of the module docstring)."""
    transformer = model[0].auto_model
    if not switchable(model):
        log.info(
            "attention: %s has only its own attention implementation in transformers (%s); `attention: %s` "
            "does not apply",
            type(transformer).__name__,
            transformer.config._attn_implementation,
            attention,
        )
        return Passes(None, None)
    if attention != "auto":
        return Passes(attention, attention)
    if device.type == "cpu" and not dropout:
        return Passes("sdpa", "eager")
    return Passes("sdpa", "sdpa")


def switchable(model: SentenceTransformer) -> bool:
    """Whether the model's Transformer offers SDPA and eager attention through transformers' interface."""
    transformer = getattr(model[0], "auto_model", None)
    return (
        transformer is not None
        and bool(getattr(transformer, "_supports_sdpa", False))
        and hasattr(transformer, "set_attn_implementation")
        and transformer._can_set_attn_implementation()
    )


@contextlib.contextmanager
def attention(model: SentenceTransformer, implementation: str | None) -> Iterator[None]:
    """Run the block with this attention implementation (None: leave the model as it is), then restore it."""
    if implementation is None:
        yield
        return
    transformer = model[0].auto_model
    before = transformer.config._attn_implementation
    if before != implementation:
        transformer.set_attn_implementation(implementation)
    try:
        yield
    finally:
        if transformer.config._attn_implementation != before:
            transformer.set_attn_implementation(before)


def set_training_mode(model: SentenceTransformer, dropout: bool) -> None:
    """Training mode with dropout, eval mode without (the model's dropout rates are left as they are)."""
    model.train(dropout)
