"""Engine openai against a real HTTP server on loopback (127.0.0.1, a free port), started in a thread."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from beeformer import contract
from beeformer.describe import DescribeConfig, DescribeError, describe
from beeformer.describe.engine import Request
from beeformer.describe.openai_engine import OpenAIEngine
from beeformer.describe.settings import PAPER_PREFILL, PAPER_SYSTEM


class ChatServer(ThreadingHTTPServer):
    """A chat-completions endpoint whose behaviour depends on the item text (the user message)."""

    daemon_threads = True

    def __init__(self, delay=0.0):
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.delay = delay
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.attempts: Counter[str] = Counter()
        self.bodies: list[dict] = []
        self.headers_seen: list[dict] = []

    def handle_error(self, request, client_address):  # clients that timed out closed their socket: fine
        pass

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class ChatHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = body["messages"][-2]["content"].removeprefix("Item description: ")
        with server.lock:
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
            server.attempts[text] += 1
            attempt = server.attempts[text]
            server.bodies.append(body)
            server.headers_seen.append(dict(self.headers))
        try:
            if self.path != "/v1/chat/completions":
                return self._send(404, b'{"error": "not found"}')
            if text.startswith("flaky") and attempt == 1:
                return self._send(500, b'{"error": "internal"}')
            if text.startswith("busy") and attempt == 1:
                return self._send(429, b'{"error": "slow down"}', {"Retry-After": "0.05"})
            if (text.startswith("slow") and attempt == 1) or text.startswith("hang"):
                time.sleep(3.0)  # longer than the client's timeout
            if text.startswith("garbage"):
                return self._send(200, b"<html>not json</html>")
            if text.startswith("nocontent"):
                return self._send(200, json.dumps({"choices": [{"message": {"role": "assistant"}}]}).encode())
            if text.startswith("bad-request"):
                return self._send(400, b'{"error": "bad request"}')
            time.sleep(server.delay)
            reply = {
                "choices": [
                    {"message": {"role": "assistant", "content": f"Summary of {text}."}, "finish_reason": "stop"}
                ]
            }
            return self._send(200, json.dumps(reply).encode())
        finally:
            with server.lock:
                server.in_flight -= 1

    def _send(self, status, payload, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(OSError):  # the client may have timed out and gone
            self.wfile.write(payload)


@pytest.fixture
def server():
    server = ChatServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def engine_for(server, **openai):
    settings = {"base_url": server.base_url, "timeout": 5, "max_retries": 2, "backoff": 0.01, **openai}
    return OpenAIEngine(DescribeConfig.from_dict({"engine": "openai", "openai": settings}))


def generate(engine, texts):
    results = {r.key: r for r in engine.generate([Request(t, t) for t in texts])}
    assert set(results) == set(texts)
    return results


def test_payload_is_the_paper_conversation_and_sampling(server, monkeypatch):
    monkeypatch.setenv("DESCRIBE_TEST_KEY", "sk-test")
    engine = engine_for(server, api_key_env="DESCRIBE_TEST_KEY", extra_body={"continue_final_message": True})
    results = generate(engine, ["a red tent"])
    assert results["a red tent"].output == "Summary of a red tent." and results["a red tent"].finish_reason == "stop"
    assert server.bodies == [
        {
            "model": "meta-llama/Meta-Llama-3.1-8B-Instruct",
            "messages": [
                {"role": "system", "content": PAPER_SYSTEM},
                {"role": "user", "content": "Item description: a red tent"},
                {"role": "assistant", "content": PAPER_PREFILL},
            ],
            "temperature": 0.1,
            "top_p": 0.9,
            "max_tokens": 512,
            "continue_final_message": True,
        }
    ]
    assert server.headers_seen[0]["Authorization"] == "Bearer sk-test"


def test_concurrency_is_bounded_and_used(server):
    server.delay = 0.15
    texts = [f"item {i}" for i in range(12)]
    results = generate(engine_for(server, concurrency=3, timeout=5), texts)
    assert all(r.error is None and r.output == f"Summary of {t}." for t, r in results.items())
    assert server.max_in_flight == 3


def test_500_then_success_and_429_with_retry_after_are_retried(server):
    results = generate(engine_for(server), ["flaky tent", "busy lamp"])
    assert results["flaky tent"].output == "Summary of flaky tent." and results["flaky tent"].error is None
    assert results["busy lamp"].output == "Summary of busy lamp."
    assert server.attempts["flaky tent"] == 2 and server.attempts["busy lamp"] == 2


def test_timeout_is_retried_then_gives_up(server):
    started = time.perf_counter()
    results = generate(engine_for(server, max_retries=1, timeout=1.0), ["slow tent", "hang lamp"])
    assert results["slow tent"].output == "Summary of slow tent." and server.attempts["slow tent"] == 2
    assert results["hang lamp"].output is None and "timed out after 1 s" in results["hang lamp"].error
    assert server.attempts["hang lamp"] == 2
    assert time.perf_counter() - started < 8  # two 1 s timeouts, not the 3 s the server sleeps, each


def test_malformed_replies_and_client_errors_are_failures(server):
    results = generate(engine_for(server, max_retries=2), ["garbage tent", "nocontent lamp", "bad-request cup"])
    assert "malformed reply" in results["garbage tent"].error and server.attempts["garbage tent"] == 3
    assert "malformed reply" in results["nocontent lamp"].error
    assert "HTTP 400" in results["bad-request cup"].error and server.attempts["bad-request cup"] == 1  # not retried


def test_unreachable_endpoint_fails_with_connection_error():
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = {"base_url": f"http://127.0.0.1:{port}/v1", "max_retries": 1, "backoff": 0.01}
    engine = OpenAIEngine(DescribeConfig.from_dict({"engine": "openai", "openai": settings}))
    result = next(iter(engine.generate([Request("k", "a tent")])))
    assert "connection failed" in result.error


def test_stage_with_openai_engine_caches_and_reports_failures(server, tmp_path):
    features = tmp_path / "features.parquet"
    texts = ["tent", "lamp", "garbage cup", "flaky stove"]
    contract.write_table(pd.DataFrame({"item_id": ["1", "2", "3", "4"], "text": texts}), features)
    spec = {
        "engine": "openai",
        "openai": {"base_url": server.base_url, "timeout": 5, "max_retries": 1, "backoff": 0.01},
    }
    with pytest.raises(DescribeError, match=r"1 item\(s\) failed"):
        describe(spec, features, tmp_path / "items.parquet", cache_dir=tmp_path / "cache", progress=False)
    report = json.loads((tmp_path / "describe.json").read_text())
    assert report["generated"] == 3 and report["failures"][0]["item_id"] == "3"
    assert "malformed reply" in report["failures"][0]["error"]
    server.attempts.clear()
    report = describe(
        {**spec, "allow_failures": 1},
        features,
        tmp_path / "items.parquet",
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    assert dict(server.attempts) == {"garbage cup": 2}  # only the failed item is asked again
    assert report["kept"] == 3 and report["reused"] == 3
    items = contract.read_items(tmp_path / "items.parquet")
    assert items["text"].tolist() == ["Summary of tent.", "Summary of lamp.", "Summary of flaky stove."]
