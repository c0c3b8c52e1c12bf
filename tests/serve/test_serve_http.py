"""beeformer serve for real: a server on a loopback port, queried over HTTP, restarted; its answers equal the CLI's."""

from __future__ import annotations

import json

import httpx
import pandas as pd
import pytest
from serving import Server, catalogue, cli

from beeformer.serve.index import CatalogueIndex


@pytest.fixture(scope="module")
def index(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("served")
    assert cli("index", "--model", tiny_model_dir, "--items", catalogue(folder), "--index", folder / "index") == 0
    return folder / "index"


@pytest.fixture(scope="module")
def server(index):
    running = Server(index, "--max-k", "50", "--max-history", "10", "--max-request-bytes", "4096")
    yield running
    running.stop()


def cli_top(index, tmp_path, *query: str) -> list[tuple[str, float]]:
    assert cli("query", "--index", index, *query, "--k", 5, "--predictions", tmp_path / "p.parquet") == 0
    frame = pd.read_parquet(tmp_path / "p.parquet").sort_values("rank")
    return list(zip(frame["item_id"], frame["score"], strict=True))


def served(answer: httpx.Response) -> list[tuple[str, float]]:
    assert answer.status_code == 200, answer.text
    return [(item["item_id"], item["score"]) for item in answer.json()["items"]]


def test_answers_equal_the_clis(server, index, tmp_path):
    pd.DataFrame({"user_id": ["u"] * 3, "item_id": ["i1", "i8", "i20"]}).to_csv(tmp_path / "u.csv", index=False)
    expected = cli_top(index, tmp_path, "--interactions", tmp_path / "u.csv")
    answer = served(httpx.post(f"{server.url}/recommend", json={"history": ["i1", "i8", "i20"], "k": 5}))
    assert [i for i, _ in answer] == [i for i, _ in expected]
    assert [s for _, s in answer] == pytest.approx([s for _, s in expected], abs=1e-5)
    expected = cli_top(index, tmp_path, "--similar", "i4")
    answer = served(httpx.get(f"{server.url}/similar/i4", params={"k": 5}))
    assert [i for i, _ in answer] == [i for i, _ in expected]
    assert [s for _, s in answer] == pytest.approx([s for _, s in expected], abs=1e-5)
    texts = httpx.post(f"{server.url}/recommend", json={"history": ["i1"], "k": 3}).json()["items"]
    known = CatalogueIndex.load(index).items.set_index("item_id")["text"]
    assert all(item["text"] == known[item["item_id"]] for item in texts)
    assert "/recommend" in httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert httpx.get(f"{server.url}/docs").status_code == 200


def test_an_added_item_is_seen_at_once_and_after_a_restart(server, index):
    text = CatalogueIndex.load(index).items.set_index("item_id")["text"]["i7"]
    added = httpx.post(f"{server.url}/items", json={"items": [{"item_id": "new-1", "text": text}]})
    assert added.status_code == 200 and added.json()["items"] == 61
    assert CatalogueIndex.load(index).items["item_id"].iloc[-1] == "new-1"  # on disk before the answer
    first = served(httpx.get(f"{server.url}/similar/i7", params={"k": 3}))[0]
    assert first[0] == "new-1" and first[1] == pytest.approx(1.0, abs=1e-5)  # the same text: cosine 1
    restarted = Server(index)
    try:
        assert served(httpx.get(f"{restarted.url}/similar/new-1", params={"k": 1}))[0][0] == "i7"
        assert httpx.get(f"{restarted.url}/health").json()["items"] == 61
    finally:
        restarted.stop()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        (
            "post",
            "/recommend",
            {"history": ["i1", "x9", "x8"]},
            422,
            "history: 2 item id(s) not in the index: ['x9', 'x8']",
        ),
        ("post", "/recommend", {"history": []}, 422, "history: empty"),
        ("post", "/recommend", {"history": ["i1"], "k": 0}, 422, "k: 0 is outside 1..50"),
        ("post", "/recommend", {"history": ["i1"], "k": 51}, 422, "k: 51 is outside 1..50"),
        ("post", "/recommend", {"history": ["i1"], "kk": 5}, 422, "body/kk: Extra inputs are not permitted"),
        ("post", "/recommend", '{"history": ["i1"', 422, "JSON decode error"),
        ("post", "/recommend", {"history": ["i1"] * 2000}, 413, "at most 4096"),
        ("post", "/recommend", {"history": ["i1"] * 11}, 422, "history: 11 ids and 0 texts; at most 10 ids"),
        ("get", "/similar/nothing", None, 404, "item_id: 1 item id(s) not in the index: ['nothing']"),
        ("get", "/similar/i1?k=-1", None, 422, "k: -1 is outside 1..50"),
        ("post", "/items", {"items": [{"item_id": "i2", "text": "again"}]}, 409, "already in the index: ['i2']"),
        ("post", "/items", {"items": [{"item_id": "z"}]}, 422, "body/items/0/text: Field required"),
        ("post", "/items", {"items": [{"item_id": "z", "text": " "}]}, 422, "items: data row 1 has an empty"),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_change_nothing(server, index, method, path, body, status, detail):
    generation = json.loads((index / "manifest.json").read_text())["generation"]
    content = body if isinstance(body, str) else json.dumps(body)
    headers = {"content-type": "application/json"}
    answer = httpx.request(method, f"{server.url}{path}", content=None if body is None else content, headers=headers)
    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"] and "\n" not in answer.json()["detail"]
    assert json.loads((index / "manifest.json").read_text())["generation"] == generation
