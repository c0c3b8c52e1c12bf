"""``beeformer index``: embed a catalogue into a new index folder, or add items to an existing one."""

from __future__ import annotations

import os
import time
from pathlib import Path

import faiss
from tqdm.auto import tqdm

from beeformer import contract
from beeformer.contract.models import ENCODE_BATCH_SIZE
from beeformer.precision import Precision
from beeformer.serve import folder as disk
from beeformer.serve import vectors
from beeformer.serve.catalogue import read_catalogue
from beeformer.serve.encoder import Encoder, check_identity
from beeformer.serve.index import CatalogueIndex
from beeformer.serve.settings import IndexSettings


def build_index(
    model: str | os.PathLike[str],
    items_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    settings: IndexSettings,
    batch_size: int = ENCODE_BATCH_SIZE,
    max_seq_length: int | None = None,
    precision: Precision = "auto",
) -> CatalogueIndex:
    """Embed every item of ``items_path`` with ``model`` and write the index folder ``out_dir`` (replacing it)."""
    started = time.perf_counter()
    items = read_catalogue(items_path)
    encoder = Encoder.load(model, max_seq_length, precision, batch_size)
    embeddings = encoder.encode(items["text"].tolist())
    index = vectors.build(embeddings, settings)
    manifest = {
        "format": disk.FORMAT,
        "generation": 0,
        "items": len(items),
        "dimensions": int(embeddings.shape[1]),
        "model": encoder.identity(),
        "index": settings.to_dict(),
        "faiss_version": faiss.__version__,
    }
    with contract.atomic_dir(out_dir) as tmp:
        manifest = disk.write_generation(tmp, manifest, items, embeddings, vectors.to_bytes(index))
    tqdm.write(
        f"index: {len(items)} items x {embeddings.shape[1]} dims ({settings.kind}, {encoder.precision}) from {model} "
        f"in {time.perf_counter() - started:.0f} s -> {out_dir}"
    )
    return CatalogueIndex.of(Path(out_dir), manifest, items, embeddings, index)


def load_encoder(index: CatalogueIndex, model: str | os.PathLike[str] | None = None) -> Encoder:
    """The index's model (``model``, by default the one it was built with), refused if it is not that model."""
    recorded = index.manifest["model"]
    encoder = Encoder.load(
        model or recorded["path"], recorded["max_seq_length"], recorded["precision"], recorded["batch_size"]
    )
    check_identity(recorded, encoder, str(index.folder))
    return encoder


def add_items(
    index_dir: str | os.PathLike[str],
    items_path: str | os.PathLike[str],
    replace: bool = False,
    model: str | os.PathLike[str] | None = None,
) -> CatalogueIndex:
    """Embed the items of ``items_path`` and append them to the index folder; the others are not re-encoded."""
    index = CatalogueIndex.load(index_dir)
    new = read_catalogue(items_path)
    present = index.present(new["item_id"], replace, str(items_path))  # before the model loads
    encoder = load_encoder(index, model)
    updated = index.added(new, encoder.encode(new["text"].tolist()), replace, str(items_path))
    tqdm.write(f"index: {len(new)} item(s) added to {index_dir} ({len(present)} replaced), {len(updated)} items in all")
    return updated
