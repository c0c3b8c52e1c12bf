"""Downloads against a real HTTP server on 127.0.0.1 started by the tests (no traffic beyond loopback), and the
Kaggle path without credentials (stops before any work) and with a stand-in ``kaggle`` module."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import subprocess
import sys
import threading
import time
import types
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from beeformer.data import download
from beeformer.data.download import ChecksumError, CredentialsError, DownloadError, Resource
from beeformer.data.resources import RESOURCES, kaggle_preflight

BODY = bytes(range(256)) * 4000  # 1,024,000 bytes
SHA = hashlib.sha256(BODY).hexdigest()


class Loopback(ThreadingHTTPServer):
    """Serves ``routes[path] = (behaviour, options)``; records (path, Range header) of every request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, tuple[str, dict]] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.counts: dict[str, int] = {}

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class Handler(BaseHTTPRequestHandler):
    server: Loopback

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        behaviour, options = self.server.routes.get(self.path, ("404", {}))
        self.server.requests.append((self.path, self.headers.get("Range")))
        count = self.server.counts[self.path] = self.server.counts.get(self.path, 0) + 1
        body = options.get("body", BODY)
        if behaviour == "404":
            self.send_error(404, "Not Found")
            return
        if behaviour == "fail" and count <= options["times"]:
            self.send_error(options.get("status", 503), "Service Unavailable")
            return
        if behaviour == "sleep" and count <= options.get("times", 10**9):
            time.sleep(options["seconds"])
        start = 0
        ranged = self.headers.get("Range")
        if ranged and not options.get("ignore_range"):
            start = int(ranged.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if behaviour == "cut" and count <= options.get("times", 1):
            self.wfile.write(payload[: options["after"]])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # the transfer breaks mid-way
            return
        self.wfile.write(payload)


@pytest.fixture
def server() -> Iterator[Loopback]:
    httpd = Loopback()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


class Sleeps(list):
    """Records the back-off waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def resource(*urls: str, sha256: str | None = SHA, name: str = "set/file.bin") -> Resource:
    return Resource(name=name, urls=urls, sha256=sha256, page="https://example.org/set")


def fetch(res: Resource, folder: Path, **kwargs) -> tuple[Path, Sleeps]:
    sleeps = Sleeps()
    options = {"retries": 2, "backoff": 0.01, "timeout": 2.0, "sleep": sleeps, **kwargs}
    return download.ensure(res, folder, **options), sleeps


def test_download_verifies_and_renames_the_part_file(server: Loopback, tmp_path: Path) -> None:
    server.routes["/f"] = ("ok", {})
    path, sleeps = fetch(resource(server.url("/f")), tmp_path)
    assert path == tmp_path / "set/file.bin" and path.read_bytes() == BODY
    assert not (tmp_path / "set/file.bin.part").exists() and sleeps == []
    assert server.requests == [("/f", None)]


def test_checksum_mismatch_stops_and_leaves_no_file(server: Loopback, tmp_path: Path) -> None:
    server.routes["/f"] = ("ok", {"body": BODY[:-1] + b"?"})
    with pytest.raises(ChecksumError) as error:
        fetch(resource(server.url("/f")), tmp_path)
    message = str(error.value)
    assert SHA in message and "set/file.bin" in message and "place it at" in message
    assert not (tmp_path / "set/file.bin").exists() and not (tmp_path / "set/file.bin.part").exists()


def test_interrupted_transfer_resumes_with_a_range_request(server: Loopback, tmp_path: Path) -> None:
    server.routes["/f"] = ("cut", {"after": 300_000})
    path, sleeps = fetch(resource(server.url("/f")), tmp_path)
    assert path.read_bytes() == BODY
    assert server.requests == [("/f", None), ("/f", "bytes=300000-")]
    assert sleeps == []  # progress was made: resumed at once, no retry used up


def test_partial_file_from_an_earlier_run_is_resumed(server: Loopback, tmp_path: Path) -> None:
    server.routes["/f"] = ("ok", {})
    part = tmp_path / "set/file.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(BODY[:123_456])
    path, _ = fetch(resource(server.url("/f")), tmp_path)
    assert path.read_bytes() == BODY and server.requests == [("/f", "bytes=123456-")]


def test_complete_partial_file_and_server_ignoring_ranges(server: Loopback, tmp_path: Path) -> None:
    server.routes["/done"] = ("ok", {})
    part = tmp_path / "set/file.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(BODY)  # complete, but never renamed: the server answers 416
    path, _ = fetch(resource(server.url("/done")), tmp_path)
    assert path.read_bytes() == BODY and server.requests == [("/done", f"bytes={len(BODY)}-")]

    server.routes["/norange"] = ("ok", {"ignore_range": True})
    (tmp_path / "b.bin.part").write_bytes(b"garbage that must not stay at the start")
    path, _ = fetch(resource(server.url("/norange"), name="b.bin"), tmp_path)
    assert path.read_bytes() == BODY  # 200 instead of 206: started over


def test_404_fails_fast_and_names_the_file_to_place_by_hand(server: Loopback, tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as error:
        fetch(resource(server.url("/missing")), tmp_path)
    message = str(error.value)
    assert "HTTP 404" in message and f"place it at {tmp_path / 'set/file.bin'}" in message
    assert server.requests == [("/missing", None)]


def test_next_mirror_after_a_permanent_failure(server: Loopback, tmp_path: Path) -> None:
    server.routes["/mirror"] = ("ok", {})
    path, _ = fetch(resource(server.url("/gone"), server.url("/mirror")), tmp_path)
    assert path.read_bytes() == BODY and [p for p, _ in server.requests] == ["/gone", "/mirror"]


def test_timeouts_are_retried_with_backoff_then_fail(server: Loopback, tmp_path: Path) -> None:
    server.routes["/slow"] = ("sleep", {"seconds": 1.0})
    start = time.monotonic()
    with pytest.raises(DownloadError) as error:
        fetch(resource(server.url("/slow")), tmp_path, timeout=0.2, retries=2, backoff=0.01)
    assert time.monotonic() - start < 5
    assert "timed out" in str(error.value) and "gave up after 2 retries" in str(error.value)
    assert server.counts["/slow"] == 3


def test_transient_errors_back_off_exponentially_then_succeed(server: Loopback, tmp_path: Path) -> None:
    server.routes["/busy"] = ("fail", {"times": 2, "status": 503})
    path, sleeps = fetch(resource(server.url("/busy")), tmp_path, retries=3, backoff=0.01)
    assert path.read_bytes() == BODY and server.counts["/busy"] == 3
    assert sleeps == [0.01, 0.02]


def test_unreachable_host_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError) as error:
        fetch(resource(f"http://127.0.0.1:{port}/f"), tmp_path)
    assert "unreachable" in str(error.value) and "place it at" in str(error.value)


def test_host_that_does_not_answer_the_connection_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # loopback always answers a connection attempt, so the time-out while connecting is simulated
    calls = []

    def no_answer(request, timeout):
        calls.append(request.full_url)
        raise urllib.error.URLError(TimeoutError("timed out"))

    monkeypatch.setattr(urllib.request, "urlopen", no_answer)
    with pytest.raises(DownloadError) as error:
        fetch(resource("http://127.0.0.1:9/a", "http://127.0.0.1:9/b"), tmp_path)
    assert "host does not answer" in str(error.value) and "place it at" in str(error.value)
    assert calls == ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]  # no retries, each mirror once


def test_file_placed_by_hand_is_used_without_network(tmp_path: Path) -> None:
    placed = tmp_path / "set/file.bin"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(BODY)
    path, _ = fetch(resource("http://127.0.0.1:9/never-contacted"), tmp_path)
    assert path == placed
    path, _ = fetch(resource("http://127.0.0.1:9/never-contacted"), tmp_path, offline=True)
    assert path == placed

    placed.write_bytes(BODY[:1000])  # wrong file by hand: stopped, nothing deleted
    with pytest.raises(ChecksumError, match="expected " + SHA):
        fetch(resource("http://127.0.0.1:9/never-contacted"), tmp_path)
    assert placed.exists()


def test_offline_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"missing\. Download http://127.0.0.1:9/x yourself and place it at"):
        fetch(resource("http://127.0.0.1:9/x"), tmp_path, offline=True)


def test_unknown_checksum_is_pinned_by_the_first_download(server: Loopback, tmp_path: Path) -> None:
    server.routes["/f"] = ("ok", {})
    path, _ = fetch(resource(server.url("/f"), sha256=None), tmp_path)
    assert (tmp_path / "set/file.bin.sha256").read_text() == f"{SHA}  file.bin\n"
    path.write_bytes(b"another version")  # a later copy must match the pin
    with pytest.raises(ChecksumError, match="pinned"):
        fetch(resource(server.url("/f"), sha256=None), tmp_path)
    path.unlink()
    server.routes["/f"] = ("ok", {"body": b"changed upstream"})
    with pytest.raises(ChecksumError, match="pinned"):
        fetch(resource(server.url("/f"), sha256=None), tmp_path)
    assert not path.exists()


def test_cli_download_of_a_registered_file_placed_by_hand(tmp_path: Path) -> None:
    books = RESOURCES["goodbooks-10k/books.csv"]
    target = tmp_path / books.name
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the real books.csv")
    result = subprocess.run(
        [sys.executable, "-m", "beeformer", "download", books.name, "--resources-dir", str(tmp_path), "--offline"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and books.sha256 in result.stderr and "expected" in result.stderr


# --------------------------------------------------------------------------- Kaggle


KAGGLE = RESOURCES["kaggle/goodreads-books/goodreads_books.csv"]


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    return home


def test_kaggle_without_credentials_stops_before_any_work(no_credentials: Path, tmp_path: Path) -> None:
    resources = tmp_path / "resources"
    with pytest.raises(CredentialsError) as error:
        download.ensure(KAGGLE, resources)
    message = str(error.value)
    assert "kaggle.json" in message and "KAGGLE_USERNAME" in message and "https://www.kaggle.com/settings" in message
    assert str(resources / KAGGLE.name) in message and "austinreese/goodreads-books" in message
    assert not resources.exists()  # nothing created
    # kaggle was never imported: its import creates ~/.kaggle or ~/.config/kaggle
    assert list(no_credentials.iterdir()) == []


def test_kaggle_cli_without_credentials_prints_the_setup_message(no_credentials: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    result = subprocess.run(
        [sys.executable, "-m", "beeformer", "download", KAGGLE.name, "--resources-dir", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        env={**env, "HOME": str(no_credentials), "XDG_CONFIG_HOME": str(no_credentials / ".config")},
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "Kaggle credentials not found; nothing was downloaded" in result.stderr
    assert not (tmp_path / "r").exists() and list(no_credentials.iterdir()) == []


def test_kaggle_file_placed_by_hand_needs_no_credentials(no_credentials: Path, tmp_path: Path) -> None:
    placed = tmp_path / KAGGLE.name
    placed.parent.mkdir(parents=True)
    placed.write_text("id,title\n1,x\n")
    assert download.ensure(KAGGLE, tmp_path) == placed
    assert download.read_pin(placed) == hashlib.sha256(placed.read_bytes()).hexdigest()


def fake_kaggle(archive_files: dict[str, bytes], fail_auth: bool = False) -> types.ModuleType:
    """A stand-in for the kaggle package: prints at import like the real one, writes a zip on download."""
    module = types.ModuleType("kaggle")

    class Api:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str]] = []

        def authenticate(self) -> None:
            print("kaggle says hello on stdout")
            if fail_auth:
                raise SystemExit(1)

        def dataset_download_files(self, dataset: str, path: str, quiet: bool = True, unzip: bool = False) -> None:
            print(f"Dataset URL: https://www.kaggle.com/datasets/{dataset}")
            self.calls.append((dataset, path))
            with zipfile.ZipFile(Path(path) / (dataset.split("/")[1] + ".zip"), "w") as bundle:
                for name, data in archive_files.items():
                    bundle.writestr(name, data)

    module.api = Api()
    return module


def test_kaggle_download_extracts_verifies_and_pins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    module = fake_kaggle({"goodreads_books.csv": b"id,title\n1,x\n", "other.csv": b"a\n"})
    monkeypatch.setitem(sys.modules, "kaggle", module)
    path = download.ensure(KAGGLE, tmp_path)
    assert path.read_bytes() == b"id,title\n1,x\n"
    assert download.read_pin(path) == hashlib.sha256(b"id,title\n1,x\n").hexdigest()
    assert module.api.calls[0][0] == "austinreese/goodreads-books"
    assert capsys.readouterr().out == ""  # kaggle's prints are captured, not on stdout
    assert sorted(p.name for p in path.parent.iterdir()) == ["goodreads_books.csv", "goodreads_books.csv.sha256"]


def test_kaggle_archive_without_the_file_and_rejected_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAGGLE_API_TOKEN", "token")
    monkeypatch.setitem(sys.modules, "kaggle", fake_kaggle({"something_else.csv": b"a\n"}))
    with pytest.raises(DownloadError, match=r"has no file goodreads_books\.csv"):
        download.ensure(KAGGLE, tmp_path)
    assert not (tmp_path / KAGGLE.name).exists()
    monkeypatch.setitem(sys.modules, "kaggle", fake_kaggle({}, fail_auth=True))
    with pytest.raises(CredentialsError, match="Kaggle rejected the credentials"):
        download.ensure(KAGGLE, tmp_path)


def test_preflight_asks_for_credentials_only_when_kaggle_files_are_missing(
    no_credentials: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datasets = {"gb": {"source": "goodbooks-10k"}, "ab": {"source": "amazon-books"}, "d": {"source": "synthetic"}}
    message = kaggle_preflight(datasets, tmp_path)
    assert message is not None and "goodreads_books.csv" in message and "GoodReads_100k_books.csv" in message
    assert "imdb-movies-analysis" not in message  # MovieLens is not configured
    assert kaggle_preflight({"ab": {"source": "amazon-books"}}, tmp_path) is None  # no Kaggle file needed
    for name in ("kaggle/goodreads-books/goodreads_books.csv", "kaggle/goodreads-books-100k/GoodReads_100k_books.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("placed by hand\n")
    assert kaggle_preflight(datasets, tmp_path) is None
    (tmp_path / "kaggle/goodreads-books/goodreads_books.csv").unlink()
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    assert kaggle_preflight(datasets, tmp_path) is None  # credentials present: the download rules will do it


def test_registry_is_consistent() -> None:
    for name, res in RESOURCES.items():
        assert res.name == name and (res.urls or res.kaggle)
        assert all(u.startswith("https://") for u in res.urls)
        assert res.sha256 is None or len(res.sha256) == 64
    stream = io.StringIO()
    print(*download.kaggle_setup_message([(KAGGLE, Path("resources") / KAGGLE.name)]).splitlines(), file=stream)
    assert "resources/kaggle/goodreads-books/goodreads_books.csv" in stream.getvalue()
