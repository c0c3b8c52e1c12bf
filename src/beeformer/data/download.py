"""Downloads into ``resources/``: verified, resumable, retried; Kaggle sets through the official ``kaggle`` package.

Every file the paper's datasets need is a :class:`Resource` (see :mod:`beeformer.data.resources`): its path under
``resources/``, its official URL(s) or Kaggle dataset, and what is known about its contents.

- **Checksums.** A file is accepted only if it passes every recorded check: its size, its SHA-256, its *git blob id*
  (a file fetched from a repository at a fixed commit: ``sha1(b"blob <size>\\0" + data)``, what ``git hash-object``
  prints, so the commit's tree vouches for it without any other record) and its MD5 (where only that is published;
  with the size it catches damage and other versions, the risks here). All digests come from one streaming pass
  over the file (1 MiB chunks) after the transfer, so that a resumed transfer is checked whole. Where nothing is
  recorded, the first accepted copy is *pinned*: its SHA-256 is written next to it as ``<file>.sha256``
  (``sha256sum`` format), and every later copy, downloaded or placed by hand, must match the pin (trust on first
  use). Delete the pin to accept a new upstream version on purpose.
- **Substitutes.** A file that stands in for the official one on purpose (a sample for a trial run) is marked by
  a file ``<file>.substitute`` next to it (any contents): the recorded checks are then not applied; it is pinned.
- **Transfers** go to ``<file>.part``; the file appears under its own name only when it is complete and verified.
  A broken transfer is resumed with an HTTP ``Range`` request, in the same run or the next one (a server that
  ignores ``Range`` sends the whole file again, which is handled too).
- **Retries.** A server that stops answering mid-way (read time-out), dropped connections and HTTP 408/425/429/5xx
  are retried with exponential back-off; an attempt that made progress does not use up a retry. Permanent answers
  (404, 403, ...) and a host that cannot be reached (offline: no DNS; connection refused; no route; no answer to
  the connection attempt within the time-out) fail at once. Either way, after giving up on a URL the next mirror
  is tried, in the order recorded.
- **By hand.** A file placed at its path under ``resources/`` is used without a network (after the checksum check).
  Every failure says which file to place where.
- **Kaggle.** Credentials are looked for *before* anything else happens (``KAGGLE_API_TOKEN``,
  ``~/.kaggle/access_token``, ``KAGGLE_USERNAME`` + ``KAGGLE_KEY``, ``kaggle.json`` in ``$KAGGLE_CONFIG_DIR``,
  ``~/.kaggle`` or ``~/.config/kaggle``, ``~/.kaggle/credentials.json``); without them the download stops with a
  message on how to set them up. ``kaggle`` is imported only then: its import prints to stdout, creates its
  config folder and may call ``exit()``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import io
import logging
import os
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from beeformer.contract import ContractError

log = logging.getLogger(__name__)

USER_AGENT = "beeformer-workflow/0.1 (+https://github.com/recombee/beeformer)"
CHUNK = 1 << 20
#: HTTP statuses worth retrying; anything else >= 400 is permanent.
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Errno values that mean the host cannot be reached at all: no retries, fail fast.
UNREACHABLE_ERRNO = frozenset(
    {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.ENETDOWN}
)
#: Upper bound on attempts per URL, progress or not (a server that drops every connection after a few bytes).
MAX_ATTEMPTS = 200


#: The digests a resource may record, and how messages name them.
DIGESTS = {"sha256": "SHA-256", "git_blob": "git blob id", "md5": "MD5"}


@dataclass(frozen=True)
class Resource:
    """A file the workflow fetches into ``resources/<name>``; ``size`` (bytes) and the digests are checked if known.

    ``note`` adds to the listing what is known but not checked (e.g. a second published checksum).
    """

    name: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    git_blob: str | None = None
    md5: str | None = None
    size: int | None = None
    kaggle: str | None = None
    member: str | None = None
    page: str = ""
    description: str = ""
    note: str = ""

    @property
    def kind(self) -> str:
        """``kaggle`` or ``http``."""
        return "kaggle" if self.kaggle else "http"

    @property
    def checks(self) -> dict[str, str | int]:
        """The recorded checks: the known digests of :data:`DIGESTS` (lower-case hex), then ``size``."""
        checks: dict[str, str | int] = {kind: value.lower() for kind in DIGESTS if (value := getattr(self, kind))}
        return checks if self.size is None else {**checks, "size": self.size}

    @property
    def verification(self) -> str:
        """How a copy is verified, for listings and messages: 'SHA-256 ... + 1,234 bytes', or the pinning rule."""
        parts = [
            f"{DIGESTS[kind]} {value}" if kind in DIGESTS else _shown(kind, value)
            for kind, value in self.checks.items()
        ]
        text = " + ".join(parts) or "pinned on first download"
        return f"{text}; {self.note}" if self.note else text


class DownloadError(ContractError):
    """A resource could not be fetched; the message says what to place where by hand."""


class ChecksumError(DownloadError):
    """A file fails a recorded (or pinned) check: its size or a digest differs."""


class CredentialsError(DownloadError):
    """Kaggle credentials are missing; nothing was done."""


class _Transient(Exception):
    """Worth another attempt (time-out, dropped connection, 5xx)."""


class _Permanent(Exception):
    """Not worth retrying this URL (404, host unreachable, ...)."""


# --------------------------------------------------------------------------- public API


def ensure(
    resource: Resource,
    resources_dir: str | os.PathLike[str],
    *,
    offline: bool = False,
    retries: int = 4,
    backoff: float = 2.0,
    timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Return the verified path of ``resource`` under ``resources_dir``, downloading it if it is missing.

    A file already there (downloaded before or placed by hand) is verified and used without a network. With
    ``offline`` a missing file is an error naming the file to place by hand.
    """
    path = Path(resources_dir) / resource.name
    if path.is_file():
        verify(resource, path)
        log.info("%s: present and verified, not downloaded", path)
        return path
    if offline:
        raise DownloadError(f"{path}: missing. {manual_hint(resource, path)}")
    if resource.kind == "kaggle":
        fetch_kaggle(resource, path, retries=retries, backoff=backoff, sleep=sleep)
    else:
        fetch_http(resource, path, retries=retries, backoff=backoff, timeout=timeout, sleep=sleep)
    return path


