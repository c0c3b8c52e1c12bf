"""The catalogue index at scale: exact inner product against HNSW on synthetic clustered unit vectors.

    python benchmarks/serve_scale.py [--items 1000000] [--dim 384] [--clusters 1000] [--queries 1000]

The vectors are a mixture of ``--clusters`` Gaussians around random unit centres, each with a low-rank covariance
(``--rank`` directions of its own, like the few directions real embeddings of one topic vary along) and a little
isotropic noise, normalised to unit length. Uniform random vectors (or isotropic clusters in 384 dimensions) are
the pathological case for graph indexes, not what a catalogue looks like. A query is a user profile as the index
is queried: the sum of five items of one cluster. Both indexes are built by :mod:`beeformer.serve.vectors` with
its default settings; for each HNSW ``efSearch`` the script reports recall@k against the exact answer, latency of
single queries (p50, p99) and throughput of one batch, and the smallest ``efSearch`` reaching ``--target-recall``
with its speed-up over exact. It stops by itself: the counts bound every loop.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

from beeformer.serve.settings import IndexSettings
from beeformer.serve.vectors import build, search, to_bytes


def rss_gib() -> float:
    """Resident memory of this process, GiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def clustered(items: int, dim: int, clusters: int, rank: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of a mixture of low-rank Gaussians, and each one's cluster."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    directions = rng.standard_normal((clusters, rank, dim), dtype=np.float32) / np.sqrt(dim * rank)
    labels = rng.integers(0, clusters, items)
    vectors = np.empty((items, dim), dtype=np.float32)
    for start in range(0, items, 50_000):
        part = labels[start : start + 50_000]
        spread = np.einsum("nr,nrd->nd", rng.standard_normal((len(part), rank), dtype=np.float32), directions[part])
        noise = rng.standard_normal((len(part), dim), dtype=np.float32) / np.sqrt(dim)
        chunk = centres[part] + 0.7 * spread + 0.2 * noise
        vectors[start : start + len(part)] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return vectors, labels


def profiles(vectors: np.ndarray, labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Sums of five items of one random cluster each."""
    rng = np.random.default_rng(seed + 1)
    members = [np.flatnonzero(labels == c) for c in rng.choice(np.unique(labels), count)]
    return np.stack([vectors[rng.choice(m, 5)].sum(0) for m in members]).astype(np.float32)


def timed(index: faiss.Index, queries: np.ndarray, k: int, settings: IndexSettings, single: int) -> dict:
    """Latency of ``single`` one-query searches and throughput of one batch of all queries."""
    latencies = []
    for query in queries[:single]:
        started = time.perf_counter()
        search(index, query[None], k, settings)
        latencies.append(time.perf_counter() - started)
    started = time.perf_counter()
    _, rows = search(index, queries, k, settings)
    batch = time.perf_counter() - started
    return {
        "p50_ms": 1000 * float(np.percentile(latencies, 50)),
        "p99_ms": 1000 * float(np.percentile(latencies, 99)),
        "single_qps": len(latencies) / sum(latencies),
        "batch_qps": len(queries) / batch,
        "rows": rows,
    }


def built(vectors: np.ndarray, settings: IndexSettings) -> tuple[faiss.Index, dict]:
    before, started = rss_gib(), time.perf_counter()
    index = build(vectors, settings)
    seconds = time.perf_counter() - started
    return index, {"build_s": seconds, "memory_gib": rss_gib() - before, "file_gib": len(to_bytes(index)) / 2**30}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--single", type=int, default=100, help="one-query searches timed on the exact index")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    parser.add_argument("--target-recall", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the figures here too")
    args = parser.parse_args()

    started = time.perf_counter()
    vectors, labels = clustered(args.items, args.dim, args.clusters, args.rank, args.seed)
    queries = profiles(vectors, labels, args.queries, args.seed)
    print(
        f"{args.items} x {args.dim} vectors in {args.clusters} clusters made in {time.perf_counter() - started:.0f} s"
    )
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads")

    exact_settings = IndexSettings(kind="flat")
    exact, exact_build = built(vectors, exact_settings)
    exact_time = timed(exact, queries, args.k, exact_settings, args.single)
    truth = exact_time.pop("rows")
    report = {"exact": {**exact_build, **exact_time}, "hnsw": {}}
    print(f"exact: {report['exact']}")
    del exact

    hnsw_settings = IndexSettings(kind="hnsw")
    hnsw, hnsw_build = built(vectors, hnsw_settings)
    report["hnsw_build"] = {**hnsw_build, "settings": hnsw_settings.to_dict()}
    print(f"hnsw build: {report['hnsw_build']}")
    for ef in args.ef_search:
        settings = IndexSettings(
            kind="hnsw", m=hnsw_settings.m, ef_construction=hnsw_settings.ef_construction, ef_search=ef
        )
        figures = timed(hnsw, queries, args.k, settings, args.queries)
        rows = figures.pop("rows")
        figures["recall"] = float(np.mean([len(set(a) & set(b)) / args.k for a, b in zip(rows, truth, strict=True)]))
        report["hnsw"][ef] = figures
        print(f"hnsw efSearch {ef}: {figures}")
    reaching = [ef for ef in args.ef_search if report["hnsw"][ef]["recall"] >= args.target_recall]
    if reaching:
        chosen = report["hnsw"][reaching[0]]
        report["chosen_ef_search"] = reaching[0]
        report["speedup_p50"] = report["exact"]["p50_ms"] / chosen["p50_ms"]
        report["speedup_batch"] = chosen["batch_qps"] / report["exact"]["batch_qps"]
        print(
            f"efSearch {reaching[0]}: recall@{args.k} {chosen['recall']:.4f}, {report['speedup_p50']:.0f}x faster per "
            f"query (p50), {report['speedup_batch']:.0f}x the batch throughput of exact"
        )
    else:
        print(f"no efSearch reached recall@{args.k} {args.target_recall}")
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
