"""Item embeddings: one dataset's item texts through one encoder, computed once and shared.

Content-based scoring of every split and phase of the dataset, and Heater over the same encoder, read the one
embeddings file (``results/embeddings/<dataset>/<model>.parquet``, a pretrained encoder or a trained one's
validation or test model) instead of encoding again.
Embeddings are L2-normalised float32, whatever precision the encoder ran in. While it runs, the work is kept in
blocks beside the output (``<output>.blocks/``), so that an interrupted run encodes only the blocks it had not.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np

from beeformer import contract
from beeformer.contract.models import ENCODE_BATCH_SIZE
from beeformer.encoding import encode, load_encoder, model_sha256
from beeformer.precision import Precision

log = logging.getLogger(__name__)


def embed_items(
    model_dir: str | os.PathLike[str],
    items_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    batch_size: int = ENCODE_BATCH_SIZE,
    max_seq_length: int | None = None,
    precision: Precision = "auto",
) -> np.ndarray:
    """Embed every item of ``items_path`` with the encoder in ``model_dir``; write and return the matrix."""
    items = contract.read_items(items_path).drop_duplicates("item_id")
    if items.empty:
        raise contract.ContractError(f"{items_path}: no items to embed")
    started = time.perf_counter()
    blocks = Path(f"{out_path}.blocks") / model_sha256(model_dir)[:16]
    embeddings = encode_texts(model_dir, items["text"].tolist(), batch_size, max_seq_length, precision, blocks)
    contract.write_embeddings(items["item_id"].to_numpy(), embeddings, out_path)
    shutil.rmtree(blocks.parent, ignore_errors=True)
    seconds = time.perf_counter() - started
    print(
        f"embeddings: {len(items)} items x {embeddings.shape[1]} dims from {model_dir} in {seconds:.0f} s "
        f"({len(items) / seconds:.1f} items/s) -> {out_path}"
    )
    return embeddings


def encode_texts(
    model_dir: str | os.PathLike[str],
    texts: list[str],
    batch_size: int = ENCODE_BATCH_SIZE,
    max_seq_length: int | None = None,
    precision: Precision = "auto",
    folder: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """L2-normalised float32 embeddings of ``texts`` by the encoder in ``model_dir`` (see :func:`encode`, also for
    the blocks kept in ``folder``)."""
    return encode(load_encoder(model_dir, max_seq_length), texts, batch_size, precision, folder=folder)
