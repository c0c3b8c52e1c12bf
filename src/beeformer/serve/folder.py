"""The index folder on disk: one generation of files named by ``manifest.json``, replaced atomically.

A generation is ``items-<g>.parquet`` (item_id, text), ``embeddings-<g>.parquet`` (the contract's embeddings
file, one row per item in the same order) and ``faiss-<g>.index``. An update writes and syncs generation g+1,
then replaces ``manifest.json`` (which names the files with their sizes and SHA-256) in one rename, then removes
generation g: a reader, or a process killed at any point, sees one whole generation or the other. Writers take
an exclusive lock on ``.lock`` and refuse a folder whose generation moved on since they read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from beeformer import contract

FORMAT = "beeformer-index/2"  # 2: the model is identified by model_sha256 (1: weights_sha256)
MANIFEST = "manifest.json"
GENERATION_FILE = re.compile(r"(items|embeddings|faiss)-\d+\.(parquet|index)$")


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _record(path: Path) -> dict[str, Any]:
    _sync(path)
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": contract.hash_file(path).hexdigest()}


def write_generation(
    folder: Path, manifest: dict[str, Any], items: pd.DataFrame, embeddings: np.ndarray, faiss_bytes: bytes
) -> dict[str, Any]:
    """Write ``manifest['generation']``'s files, then the manifest naming them; return the manifest written."""
    generation = manifest["generation"]
    files = {
        name: folder / f"{name}-{generation}.{ext}"
        for name, ext in (("items", "parquet"), ("embeddings", "parquet"), ("faiss", "index"))
    }
    items.to_parquet(files["items"], index=False)
    contract.write_embeddings(items["item_id"].tolist(), embeddings, files["embeddings"])
    files["faiss"].write_bytes(faiss_bytes)
    manifest = {**manifest, "files": {name: _record(path) for name, path in files.items()}}
    with contract.atomic_path(folder / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        _sync(tmp)
    _sync(folder)
    for stale in folder.iterdir():
        if GENERATION_FILE.match(stale.name) and stale.name not in {f["name"] for f in manifest["files"].values()}:
            stale.unlink()
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise contract.ContractError(f"{folder}: no {MANIFEST}; not an index folder (build one with beeformer index)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise contract.ContractError(
            f"{path}: not valid JSON ({error}); the index folder is damaged, rebuild it"
        ) from None
    if manifest.get("format") != FORMAT:
        raise contract.ContractError(
            f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}; rebuild the index"
        )
    return manifest


def read_generation(folder: Path) -> tuple[dict[str, Any], pd.DataFrame, np.ndarray, bytes]:
    """The manifest and its files, each checked against the size and SHA-256 the manifest records."""
    manifest = read_manifest(folder)
    for record in manifest["files"].values():
        path = folder / record["name"]
        if not path.is_file():
            raise contract.ContractError(f"{path}: missing; the index folder is damaged, rebuild it")
        if path.stat().st_size != record["bytes"] or contract.hash_file(path).hexdigest() != record["sha256"]:
            raise contract.ContractError(
                f"{path}: its size or SHA-256 does not match {MANIFEST}; the file is damaged, rebuild the index"
            )
    files = {name: folder / record["name"] for name, record in manifest["files"].items()}
    items = pd.read_parquet(files["items"])
    ids, embeddings = contract.read_embeddings(files["embeddings"])
    if len(items) != manifest["items"] or list(ids) != items["item_id"].tolist():
        raise contract.ContractError(
            f"{folder}: {files['items'].name} and {files['embeddings'].name} do not hold the {manifest['items']} "
            f"items of {MANIFEST} in the same order; rebuild the index"
        )
    return manifest, items, embeddings, files["faiss"].read_bytes()


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the folder's writer lock."""
    with (folder / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_unchanged(folder: Path, generation: int) -> None:
    """Refuse to write over a generation this process has not read (another writer came first)."""
    current = read_manifest(folder)["generation"]
    if current != generation:
        raise contract.ContractError(
            f"{folder}: changed on disk (generation {current}, this process read {generation}); reload it and retry"
        )
