"""Settings of an index and of the service, with their defaults (light: the command line reads them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["flat", "hnsw"]
KINDS: tuple[Kind, ...] = ("flat", "hnsw")


@dataclass(frozen=True)
class IndexSettings:
    """How the FAISS index is built and searched (``m``, ``ef_construction``, ``ef_search``: HNSW only)."""

    kind: Kind = "flat"
    m: int = 32
    ef_construction: int = 64
    ef_search: int = 128

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> IndexSettings:
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Limits:
    """Bounds on one request."""

    max_k: int = 1000
    max_history: int = 1000
    max_texts: int = 100
    max_items: int = 1000
    max_request_bytes: int = 1 << 20
