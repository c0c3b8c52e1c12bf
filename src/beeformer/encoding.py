"""Item texts to the contract's embeddings (L2-normalised float32), shared by the evaluate stage and by
validation during training, so that a model is scored the same way in both."""

from __future__ import annotations

import logging
import os

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from beeformer.contract.models import ENCODE_BATCH_SIZE
from beeformer.precision import Precision, autocast, autocast_dtype

log = logging.getLogger(__name__)


def load_encoder(model_dir: str | os.PathLike[str], max_seq_length: int | None = None) -> SentenceTransformer:
    """A sentence-Transformer folder loaded for encoding, on CUDA where there is one, else the CPU; its own
    sequence limit unless ``max_seq_length`` overrides it."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = SentenceTransformer(str(model_dir), device=str(device), trust_remote_code=True)
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    return model


def encode(
    model: SentenceTransformer,
    texts: list[str],
    batch_size: int = ENCODE_BATCH_SIZE,
    precision: Precision = "auto",
    progress: bool = True,
) -> np.ndarray:
    """L2-normalised float32 embeddings of ``texts`` in eval mode (the model's own prompt, if it saved one, is
    applied; the caller restores train mode).

    ``precision``: see :mod:`beeformer.precision` (``auto``: bf16 autocast on CUDA and on CPUs with bf16 units).
    """
    model.eval()
    dtype = autocast_dtype(precision, model.device)
    log.info("encoding %d texts on %s in %s", len(texts), model.device, "bf16" if dtype else "fp32")
    with autocast(model.device, dtype):
        embeddings = model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
    return np.asarray(embeddings, dtype=np.float32)
