"""beeformer index and query on a tiny random model: equal to an independent numpy top-k, additions, bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from sentence_transformers import SentenceTransformer
from serving import TEXTS, catalogue, cli, exact_top_k

from beeformer.serve.index import CatalogueIndex


@pytest.fixture(scope="module")
def independent(tiny_model_dir):
    """The tiny model's fp32 embeddings of TEXTS, computed here."""
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    return model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)


@pytest.fixture(params=["flat", "hnsw"])
def built(request, tmp_path, tiny_model_dir):
    index = tmp_path / "index"
    items = catalogue(tmp_path)
    assert (
        cli(
            "index",
            "--model",
            tiny_model_dir,
            "--items",
            items,
            "--index",
            index,
            "--precision",
            "fp32",
            "--kind",
            request.param,
        )
        == 0
    )
    return index


def test_queries_equal_an_independent_numpy_top_k(built, tmp_path, independent):
    index = CatalogueIndex.load(built)
    np.testing.assert_allclose(index.embeddings, independent, atol=1e-5)
    histories = {"u1": [0, 5], "u2": [7], "u3": [1, 2, 3, 30]}
    interactions = pd.DataFrame(
        [(u, f"i{r}") for u, rows in histories.items() for r in rows], columns=["user_id", "item_id"]
    )
    interactions.to_csv(tmp_path / "users.csv", index=False)
    allowed = list(range(10, 40))
    pd.DataFrame({"item_id": [f"i{r}" for r in allowed]}).to_parquet(tmp_path / "candidates.parquet")
    for candidates in (None, tmp_path / "candidates.parquet"):
        options = ["--candidates", candidates] if candidates else []
        assert (
            cli(
                "query",
                "--index",
                built,
                "--interactions",
                tmp_path / "users.csv",
                "--k",
                7,
                "--predictions",
                tmp_path / "p.parquet",
                *options,
            )
            == 0
        )
        predictions = pd.read_parquet(tmp_path / "p.parquet")
        assert list(predictions.columns) == ["user_id", "item_id", "score", "rank"]
        for user, history in histories.items():
            rows, scores = exact_top_k(independent, history, 7, allowed if candidates else None)
            mine = predictions[predictions["user_id"] == user].sort_values("rank")
            assert mine["item_id"].tolist() == [f"i{r}" for r in rows]
            np.testing.assert_allclose(mine["score"], scores, atol=1e-4)


def test_similar_items_are_the_nearest_by_cosine(built, tmp_path, independent):
    assert (
        cli("query", "--index", built, "--similar", "i3", "i9", "--k", 5, "--predictions", tmp_path / "s.parquet") == 0
    )
    similar = pd.read_parquet(tmp_path / "s.parquet")
    for row in (3, 9):
        rows, _ = exact_top_k(independent, [row], 5)
        assert similar[similar["user_id"] == f"i{row}"]["item_id"].tolist() == [f"i{r}" for r in rows]


def test_add_appends_without_reencoding_and_refuses_duplicates(built, tmp_path, tiny_model_dir, capsys):
    before = CatalogueIndex.load(built)
    new = catalogue(tmp_path, "new.tsv", ["folding chair for camping", "desk lamp for the office"], first=100)
    pd.read_csv(new).to_csv(new, sep="\t", index=False)
    assert cli("index", "--index", built, "--add", new) == 0
    after = CatalogueIndex.load(built)
    assert len(after) == len(before) + 2 and after.manifest["generation"] == 1
    np.testing.assert_array_equal(after.embeddings[: len(before)], before.embeddings)  # the others not re-encoded
    model = SentenceTransformer(str(tiny_model_dir), device="cpu")
    np.testing.assert_allclose(
        after.embeddings[-2:],
        model.encode(["folding chair for camping", "desk lamp for the office"], normalize_embeddings=True),
        atol=1e-5,
    )
    assert sorted(p.name for p in built.iterdir() if p.name != ".lock") == [
        "embeddings-1.parquet",
        "faiss-1.index",
        "items-1.parquet",
        "manifest.json",
    ]
    # the new item is found: its own text's nearest neighbour among the old items is unchanged, and it ranks
    rows, _ = exact_top_k(after.embeddings, [len(after) - 1], 3)
    [(found, _)] = after.top(after.embeddings[[len(after) - 1]], [np.array([len(after) - 1])], 3)
    assert found.tolist() == rows

    manifest = (built / "manifest.json").read_bytes()
    capsys.readouterr()
    assert cli("index", "--index", built, "--add", new) == 2
    assert "already in the index: ['i100', 'i101']" in capsys.readouterr().err
    assert (built / "manifest.json").read_bytes() == manifest  # nothing written

    replaced = catalogue(tmp_path, "replaced.csv", ["sturdy tent for a baby"], first=100)
    assert cli("index", "--index", built, "--add", replaced, "--replace") == 0
    final = CatalogueIndex.load(built)
    assert len(final) == len(after) and final.items["text"].iloc[len(before)] == "sturdy tent for a baby"
    np.testing.assert_allclose(
        final.embeddings[len(before)], model.encode("sturdy tent for a baby", normalize_embeddings=True), atol=1e-5
    )
    assert final.vectors.ntotal == len(final)


