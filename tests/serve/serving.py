"""Helpers of the serve tests: a small catalogue, the CLI, independent top-k, a server on a loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from beeformer.cli import main

#: Texts of a small shop, each distinct.
TEXTS = [
    f"{adjective} {thing} for {use}"
    for adjective in ("light", "sturdy", "compact", "large")
    for thing in ("tent", "lamp", "stroller", "printer", "kettle")
    for use in ("camping", "the office", "a baby")
]


def catalogue(folder: Path, name: str = "items.csv", texts: list[str] = TEXTS, first: int = 0) -> Path:
    """A CSV of items i<first>... with ``texts``."""
    path = folder / name
    ids = [f"i{first + n}" for n in range(len(texts))]
    pd.DataFrame({"item_id": ids, "text": texts}).to_csv(path, index=False)
    return path


def cli(*args: str | os.PathLike[str]) -> int:
    return main([str(a) for a in args])


def exact_top_k(
    embeddings: np.ndarray, history: list[int], k: int, allowed: list[int] | None = None
) -> tuple[list[int], np.ndarray]:
    """Rows of the k best items by the sum of cosine similarities to the history rows, history excluded."""
    scores = embeddings[history].astype(np.float64).sum(0) @ embeddings.astype(np.float64).T
    mask = np.ones(len(embeddings), dtype=bool) if allowed is None else np.isin(np.arange(len(embeddings)), allowed)
    mask[history] = False
    rows = [r for r in np.argsort(-scores, kind="stable") if mask[r]][:k]
    return rows, scores[rows]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``beeformer serve`` in a subprocess on a free loopback port, stopped by :meth:`stop`."""

    def __init__(self, index: Path, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "beeformer", "serve", "--index", str(index), "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                httpx.get(f"{self.url}/health", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError(f"the server did not answer /health within 120 s: {self.stop()}")

    def stop(self) -> str:
        self.process.terminate()
        output, _ = self.process.communicate(timeout=30)
        return output
