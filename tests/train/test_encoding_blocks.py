"""Encoding kept block by block on disk: interrupted and called again, it encodes only the missing blocks, and
gives what one call of sentence-transformers gives."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from beeformer import contract, encoding
from beeformer.data.synthetic import SyntheticConfig, generate
from beeformer.evaluate.embed import embed_items


def test_an_interrupted_encoding_goes_on_from_its_kept_blocks(tiny_model_dir, tmp_path, monkeypatch):
    _, items = generate(SyntheticConfig(n_users=10, variants_per_product=1, seed=3))
    texts = items["text"].tolist()  # 96 texts of several lengths: 6 blocks of 16
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    monkeypatch.setattr(encoding, "BLOCK_SIZE", 16)
    expected = model.encode(texts, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)
    real_encode, calls, crash_at = encoding._encode, [], [4]

    def encode_block(*args, **kwargs):
        calls.append(len(args[1]))
        if len(calls) in crash_at:
            raise KeyboardInterrupt("simulated crash")
        return real_encode(*args, **kwargs)

    monkeypatch.setattr(encoding, "_encode", encode_block)
    blocks = tmp_path / "blocks"
    with pytest.raises(KeyboardInterrupt):
        encoding.encode(model, texts, batch_size=8, precision="fp32", folder=blocks)
    assert len(list(blocks.glob("block-*.npy"))) == 3
    calls.clear(), crash_at.clear()
    got = encoding.encode(model, texts, batch_size=8, precision="fp32", folder=blocks)
    assert calls == [16, 16, 16]  # only the three missing blocks
    np.testing.assert_allclose(got, expected, atol=1e-5)

    calls.clear()  # other texts in the same folder: the old blocks are not theirs
    reordered = texts[::-1]
    got = encoding.encode(model, reordered, batch_size=8, precision="fp32", folder=blocks)
    assert len(calls) == 6
    np.testing.assert_allclose(got, expected[::-1], atol=1e-5)


def test_the_embed_stage_reuses_kept_blocks_only_for_the_same_model(tiny_model_dir, tmp_path, monkeypatch):
    """An interrupted embed job keeps its blocks beside its output; the rerun encodes only the rest, then the blocks
    go. The same model files with other times reuse them; a model changed meanwhile encodes everything afresh."""
    _, items = generate(SyntheticConfig(n_users=10, variants_per_product=1, seed=3))
    contract.write_table(items, tmp_path / "items.parquet")
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    monkeypatch.setattr(encoding, "BLOCK_SIZE", 32)  # 96 texts: 3 blocks
    real_encode, calls, crash_at = encoding._encode, [], [2]

    def encode_block(*args, **kwargs):
        calls.append(1)
        if len(calls) in crash_at:
            raise KeyboardInterrupt("simulated crash")
        return real_encode(*args, **kwargs)

    monkeypatch.setattr(encoding, "_encode", encode_block)
    out = tmp_path / "embeddings.parquet"

    def embed() -> None:
        calls.clear()
        embed_items(model_dir, tmp_path / "items.parquet", out, batch_size=8, precision="fp32")

    with pytest.raises(KeyboardInterrupt):
        embed()
    crash_at.clear()
    embed()
    assert len(calls) == 2 and not Path(f"{out}.blocks").exists()
    expected = SentenceTransformer(str(model_dir), device="cpu").encode(
        items["text"].tolist(), normalize_embeddings=True
    )
    ids, got = contract.read_embeddings(out)
    assert ids.tolist() == items["item_id"].tolist()
    np.testing.assert_allclose(got, expected, atol=1e-5)

    crash_at.append(2)
    with pytest.raises(KeyboardInterrupt):
        embed()
    for path in model_dir.rglob("*"):
        os.utime(path, (1e9, 1e9))  # the same files with other times (copied, laid out again): the same model
    crash_at.clear()
    embed()
    assert len(calls) == 2

    crash_at.append(2)
    with pytest.raises(KeyboardInterrupt):
        embed()
    with pytest.raises(contract.ContractError, match="not a model folder"):
        embed_items(tmp_path / "no-model", tmp_path / "items.parquet", out)
    config = json.loads((model_dir / "config.json").read_text())
    (model_dir / "config.json").write_text(json.dumps(config | {"layer_norm_eps": 1e-6}))  # another model
    crash_at.clear()
    embed()
    assert len(calls) == 3


def test_kept_or_not_the_blocks_are_the_same_numbers_in_bf16(tiny_model_dir, tmp_path, monkeypatch):
    """An index built without a folder and the evaluate stage's embeddings with one (computed, or loaded after an
    interruption) must agree to the bit, also where bf16 rounding depends on how texts are batched; blocks kept in
    fp32 are not reused for bf16."""
    _, items = generate(SyntheticConfig(n_users=10, variants_per_product=1, seed=3))
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    monkeypatch.setattr(encoding, "BLOCK_SIZE", 16)
    texts, folder = items["text"].tolist(), tmp_path / "blocks"
    in_memory = encoding.encode(model, texts, batch_size=8, precision="bf16")
    fp32 = encoding.encode(model, texts, batch_size=8, precision="fp32", folder=folder)
    assert not np.array_equal(fp32, in_memory)
    computed = encoding.encode(model, texts, batch_size=8, precision="bf16", folder=folder)
    loaded = encoding.encode(model, texts, batch_size=8, precision="bf16", folder=folder)
    np.testing.assert_array_equal(computed, in_memory)
    np.testing.assert_array_equal(loaded, in_memory)