def test_bad_input_is_refused_in_one_line_and_nothing_is_written(tmp_path, tiny_model_dir, capsys):
    pd.DataFrame({"item_id": ["a"], "title": ["x"]}).to_csv(tmp_path / "no_text.csv", index=False)
    assert (
        cli("index", "--model", tiny_model_dir, "--items", tmp_path / "no_text.csv", "--index", tmp_path / "index") == 2
    )
    message = capsys.readouterr().err.strip()
    assert "no_text.csv: no text column (found ['item_id', 'title'])" in message and "\n" not in message
    assert not (tmp_path / "index").exists()

    items = catalogue(tmp_path)
    assert (
        cli("index", "--model", tiny_model_dir, "--items", items, "--index", tmp_path / "index", "--precision", "fp32")
        == 0
    )
    pd.DataFrame({"user_id": ["u", "u", "v"], "item_id": ["i1", "nope", "gone"]}).to_csv(
        tmp_path / "users.csv", index=False
    )
    capsys.readouterr()
    assert (
        cli(
            "query",
            "--index",
            tmp_path / "index",
            "--interactions",
            tmp_path / "users.csv",
            "--predictions",
            tmp_path / "p.parquet",
        )
        == 2
    )
    message = capsys.readouterr().err.strip()
    assert "users.csv: 2 item id(s) not in the index: ['nope', 'gone']" in message and "\n" not in message
    assert not (tmp_path / "p.parquet").exists()
    assert cli("query", "--index", tmp_path / "index", "--similar", "nope") == 2
    assert "--similar: 1 item id(s) not in the index: ['nope']" in capsys.readouterr().err


def test_another_model_or_a_damaged_folder_is_refused(tmp_path, tiny_model_dir, capsys):
    from transformers import BertModel

    index = tmp_path / "index"
    assert cli("index", "--model", tiny_model_dir, "--items", catalogue(tmp_path), "--index", index) == 0
    other = tmp_path / "other-model"
    shutil.copytree(tiny_model_dir, other)
    model = BertModel.from_pretrained(other)
    model.pooler.dense.bias.data += 0.1  # other weights (the pooler is not used: the embeddings stay the same)
    model.save_pretrained(other)
    capsys.readouterr()
    assert (
        cli(
            "index", "--index", index, "--add", catalogue(tmp_path, "new.csv", ["a chair"], first=500), "--model", other
        )
        == 2
    )
    message = capsys.readouterr().err
    assert f"was built with model {tiny_model_dir}, and --model {other} differs: model_sha256" in message
    assert json.loads((index / "manifest.json").read_text())["generation"] == 0

    old = tmp_path / "old-format"
    shutil.copytree(index, old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["format"] = "beeformer-index/1"  # as written before the model's identity was model_sha256
    manifest["model"]["weights_sha256"] = manifest["model"].pop("model_sha256")
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert cli("query", "--index", old, "--similar", "i1") == 2
    assert "format 'beeformer-index/1', expected 'beeformer-index/2'; rebuild the index" in capsys.readouterr().err

    damaged = index / json.loads((index / "manifest.json").read_text())["files"]["embeddings"]["name"]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    assert cli("query", "--index", index, "--similar", "i1") == 2
    assert f"{damaged}: its size or SHA-256 does not match manifest.json" in capsys.readouterr().err


def test_a_write_cut_short_leaves_the_folder_at_its_last_generation(built, monkeypatch):
    """As a process killed between writing a generation's files and replacing manifest.json would leave it."""
    from beeformer.serve import folder

    index = CatalogueIndex.load(built)
    new = pd.DataFrame({"item_id": ["late"], "text": ["a lamp"]})

    def killed(path):
        raise KeyboardInterrupt(f"killed while syncing {path.name}")

    with monkeypatch.context() as patch:
        patch.setattr(folder, "_record", killed)
        with pytest.raises(KeyboardInterrupt):
            index.added(new, index.embeddings[:1], False, "test")
    assert (built / "items-1.parquet").exists()  # the unfinished generation's files are there, unnamed
    again = CatalogueIndex.load(built)
    assert again.manifest["generation"] == 0 and "late" not in set(again.items["item_id"])
    np.testing.assert_array_equal(again.embeddings, index.embeddings)
    after = again.added(new, index.embeddings[:1], False, "test")  # the next write replaces them
    assert CatalogueIndex.load(built).manifest["generation"] == after.manifest["generation"] == 1
    assert sorted(p.name for p in built.iterdir() if "-" in p.name) == [
        "embeddings-1.parquet",
        "faiss-1.index",
        "items-1.parquet",
    ]
