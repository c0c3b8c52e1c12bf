"""Checks beyond SHA-256 (git blob id, MD5 + size), substitutes, mirror order and the registry's records; on the
loopback HTTP server of test_data_download. Expected digests come from ``git hash-object`` and ``md5sum``."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import test_data_download as loopback
from conftest import SHARED_DATA

from beeformer.data import download
from beeformer.data.download import ChecksumError, DownloadError, Resource
from beeformer.data.resources import RESOURCES

server = loopback.server  # the loopback HTTP server fixture
Loopback = loopback.Loopback
BODY = loopback.BODY
CORRUPT = BODY[:5000] + bytes([BODY[5000] ^ 1]) + BODY[5001:]  # one flipped bit


def tool(*command: str, data: bytes, folder: Path) -> str:
    """The first word a command-line tool prints for a file holding ``data``."""
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed")
    path = folder / "input.bin"
    path.write_bytes(data)
    return subprocess.run([*command, str(path)], capture_output=True, text=True, check=True).stdout.split()[0]


def fetch(res: Resource, folder: Path) -> Path:
    return download.ensure(res, folder, retries=1, backoff=0.01, timeout=2.0, sleep=lambda seconds: None)


def test_git_blob_id_verifies_a_download_and_names_a_corrupted_byte(server: Loopback, tmp_path: Path) -> None:
    blob = tool("git", "hash-object", data=BODY, folder=tmp_path)
    corrupt_blob = tool("git", "hash-object", data=CORRUPT, folder=tmp_path)
    res = Resource(name="repo/file.feather", urls=(server.url("/f"),), git_blob=blob)
    server.routes["/f"] = ("ok", {})
    path = fetch(res, tmp_path / "a")
    assert path.read_bytes() == BODY and not download.pin_path(path).exists()  # recorded: nothing pinned
    assert download.verify(res, path) == hashlib.sha256(BODY).hexdigest()

    server.routes["/f"] = ("ok", {"body": CORRUPT})
    with pytest.raises(ChecksumError) as error:
        fetch(res, tmp_path / "b")
    message = str(error.value)
    assert str(tmp_path / "b/repo/file.feather") in message
    assert f"git blob id is {corrupt_blob}, expected {blob}" in message
    assert not (tmp_path / "b/repo/file.feather").exists() and not (tmp_path / "b/repo/file.feather.part").exists()


def test_git_blob_id_of_a_file_placed_by_hand(tmp_path: Path) -> None:
    blob = tool("git", "hash-object", data=BODY, folder=tmp_path)
    res = Resource(name="by-hand.bin", urls=("http://127.0.0.1:9/never-contacted",), git_blob=blob)
    placed = tmp_path / "r/by-hand.bin"
    placed.parent.mkdir()
    placed.write_bytes(CORRUPT)
    with pytest.raises(ChecksumError) as error:
        fetch(res, tmp_path / "r")
    corrupt_blob = tool("git", "hash-object", data=CORRUPT, folder=tmp_path)
    assert f"{placed}: git blob id is {corrupt_blob}, expected {blob} (recorded)" in str(error.value)
    assert placed.exists()  # placed by hand: reported, not deleted
    placed.write_bytes(BODY)
    assert fetch(res, tmp_path / "r") == placed


def test_md5_and_size_verify_a_download(server: Loopback, tmp_path: Path) -> None:
    md5 = tool("md5sum", data=BODY, folder=tmp_path)
    corrupt_md5 = tool("md5sum", data=CORRUPT, folder=tmp_path)
    res = Resource(name="Books.csv", urls=(server.url("/f"),), md5=md5, size=len(BODY))
    server.routes["/f"] = ("ok", {})
    assert fetch(res, tmp_path / "a").read_bytes() == BODY

    server.routes["/f"] = ("ok", {"body": CORRUPT})
    with pytest.raises(ChecksumError) as error:
        fetch(res, tmp_path / "b")
    assert f"{tmp_path / 'b/Books.csv'}: " in str(error.value)
    assert f"MD5 is {corrupt_md5}, expected {md5}" in str(error.value)

    server.routes["/f"] = ("ok", {"body": BODY + b"\n"})  # one byte more: the size is named too
    with pytest.raises(ChecksumError, match=f"; size is {len(BODY) + 1:,} bytes, expected {len(BODY):,} bytes"):
        fetch(res, tmp_path / "c")


def test_every_recorded_check_must_pass(tmp_path: Path) -> None:
    placed = tmp_path / "f.bin"
    placed.write_bytes(BODY)
    md5 = tool("md5sum", data=BODY, folder=tmp_path)
    sha = tool("sha256sum", data=BODY, folder=tmp_path)
    wrong = "0" * 64
    assert download.verify(Resource(name="f.bin", sha256=sha, md5=md5, size=len(BODY)), placed) == sha
    with pytest.raises(ChecksumError, match=f"SHA-256 is {sha}, expected {wrong}"):
        download.verify(Resource(name="f.bin", sha256=wrong, md5=md5), placed)
    with pytest.raises(ChecksumError, match=f"MD5 is {md5}, expected {'0' * 32}"):
        download.verify(Resource(name="f.bin", sha256=sha, md5="0" * 32), placed)


def test_a_substitute_is_pinned_instead_of_checked(tmp_path: Path) -> None:
    res = Resource(name="ml-20m.zip", sha256="0" * 64, size=3)
    placed = tmp_path / "ml-20m.zip"
    placed.write_bytes(b"a sample standing in for the real archive")
    with pytest.raises(ChecksumError, match=r"size is 41 bytes, expected 3 bytes.*create \S*/ml-20m\.zip\.substitute"):
        download.verify(res, placed)
    (tmp_path / "ml-20m.zip.substitute").write_text("")
    sha = tool("sha256sum", data=placed.read_bytes(), folder=tmp_path)
    assert download.verify(res, placed) == sha
    assert (tmp_path / "ml-20m.zip.sha256").read_text() == f"{sha}  ml-20m.zip\n"
    placed.write_bytes(b"another sample")  # held to its pin from now on
    with pytest.raises(ChecksumError, match="pinned"):
        download.verify(res, placed)


def test_mirrors_are_tried_in_order_until_one_delivers(server: Loopback, tmp_path: Path) -> None:
    server.routes["/busy"] = ("fail", {"times": 100, "status": 503})
    server.routes["/good"] = ("ok", {})
    server.routes["/never"] = ("ok", {})
    urls = [server.url(p) for p in ("/gone", "/busy", "/good", "/never")]
    res = Resource(name="m.bin", urls=tuple(urls), sha256=loopback.SHA)
    assert fetch(res, tmp_path).read_bytes() == BODY
    # a 404 is given up at once; a 503 after 1 retry; the mirror after a good one is never asked
    assert [p for p, _ in server.requests] == ["/gone", "/busy", "/busy", "/good"]

    with pytest.raises(DownloadError) as error:
        fetch(Resource(name="n.bin", urls=tuple(urls[:2]), sha256=loopback.SHA), tmp_path)
    message = str(error.value)
    assert message.index("/gone: HTTP 404") < message.index("/busy: gave up after 1 retries")


def test_registry_records_the_published_checks_and_mirrors() -> None:
    # the values of issue 10, from public records
    movielens = RESOURCES["movielens-20m/ml-20m.zip"]
    assert movielens.sha256 == "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3"
    assert movielens.size == 198_702_078 and "cd245b17a1ae2cc31bb14903e1204af3" in movielens.note
    assert RESOURCES["goodbooks-10k/ratings.csv"].git_blob == "0d245a10acfe3c89b2e4004cdbc805b99771ac5d"
    published = "published/{}/item_text_descriptions.feather"
    assert RESOURCES[published.format("ml20m")].git_blob == "3a4e20f13ce391397ffe3c9e80398b758af73bb2"
    assert RESOURCES[published.format("amazbooks")].git_blob == "91d29b345b1d4fea423b616b940442b6152a00a5"
    books = RESOURCES["amazon-books/Books.csv"]
    assert (books.md5, books.size) == ("c6cb0fd6e4322d3523e9afd87d5ed9dc", 2_140_933_459)
    hosts = [
        "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2",
        "https://mcauleylab.ucsd.edu/public_datasets/data/amazon_v2",
        "https://jmcauley.ucsd.edu/data/amazon_v2",
    ]
    assert list(books.urls) == [f"{h}/categoryFilesSmall/Books.csv" for h in hosts]
    meta = RESOURCES["amazon-books/meta_Books.json.gz"]
    assert list(meta.urls) == [f"{h}/metaFiles2/meta_Books.json.gz" for h in hosts]


@pytest.mark.parametrize(
    ("name", "shared_file"),
    [
        ("goodbooks-10k/books.csv", "goodbooks/books.csv"),
        ("published/goodbooks/item_text_descriptions.feather", "goodbooks/item_text_descriptions.feather"),
    ],
)
def test_recorded_checks_match_the_verbatim_shared_copies(name: str, shared_file: str) -> None:
    path = SHARED_DATA / shared_file
    if not path.is_file():
        pytest.skip(f"{path} not found")
    download.verify(RESOURCES[name], path)  # raises on any difference; pins nothing (recorded)
    assert not download.pin_path(path).exists()


def test_listing_says_how_each_file_is_verified() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "beeformer", "download", "--list"], capture_output=True, text=True, check=True
    )
    rows = {line.split("\t")[0]: line.split("\t")[1] for line in result.stdout.splitlines()}
    assert set(rows) == set(RESOURCES)
    assert rows["movielens-20m/ml-20m.zip"].startswith(
        "SHA-256 96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3 + 198,702,078 bytes; "
    )
    assert "MD5 cd245b17a1ae2cc31bb14903e1204af3" in rows["movielens-20m/ml-20m.zip"]
    assert rows["goodbooks-10k/ratings.csv"] == "git blob id 0d245a10acfe3c89b2e4004cdbc805b99771ac5d"
    assert rows["amazon-books/Books.csv"] == "MD5 c6cb0fd6e4322d3523e9afd87d5ed9dc + 2,140,933,459 bytes"
    assert rows["amazon-books/meta_Books.json.gz"] == "pinned on first download"
    assert rows["kaggle/goodreads-books/goodreads_books.csv"] == "pinned on first download"