def verify(resource: Resource, path: str | os.PathLike[str]) -> str:
    """Check ``path`` against the recorded checks, or its pin; pin it when neither exists. Return its SHA-256."""
    path = Path(path)
    expected, origin = expected_checks(resource, path)
    actual, problem = _compare(path, expected)
    if problem:
        raise ChecksumError(
            f"{path}: {problem} ({origin}). The file is damaged, truncated or a different version. Delete it and run "
            "again to download it, or place the right file there by hand"
            + (
                f"; if upstream changed the file on purpose, delete {pin_path(path)}."
                if origin == "pinned"
                else f"; to use this file instead on purpose (e.g. a sample), create {substitute_path(path)}."
            )
        )
    if not expected:
        _pin(path, actual)
    return actual


def expected_checks(resource: Resource, path: Path) -> tuple[dict[str, str | int], str]:
    """The recorded checks (origin 'recorded'), else the pinned SHA-256 ('pinned'), else none.

    A file marked as a substitute (``<file>.substitute``) is held to its pin only.
    """
    if resource.checks and not substitute_path(path).exists():
        return resource.checks, "recorded"
    pinned = read_pin(path)
    return ({"sha256": pinned}, "pinned") if pinned else ({}, "")


def digests(path: str | os.PathLike[str], kinds: Sequence[str] = ("sha256",)) -> dict[str, str]:
    """The digests ``kinds`` (keys of :data:`DIGESTS`) of a file, all from one pass in 1 MiB chunks."""
    hashes = {kind: hashlib.new("sha1" if kind == "git_blob" else kind, usedforsecurity=False) for kind in kinds}
    if "git_blob" in hashes:  # git hashes the header 'blob <size>\0', then the contents
        hashes["git_blob"].update(b"blob %d\0" % os.stat(path).st_size)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            for digest in hashes.values():
                digest.update(block)
    return {kind: digest.hexdigest() for kind, digest in hashes.items()}


def _compare(path: Path, expected: dict[str, str | int]) -> tuple[str, str | None]:
    """The SHA-256 of ``path`` and its failed checks ('MD5 is ..., expected ...; size is ...'), or ``None``."""
    actual: dict[str, str | int] = digests(path, ["sha256", *(k for k in expected if k in DIGESTS and k != "sha256")])
    actual["size"] = path.stat().st_size
    failed = [
        f"{DIGESTS.get(kind, kind)} is {_shown(kind, actual[kind])}, expected {_shown(kind, value)}"
        for kind, value in expected.items()
        if actual[kind] != value
    ]
    return str(actual["sha256"]), "; ".join(failed) or None


