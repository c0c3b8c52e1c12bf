"""The model behind an index: loaded as the evaluate stage loads it, identified by a hash of its files.

Texts go through :func:`beeformer.encoding.encode`, the path of the embed stage and of validation, so an item
embedded here equals its row in ``results/embeddings/``: same batch size, sequence limit, prompt and precision.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sentence_transformers import SentenceTransformer

from beeformer import contract
from beeformer.contract.models import ENCODE_BATCH_SIZE, resolve_model
from beeformer.encoding import encode, load_encoder, model_sha256
from beeformer.precision import Precision, autocast_dtype

#: What the manifest records about the model, and what a model must match to use an index.
IDENTITY = ("model_sha256", "max_seq_length", "text_prefix")


@dataclass
class Encoder:
    """A sentence-Transformer with the settings an index was (or is being) built with."""

    path: str
    model: SentenceTransformer
    precision: Precision
    batch_size: int

    @classmethod
    def load(
        cls,
        model: str | os.PathLike[str],
        max_seq_length: int | None = None,
        precision: Precision = "auto",
        batch_size: int = ENCODE_BATCH_SIZE,
    ) -> Encoder:
        """Load a model folder (or a packaged model's name); ``precision`` ``auto`` is resolved on this device."""
        path = resolve_model(str(model))
        if not Path(path).is_dir():
            raise contract.ContractError(f"--model {model}: not a model folder (nor a packaged model's name)")
        loaded = load_encoder(path, max_seq_length)
        resolved: Precision = "bf16" if autocast_dtype(precision, loaded.device) else "fp32"
        return cls(str(model), loaded, resolved, batch_size)

    @property
    def text_prefix(self) -> str:
        """The prompt the model puts before every text (its default prompt), or ''."""
        name = self.model.default_prompt_name
        return self.model.prompts.get(name, "") if name else ""

    @property
    def dimensions(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def identity(self) -> dict[str, Any]:
        """What the manifest records about the model (:data:`IDENTITY`, with its path and precision)."""
        return {
            "path": self.path,
            "model_sha256": model_sha256(resolve_model(self.path)),
            "max_seq_length": self.model.max_seq_length,
            "text_prefix": self.text_prefix,
            "precision": self.precision,
            "batch_size": self.batch_size,
        }

    def encode(self, texts: list[str], progress: bool = True) -> np.ndarray:
        """L2-normalised float32 embeddings (texts x d)."""
        return encode(self.model, texts, self.batch_size, self.precision, progress=progress)


def check_identity(recorded: dict[str, Any], encoder: Encoder, where: str) -> None:
    """Refuse a model that differs from the one an index was built with, naming what differs."""
    current = encoder.identity()
    differing = [
        f"{key} {current[key]!r} (index: {recorded[key]!r})" for key in IDENTITY if current[key] != recorded[key]
    ]
    if differing:
        raise contract.ContractError(
            f"{where}: was built with model {recorded['path']}, and --model {encoder.path} differs: "
            f"{'; '.join(differing)}; use the index's model or build a new index"
        )
