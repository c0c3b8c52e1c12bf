"""Item texts to the contract's embeddings (L2-normalised float32), shared by the evaluate stage and by
validation during training, so that a model is scored the same way in both.

Encoding a catalogue with a large encoder takes long on a CPU (all-mpnet-base-v2: ~1,400 CPU-seconds for 9,000
texts), so :func:`encode` can keep its work in blocks on disk: interrupted and called again, it encodes only the
blocks still missing.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from tqdm.auto import tqdm

from beeformer import contract
from beeformer.contract.models import ENCODE_BATCH_SIZE
from beeformer.precision import Precision, autocast, autocast_dtype

log = logging.getLogger(__name__)

#: Files of a model folder that do not change what it computes (model cards).
DOCUMENTATION_SUFFIXES = (".md",)


def model_sha256(model_dir: str | os.PathLike[str]) -> str:
    """The identity of a model folder: SHA-256 over its files' relative paths and bytes (weights, configuration,
    tokenizer; not its model card), in path order. Equal for a copy, whatever the files' times."""
    folder = Path(model_dir)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix not in DOCUMENTATION_SUFFIXES)
    if not folder.is_dir() or not files:
        raise contract.ContractError(f"{folder}: not a model folder (give the folder of a sentence-Transformer)")
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        contract.hash_file(path, digest)
    return digest.hexdigest()


def load_encoder(model_dir: str | os.PathLike[str], max_seq_length: int | None = None) -> SentenceTransformer:
    """A sentence-Transformer folder loaded for encoding, on CUDA where there is one, else the CPU; its own
    sequence limit unless ``max_seq_length`` overrides it."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = SentenceTransformer(str(model_dir), device=str(device), trust_remote_code=True)
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    return model


#: Texts per block: all-mpnet-base-v2 encodes one in ~75 seconds on two EPYC cores (bf16, measured), so a block kept on
#: disk (``folder``) bounds what an interruption loses.
BLOCK_SIZE = 16 * ENCODE_BATCH_SIZE


def encode(
    model: SentenceTransformer,
    texts: list[str],
    batch_size: int = ENCODE_BATCH_SIZE,
    precision: Precision = "auto",
    progress: bool = True,
    folder: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """L2-normalised float32 embeddings of ``texts`` in eval mode (the model's own prompt, if it saved one, is
    applied; the caller restores train mode).

    Texts go longest first into blocks of :data:`BLOCK_SIZE` (as ``SentenceTransformer.encode`` orders its
    batches, so each pads little), always the same blocks: with or without a ``folder``, the same numbers. With a
    ``folder``, each block is kept there once done, and a call after an interruption encodes only the blocks still
    missing. The folder must belong to this model (the caller names it after :func:`model_sha256` and removes it
    when done): blocks of other texts or settings are dropped, but blocks of another model would be reused.

    ``precision``: see :mod:`beeformer.precision` (``auto``: bf16 autocast on CUDA and on CPUs with bf16 units).
    """
    if not texts:
        return _encode(model, texts, batch_size, precision, False)
    order = np.argsort([-len(text) for text in texts], kind="stable")
    starts = range(0, len(texts), BLOCK_SIZE)
    paths = [None if folder is None else Path(folder) / f"block-{i:05d}.npy" for i in range(len(starts))]
    if folder is not None:
        _claim(Path(folder), texts, model, batch_size, precision)
    done = sum(path is not None and path.exists() for path in paths)
    log.info(
        "encoding %d texts on %s in %s%s",
        len(texts),
        model.device,
        "bf16" if autocast_dtype(precision, model.device) else "fp32",
        "" if folder is None else f", {done} of {len(starts)} blocks done before, kept in {folder}",
    )
    blocks, one_block = [], len(starts) == 1  # one block: sentence-transformers' bar over its batches instead
    for start, path in tqdm(
        zip(starts, paths, strict=True),
        desc="encoding",
        unit="block",
        total=len(starts),
        disable=not progress or one_block,
    ):
        if path is not None and path.exists():
            blocks.append(np.load(path))
            continue
        block_texts = [texts[i] for i in order[start : start + BLOCK_SIZE]]
        block = _encode(model, block_texts, batch_size, precision, progress and one_block)
        if path is not None:
            with contract.atomic_path(path) as tmp, open(tmp, "wb") as handle:
                np.save(handle, block)
        blocks.append(block)
    return np.concatenate(blocks)[np.argsort(order)]  # back from longest first to the texts' order


def _encode(
    model: SentenceTransformer, texts: list[str], batch_size: int, precision: Precision, progress: bool
) -> np.ndarray:
    model.eval()
    with autocast(model.device, autocast_dtype(precision, model.device)):
        embeddings = model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
    return np.asarray(embeddings, dtype=np.float32)


def _claim(folder: Path, texts: list[str], model: SentenceTransformer, batch_size: int, precision: Precision) -> None:
    """Make ``folder`` hold blocks of these texts and settings only (the precision as it applies on this device, so
    that a run resumed on another machine does not mix bf16 and fp32 blocks): another call's blocks are removed."""
    dtype = autocast_dtype(precision, model.device)
    settings = f"{batch_size}|{dtype}|{model.device.type}|{model.max_seq_length}|{BLOCK_SIZE}|{len(texts)}"
    digest = hashlib.sha256(settings.encode())
    for text in texts:
        digest.update(text.encode() + b"\0")
    manifest = folder / "texts.sha256"
    if manifest.exists() and manifest.read_text() == digest.hexdigest():
        return
    for stale in folder.glob("block-*.npy"):
        stale.unlink()
    contract.write_text(digest.hexdigest(), manifest)