def _shown(kind: str, value: str | int) -> str:
    return f"{value:,} bytes" if kind == "size" else str(value)


def substitute_path(path: str | os.PathLike[str]) -> Path:
    """The marker of a file that stands in for the official one on purpose."""
    path = Path(path)
    return path.with_name(path.name + ".substitute")


def pin_path(path: str | os.PathLike[str]) -> Path:
    """Where the pinned SHA-256 of ``path`` lives."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def read_pin(path: str | os.PathLike[str]) -> str | None:
    """The pinned SHA-256 of ``path``, or ``None``."""
    pin = pin_path(path)
    if not pin.is_file():
        return None
    text = pin.read_text().split()
    return text[0].lower() if text else None


def write_pin(path: str | os.PathLike[str], digest: str) -> None:
    """Pin ``digest`` as the SHA-256 of ``path`` (``sha256sum`` format, written atomically)."""
    path = Path(path)
    pin = pin_path(path)
    tmp = pin.with_name(pin.name + ".tmp")
    tmp.write_text(f"{digest}  {path.name}\n")
    os.replace(tmp, pin)


def _pin(path: Path, digest: str) -> None:
    write_pin(path, digest)
    marker = substitute_path(path)
    why = f"marked as a substitute by {marker}" if marker.exists() else "no published checksum is recorded for it"
    log.warning("%s: %s; pinned its SHA-256 %s in %s (later copies must match it)", path, why, digest, pin_path(path))


def manual_hint(resource: Resource, path: Path) -> str:
    """How to get the file without this tool."""
    where = resource.page or (resource.urls[0] if resource.urls else "")
    if resource.kind == "kaggle":
        origin = f"the Kaggle dataset {resource.kaggle} ({where}), file {resource.member}"
    else:
        origin = " or ".join(resource.urls) if resource.urls else where
    checksum = f" ({resource.verification})" if resource.checks else ""
    return f"Download {origin} yourself and place it at {path}{checksum}; it is then used without a network."


# --------------------------------------------------------------------------- HTTP


def fetch_http(
    resource: Resource,
    path: str | os.PathLike[str],
    *,
    retries: int = 4,
    backoff: float = 2.0,
    timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download ``resource`` to ``path`` via ``<path>.part`` (resumed if present), verify it, then rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    if not resource.urls:
        raise DownloadError(f"{path}: no URL is recorded for this file. {manual_hint(resource, path)}")
    failures: list[str] = []
    for url in resource.urls:
        try:
            _transfer(url, part, retries=retries, backoff=backoff, timeout=timeout, sleep=sleep)
            break
        except _Permanent as error:
            failures.append(f"{url}: {error}")
            log.warning("%s: %s; trying the next source if there is one", url, error)
    else:
        raise DownloadError(f"{path}: download failed ({'; '.join(failures)}). {manual_hint(resource, path)}")
    return _install(part, path, resource, f"the download from {url}")


def _transfer(
    url: str, part: Path, *, retries: int, backoff: float, timeout: float, sleep: Callable[[float], None]
) -> None:
    """Fill ``part`` with the body of ``url``, resuming from its current size; retry transient failures."""
    failures = 0
    for _attempt in range(MAX_ATTEMPTS):
        before = part.stat().st_size if part.exists() else 0
        try:
            _attempt_transfer(url, part, before, timeout)
            return
        except _Transient as error:
            after = part.stat().st_size if part.exists() else 0
            if after > before:
                failures = 0  # a broken transfer that made progress: resume at once
                log.warning("%s: transfer broken at byte %d (%s); resuming", url, after, error)
                continue
            failures += 1
            if failures > retries:
                raise _Permanent(f"gave up after {retries} retries ({error})") from error
            wait = backoff * 2 ** (failures - 1)
            log.warning("%s: %s; retry %d of %d in %.2f s", url, error, failures, retries, wait)
            sleep(wait)
    raise _Permanent(f"gave up after {MAX_ATTEMPTS} attempts")


def _attempt_transfer(url: str, part: Path, offset: int, timeout: float) -> None:
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
            if offset and status == 206:
                start = _content_range_start(response.headers.get("Content-Range"))
                if start != offset:
                    part.unlink(missing_ok=True)
                    raise _Transient(f"server resumed at byte {start}, not {offset}; starting over")
                mode = "ab"
            else:
                if offset:
                    log.warning("%s: server ignored the range request; downloading from the start", url)
                offset, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            written = 0
            with open(part, mode) as handle:
                while block := response.read(CHUNK):
                    handle.write(block)
                    written += len(block)
            if expected is not None and written < expected:
                raise _Transient(f"connection closed after {written} of {expected} bytes")
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            total = _content_range_total(error.headers.get("Content-Range"))
            if total == offset:
                return  # the .part file is already complete
            part.unlink(missing_ok=True)
            raise _Transient(f"range not satisfiable for a {offset}-byte partial file; starting over") from error
        if error.code in TRANSIENT_STATUS:
            raise _Transient(f"HTTP {error.code} {error.reason}") from error
        raise _Permanent(f"HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, socket.gaierror):
            raise _Permanent(f"host not found, offline? ({reason})") from error
        if isinstance(reason, OSError) and reason.errno in UNREACHABLE_ERRNO:
            raise _Permanent(f"host unreachable ({reason})") from error
        if isinstance(reason, TimeoutError):  # raised while connecting: the host does not answer at all
            raise _Permanent(f"host does not answer (no connection within {timeout} s)") from error
        raise _Transient(str(reason)) from error
    except TimeoutError as error:
        raise _Transient(f"timed out after {timeout} s") from error
    except (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError) as error:
        raise _Transient(f"connection broken ({type(error).__name__})") from error


def _content_range_start(value: str | None) -> int | None:
    # "bytes 100-199/200"
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def _content_range_total(value: str | None) -> int | None:
    # "bytes */200"
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1]
    return int(total) if total.isdigit() else None


# --------------------------------------------------------------------------- Kaggle


def kaggle_credentials() -> str | None:
    """Where Kaggle credentials were found (a short description), or ``None``; never imports ``kaggle``."""
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "KAGGLE_API_TOKEN"
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "KAGGLE_USERNAME and KAGGLE_KEY"
    home = Path(os.path.expanduser("~"))
    candidates = [home / ".kaggle" / "access_token", home / ".kaggle" / "access_token.txt"]
    config_dirs = [Path(os.environ["KAGGLE_CONFIG_DIR"])] if os.environ.get("KAGGLE_CONFIG_DIR") else []
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    config_dirs += [home / ".kaggle", xdg / "kaggle"]
    candidates += [folder / "kaggle.json" for folder in config_dirs]
    candidates.append(home / ".kaggle" / "credentials.json")
    for candidate in candidates:
        if candidate.is_file() and candidate.stat().st_size > 0:
            return str(candidate)
    return None


def kaggle_setup_message(resources: Sequence[tuple[Resource, Path]]) -> str:
    """What to do without Kaggle credentials: set them up, or place the files by hand."""
    files = "\n".join(
        f"  - {path}  <- file {r.member} of https://www.kaggle.com/datasets/{r.kaggle}" for r, path in resources
    )
    return (
        "Kaggle credentials not found; nothing was downloaded. Either\n"
        "  (a) create an API token at https://www.kaggle.com/settings (section API, 'Create New Token'), save the\n"
        "      downloaded kaggle.json as ~/.kaggle/kaggle.json and run 'chmod 600 ~/.kaggle/kaggle.json'; or export\n"
        "      KAGGLE_USERNAME and KAGGLE_KEY (the two values in kaggle.json), or KAGGLE_API_TOKEN; or\n"
        "  (b) download these files in a browser (accepting the dataset's terms) and place them by hand:\n"
        f"{files}\n"
        "Then run again. The 'kaggle' package is needed only for (a): pip install 'beeformer[kaggle]'."
    )


def fetch_kaggle(
    resource: Resource,
    path: str | os.PathLike[str],
    *,
    retries: int = 4,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download one file of a Kaggle dataset with the official ``kaggle`` package, verify it and place it."""
    path = Path(path)
    if kaggle_credentials() is None:  # before any work: no folder, no import
        raise CredentialsError(kaggle_setup_message([(resource, path)]))
    api = _kaggle_api(resource, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    with tempfile.TemporaryDirectory(prefix=".kaggle-", dir=path.parent) as tmp:
        archive = _kaggle_download(api, resource, path, Path(tmp), retries, backoff, sleep)
        _extract_member(archive, resource, path, part)
    return _install(part, path, resource, f"the file {resource.member} of Kaggle dataset {resource.kaggle}")


def _kaggle_api(resource: Resource, path: Path):
    """Import kaggle (lazily, its stdout captured) and return an authenticated ``KaggleApi``."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            import kaggle

            api = kaggle.api
            api.authenticate()
    except ImportError as error:
        raise DownloadError(
            f"{path}: the 'kaggle' package is not installed (pip install 'beeformer[kaggle]'). "
            f"{manual_hint(resource, path)}"
        ) from error
    except (SystemExit, Exception) as error:  # authenticate() calls exit(1) on bad credentials
        printed = " ".join(captured.getvalue().split())[:400]
        raise CredentialsError(
            f"Kaggle rejected the credentials ({type(error).__name__}: {error}; {printed}). "
            + kaggle_setup_message([(resource, path)])
        ) from None
    if captured.getvalue().strip():
        log.info("kaggle: %s", " ".join(captured.getvalue().split())[:400])
    return api


def _kaggle_download(
    api, resource: Resource, path: Path, folder: Path, retries: int, backoff: float, sleep: Callable[[float], None]
) -> Path:
    failures = 0
    while True:
        captured = io.StringIO()
        try:
            with contextlib.redirect_stdout(captured):
                api.dataset_download_files(resource.kaggle, path=str(folder), quiet=True, unzip=False)
            break
        except (SystemExit, Exception) as error:
            failures += 1
            message = f"{type(error).__name__}: {error}"
            if failures > retries or _kaggle_permanent(error):
                raise DownloadError(
                    f"{path}: Kaggle download of {resource.kaggle} failed ({message}). {manual_hint(resource, path)}"
                ) from None
            wait = backoff * 2 ** (failures - 1)
            log.warning("kaggle %s: %s; retry %d of %d in %.2f s", resource.kaggle, message, failures, retries, wait)
            sleep(wait)
    archives = sorted(folder.glob("*.zip"))
    files = [p for p in folder.iterdir() if p.is_file()]
    if archives:
        return archives[0]
    if files:
        return files[0]
    raise DownloadError(f"{path}: Kaggle returned no file for {resource.kaggle}. {manual_hint(resource, path)}")


def _kaggle_permanent(error: BaseException) -> bool:
    status = getattr(getattr(error, "response", None), "status_code", None) or getattr(error, "status", None)
    return isinstance(status, int) and 400 <= status < 500 and status not in TRANSIENT_STATUS


def _extract_member(archive: Path, resource: Resource, path: Path, part: Path) -> None:
    """Copy ``resource.member`` out of the downloaded archive (or take the file itself) into ``part``."""
    wanted = (resource.member or path.name).lower()
    if not zipfile.is_zipfile(archive):
        if archive.name.lower() != wanted:
            raise DownloadError(f"{path}: Kaggle sent {archive.name}, not {resource.member}")
        shutil.copyfile(archive, part)
        return
    with zipfile.ZipFile(archive) as bundle:
        names = [n for n in bundle.namelist() if not n.endswith("/")]
        matches = [n for n in names if n.lower() == wanted or n.lower().endswith("/" + wanted)]
        if not matches:
            raise DownloadError(
                f"{path}: the Kaggle dataset {resource.kaggle} has no file {resource.member}; it has {names[:20]}. "
                "The dataset may have changed upstream; place the right file by hand."
            )
        with bundle.open(matches[0]) as source, open(part, "wb") as target:
            shutil.copyfileobj(source, target, CHUNK)


def _install(part: Path, path: Path, resource: Resource, what: str) -> Path:
    """Verify a finished ``.part`` file against the recorded (or pinned) checks and move it into place."""
    expected, origin = expected_checks(resource, path)
    actual, problem = _compare(part, expected)
    if problem:
        part.unlink(missing_ok=True)
        raise ChecksumError(
            f"{path}: {what} failed its check: {problem} ({origin}); the partial file was deleted. Run again to "
            f"retry. {manual_hint(resource, path)}"
        )
    os.replace(part, path)
    if not expected:
        _pin(path, actual)
    log.info("%s: %s, %d bytes, SHA-256 %s", path, what, path.stat().st_size, actual)
    return path
