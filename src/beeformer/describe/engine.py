"""What every generating engine provides: requests in, results out (in any order, as soon as each is done)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from beeformer.describe.settings import DescribeConfig


@dataclass(frozen=True)
class Request:
    """One item text to describe; ``key`` identifies it in the cache."""

    key: str
    text: str


@dataclass(frozen=True)
class Result:
    """A finished request: the raw output and finish reason, or an ``error`` message (nothing is cached then)."""

    key: str
    output: str | None = None
    finish_reason: str | None = None
    error: str | None = None


class Engine:
    """Base class. Engines load their model lazily, on the first ``generate`` call, so a fully cached rerun never
    loads (or imports) anything."""

    name = "base"

    def __init__(self, config: DescribeConfig):
        self.config = config

    def output_settings(self) -> dict[str, Any]:
        """Engine settings that change the outputs (part of the cache key); speed-only settings stay out."""
        return {}

    def cache_settings(self) -> dict[str, Any]:
        """Everything a cached output depends on (see :mod:`beeformer.describe.cache`)."""
        return {
            "engine": self.name,
            "model": self.config.model,
            "prompt": asdict(self.config.prompt),
            "sampling": asdict(self.config.sampling),
            "engine_settings": self.output_settings(),
        }

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the model or connections (called once, after the last result)."""
