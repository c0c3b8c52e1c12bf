"""The description cache: every finished generation is appended to a JSON-lines file as soon as it is made.

Key design. A cache file holds the outputs of one *generation setting*: the engine, the model, the prompt
(system text, user template, prefill and its mode), the sampling settings and the engine settings that change
outputs (vLLM's and transformers' dtype, the OpenAI ``extra_body``). Their canonical JSON is hashed (SHA-256,
first 16 hex digits) into the file name, ``<engine>-<hash>.jsonl``, and written beside it as
``<engine>-<hash>.settings.json`` for people to read. Inside a file, a description is keyed by the SHA-256 of
the item's gathered features, so two items with the same text share one generation, and an item whose text
changes is generated again. Settings that only change speed (batch size, concurrency, timeouts, tensor
parallelism, GPU memory fraction, device) are not part of the key; neither are the refusal rules, which are
applied to the cached raw outputs on every run.

So a crashed or cancelled run resumes where it stopped (everything it finished is in the file), a rerun with the
same settings generates nothing, and a changed setting starts a new file and regenerates everything it affects.

Robustness: each record is one line written with a single ``write`` and flushed; a line cut short by a crash is
skipped when the file is read (and the file is mended with a newline before the next record is appended).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Bump when the way prompts are built or outputs are stored changes, so old files are not reused.
CACHE_FORMAT = 1


def settings_hash(settings: dict[str, Any]) -> str:
    """A stable 16-hex-digit hash of JSON-serialisable settings (key order does not matter)."""
    canonical = json.dumps({"cache_format": CACHE_FORMAT, **settings}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def text_key(text: str) -> str:
    """The key of one item's gathered features."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One cached generation: the raw output and why generation stopped (``stop``, ``length`` or None)."""

    output: str
    finish_reason: str | None


class DescriptionCache:
    """Append-only store of raw outputs for one generation setting (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike[str], engine: str, settings: dict[str, Any]):
        self.folder = Path(folder)
        self.settings = settings
        self.hash = settings_hash(settings)
        self.path = self.folder / f"{engine}-{self.hash}.jsonl"
        self.settings_path = self.folder / f"{engine}-{self.hash}.settings.json"
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self._handle = None
        self.skipped_lines = 0
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("r", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    self._entries[record["key"]] = Entry(record["output"], record.get("finish_reason"))
                except (json.JSONDecodeError, KeyError, TypeError):
                    self.skipped_lines += 1
                    log.warning(
                        "%s:%d: unreadable cache line skipped (a run stopped while writing it)", self.path, number
                    )

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> Entry | None:
        return self._entries.get(key)

    def put(self, key: str, output: str, finish_reason: str | None, item_id: str | None = None) -> None:
        """Store one generation now (appended and flushed before returning)."""
        record = {"key": key, "output": output, "finish_reason": finish_reason, "item_id": item_id}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if self._handle is None:
                self._open()
            self._handle.write(line)
            self._handle.flush()
            self._entries[key] = Entry(output, finish_reason)

    def _open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.settings_path.exists():
            self.settings_path.write_text(json.dumps(self.settings, indent=2, ensure_ascii=False) + "\n")
        mend = self.path.exists() and self.path.stat().st_size > 0 and not _ends_with_newline(self.path)
        self._handle = self.path.open("a", encoding="utf-8")
        if mend:
            self._handle.write("\n")

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.flush()
                os.fsync(self._handle.fileno())
                self._handle.close()
                self._handle = None

    def __enter__(self) -> DescriptionCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
