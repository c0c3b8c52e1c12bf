"""Benchmark of the data stage on a MovieLens-20M-sized input: read + join + the paper's filters + write, then Table 1.

Generates (not timed) a stand-in for ``ml-20m.zip`` with realistic skew — 138,493 users with at least 20 ratings and
a log-normal activity (median ~68, a few thousand at most), 26,744 movies with Zipf-like popularity, ML-20M's rating
distribution (about half are 4 or more), 1995-2015 timestamps — and an "IMDB movies analysis" plot file covering
most movies (by imdbID, some only by title and year). Then times, each in a fresh process so that its peak memory is
its own:

1. ``prepare`` — the data stage exactly as the workflow runs it (checksums, reading 20M rows from the zip, the
   IMDB join, ``apply_filters``, writing the contract files);
2. ``table1`` — Table 1 of the result (reading it back, X, the blockwise count of XᵀX non-zeros);

and, for a breakdown, the pieces of (1) one by one. Targets (issue 3): (1) + (2) under 2 minutes and under 6 GB.

    python benchmarks/prepare.py                      # 20,000,263 ratings, in /tmp/beeformer-bench
    python benchmarks/prepare.py --ratings 2000000    # a quick run
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

ML20M = {"ratings": 20_000_263, "users": 138_493, "movies": 26_744}
STARS = np.arange(1, 11) / 2
#: MovieLens-20M's share of each star rating, 0.5 to 5.
STAR_SHARE = np.array([0.011, 0.034, 0.014, 0.072, 0.044, 0.214, 0.105, 0.278, 0.077, 0.145])
GENRES = ["Drama", "Comedy", "Thriller", "Romance", "Action", "Crime", "Horror", "Documentary", "Adventure", "Sci-Fi"]


# --------------------------------------------------------------------------- data


def user_activity(rng: np.random.Generator, users: int, total: int) -> np.ndarray:
    """Ratings per user: log-normal (median ~68), at least 20, at most ~9,000, summing exactly to ``total``."""
    raw = np.clip(np.exp(rng.normal(np.log(68), 1.1, users)), 20, 9254) - 20
    counts = 20 + np.floor(raw * (total - 20 * users) / raw.sum()).astype(np.int64)
    counts[np.argsort(-raw)[: total - counts.sum()]] += 1  # the rounding remainder (< users)
    return counts


def ratings_table(rng: np.random.Generator, ratings: int, users: int, movies: int) -> pa.Table:
    """Unique (user, movie) pairs with skewed activity and popularity, stars and timestamps."""
    per_user = user_activity(rng, users, ratings)
    popularity = 1.0 / (np.arange(movies) + 8.0) ** 1.1
    popularity /= popularity.sum()
    shuffle = rng.permutation(movies)  # popular movies are not just the low ids
    user = np.repeat(np.arange(users, dtype=np.int64), per_user)
    movie = shuffle[rng.choice(movies, size=len(user), p=popularity)]
    # a user rates a movie once: redraw repeats (few rounds; then fall back to uniform draws)
    for round_ in range(8):
        key = user * movies + movie
        order = np.argsort(key, kind="stable")
        repeat = np.zeros(len(key), dtype=bool)
        repeat[order[1:]] = key[order[1:]] == key[order[:-1]]
        if not repeat.any():
            break
        draws = rng.choice(movies, size=int(repeat.sum()), p=popularity) if round_ < 5 else None
        movie[repeat] = shuffle[draws] if draws is not None else rng.integers(0, movies, int(repeat.sum()))
    key = user * movies + movie
    keep = np.unique(key, return_index=True)[1]
    user, movie = user[np.sort(keep)], movie[np.sort(keep)]
    stars = rng.choice(STARS, size=len(user), p=STAR_SHARE / STAR_SHARE.sum())
    start = rng.integers(789_652_000, 1_400_000_000, users)
    stamp = start[user] + rng.integers(0, 30_000_000, len(user))
    return pa.table(
        {
            "userId": pa.array(user + 1),
            "movieId": pa.array(movie + 1),
            "rating": pa.array(stars),
            "timestamp": pa.array(stamp),
        }
    )


def generate(folder: Path, ratings: int, seed: int = 20) -> dict[str, float]:
    """Write resources/movielens-20m/ml-20m.zip and resources/kaggle/imdb-movies-analysis/movies_initial.csv."""
    rng = np.random.default_rng(seed)
    scale = min(1.0, ratings / ML20M["ratings"])  # smaller runs: fewer users, a smaller catalogue
    users = max(100, int(ML20M["users"] * scale))
    movies = max(200, int(ML20M["movies"] * scale**0.5))
    table = ratings_table(rng, ratings, users, movies)
    ids = np.arange(1, movies + 1)
    years = rng.integers(1920, 2015, movies)
    titles = pd.Series([f"Movie number {i}" for i in ids])
    ml_titles = titles.where(ids % 11 != 0, titles + ", The") + " (" + pd.Series(years).astype(str) + ")"
    genres = pd.Series(np.array(GENRES)[rng.integers(0, len(GENRES), movies)]) + "|Drama"
    imdb = 100_000 + ids * 7
    archive = folder / "movielens-20m/ml-20m.zip"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bundle:
        with bundle.open("ml-20m/ratings.csv", "w", force_zip64=True) as stream:
            pacsv.write_csv(table, stream, write_options=pacsv.WriteOptions(batch_size=1 << 20))
        movies_csv = pd.DataFrame({"movieId": ids, "title": ml_titles, "genres": genres})
        bundle.writestr("ml-20m/movies.csv", movies_csv.to_csv(index=False))
        links = pd.DataFrame({"movieId": ids, "imdbId": [f"{i:07d}" for i in imdb], "tmdbId": ids + 5})
        bundle.writestr("ml-20m/links.csv", links.to_csv(index=False))
    # plots: 85% by imdbID, 5% only by title + year ("The Movie number 11" = "Movie number 11, The"), 10% none
    draw = rng.random(movies)
    by_id, by_title = draw < 0.85, (draw >= 0.85) & (draw < 0.90)
    plot_titles = titles.where(ids % 11 != 0, "The " + titles)
    words = np.array(
        [
            "a",
            "the",
            "story",
            "of",
            "man",
            "woman",
            "city",
            "war",
            "love",
            "family",
            "secret",
            "journey",
            "life",
            "night",
        ]
    )
    texts = [" ".join(words[rng.integers(0, len(words), 100)]) for _ in range(min(movies, 2000))]
    plots = pd.DataFrame(
        {
            "imdbID": np.where(by_id, imdb.astype(str), ""),
            "title": plot_titles,
            "year": years,
            "genre": "Drama, Comedy",
            "director": "Some Director",
            "cast": "Actor One, Actor Two",
            "plot": "A short plot.",
            "fullplot": [texts[i % len(texts)] for i in range(movies)],
        }
    )[by_id | by_title]
    target = folder / "kaggle/imdb-movies-analysis/movies_initial.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    plots.to_csv(target, index=False)
    return {"ratings": table.num_rows, "users": users, "movies": movies, "zip_mb": archive.stat().st_size / 1e6}


# --------------------------------------------------------------------------- timed steps (each in its own process)


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux


def step_prepare(work: str) -> dict:
    from beeformer.data import prepare

    start = time.perf_counter()
    summary = prepare(
        "movielens",
        {"source": "movielens-20m", "filters": {"min_rating": 4, "min_user_interactions": 5}},
        f"{work}/out/interactions.parquet",
        f"{work}/out/item_features.parquet",
        f"{work}/out/data.json",
        resources_dir=f"{work}/resources",
    )
    return {"seconds": time.perf_counter() - start, "peak_gb": peak_gb(), "summary": summary}


def step_table1(work: str) -> dict:
    from beeformer.data.table1 import write_table1

    start = time.perf_counter()
    stats = write_table1(
        [("movielens", f"{work}/out/interactions.parquet", f"{work}/out/data.json")],
        f"{work}/out/table1.md",
        f"{work}/out/table1.csv",
        f"{work}/out/table1.tex",
    )
    return {"seconds": time.perf_counter() - start, "peak_gb": peak_gb(), "stats": stats[0].__dict__}


def step_breakdown(work: str) -> dict:
    """The pieces of ``prepare`` one after the other, for where the time goes."""
    from beeformer import contract
    from beeformer.data import movielens
    from beeformer.data.download import verify
    from beeformer.data.filters import apply_filters
    from beeformer.data.readers import Source, read_ratings, read_table, zip_member
    from beeformer.data.resources import RESOURCES

    times: dict[str, float] = {}
    resources = Path(work) / "resources"
    clock = time.perf_counter()
    for name in ("movielens-20m/ml-20m.zip", "kaggle/imdb-movies-analysis/movies_initial.csv"):
        verify(RESOURCES[name], resources / name)
    times["verify checksums"] = time.perf_counter() - clock
    clock = time.perf_counter()
    archive = resources / "movielens-20m/ml-20m.zip"
    table = read_ratings(zip_member(archive, "ratings.csv"), movielens.RATING_TYPES)
    interactions = pd.DataFrame(
        {
            "user_id": movielens.arrow_ids(table.column("userId")),
            "item_id": movielens.arrow_ids(table.column("movieId")),
            "rating": table.column("rating").to_numpy(),
            "timestamp": table.column("timestamp").to_numpy(),
        }
    )
    del table
    times["read the ratings from the zip"] = time.perf_counter() - clock
    clock = time.perf_counter()
    movies = read_table(zip_member(archive, "movies.csv"), ["movieId", "title", "genres"])
    links = read_table(zip_member(archive, "links.csv"), ["movieId", "imdbId"])
    plots = read_table(
        Source(resources / "kaggle/imdb-movies-analysis/movies_initial.csv"),
        movielens.PLOT_COLUMNS,
        optional=movielens.PLOT_OPTIONAL,
    )
    features, _ = movielens.join(movies, links, plots, interactions["item_id"])
    items = features.loc[features["described"], ["item_id", "text"]]
    times["read movies, links, plots + join"] = time.perf_counter() - clock
    clock = time.perf_counter()
    kept, kept_items, _ = apply_filters(interactions, items, min_rating=4, min_user_interactions=5, dataset="bench")
    times["filters (apply_filters)"] = time.perf_counter() - clock
    clock = time.perf_counter()
    contract.write_table(kept, Path(work) / "breakdown/interactions.parquet")
    contract.write_table(kept_items, Path(work) / "breakdown/item_features.parquet")
    times["write parquet"] = time.perf_counter() - clock
    return {"times": times, "peak_gb": peak_gb()}


def _child(step: str, work: str, queue: mp.Queue) -> None:
    try:
        queue.put(globals()[step](work))
    except BaseException as error:  # report, do not hang the parent
        queue.put({"error": f"{type(error).__name__}: {error}"})


def in_process(step: str, work: str) -> dict:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(step, work, queue))
    process.start()
    result = queue.get()
    process.join()
    if "error" in result:
        raise RuntimeError(f"{step}: {result['error']}")
    return result


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=ML20M["ratings"], help="rows of ratings.csv (default: ML-20M)")
    parser.add_argument("--workdir", default="/tmp/beeformer-bench", help="scratch folder (deleted unless --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the per-piece timing run")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    print(f"before: {load()}", flush=True)
    clock = time.perf_counter()
    made = generate(work / "resources", args.ratings)
    print(
        f"generated {made['ratings']:,} ratings of {made['users']:,} users and {made['movies']:,} movies "
        f"(zip {made['zip_mb']:.0f} MB) in {time.perf_counter() - clock:.0f} s",
        flush=True,
    )
    prepared = in_process("step_prepare", str(work))
    table1 = in_process("step_table1", str(work))
    breakdown = None if args.no_breakdown else in_process("step_breakdown", str(work))
    after = load()

    summary = prepared["summary"]
    rows = [
        ("data stage (prepare: checksums, read, join, filters, write)", prepared["seconds"], prepared["peak_gb"]),
        ("Table 1 (read back, X, blockwise XᵀX count)", table1["seconds"], table1["peak_gb"]),
        ("total", prepared["seconds"] + table1["seconds"], max(prepared["peak_gb"], table1["peak_gb"])),
    ]
    out = io.StringIO()
    out.write("\n| step | seconds | peak memory (GB) |\n|---|---:|---:|\n")
    for name, seconds, peak in rows:
        out.write(f"| {name} | {seconds:.1f} | {peak:.2f} |\n")
    if breakdown:
        out.write(
            f"\nbreakdown (one process, peak {breakdown['peak_gb']:.2f} GB):\n\n| piece | seconds |\n|---|---:|\n"
        )
        for name, seconds in breakdown["times"].items():
            out.write(f"| {name} | {seconds:.1f} |\n")
    stats = table1["stats"]
    out.write(
        f"\nresult: {summary['filters']['raw']:,} ratings -> {summary['interactions']:,} interactions, "
        f"{summary['users']:,} users, {summary['items']:,} items; density of X {stats['density_x']:.2f} %, "
        f"XᵀX {stats['xtx_nonzeros']:,} non-zeros ({stats['density_xtx']:.2f} %)\n"
        f"join: {summary['join']['matched']}\n"
        f"after: {after}\n"
    )
    total = rows[-1]
    verdict = "MET" if total[1] < 120 and total[2] < 6 else "MISSED"
    out.write(f"targets (< 120 s, < 6 GB): {verdict}\n")
    print(out.getvalue(), flush=True)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"generated": made, "steps": rows, "breakdown": breakdown, "summary": summary, "stats": stats},
                indent=2,
                default=str,
            )
        )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if verdict == "MET" else 1


if __name__ == "__main__":
    sys.exit(main())
