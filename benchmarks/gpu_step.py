"""The beeFormer training step on a GPU at the paper's scale: items/s, peak memory, and the share of bf16 peak.

    python benchmarks/gpu_step.py                      # all-mpnet-base-v2 shape, seq 384, m = 10,000, bf16
    python benchmarks/gpu_step.py --dropout on off     # the step with dropout on and off, taking turns
    python benchmarks/gpu_step.py --model PATH         # a local sentence-Transformer folder instead
    python benchmarks/gpu_step.py --save-model DIR --vocab-from items.parquet   # write the random model only

GPU machines here have no network, so by default the model is MPNet-base with random weights (the shape of
all-mpnet-base-v2: 12 layers, hidden 768; speed does not depend on the weights) and a word-level vocabulary made
here (the words of ``--vocab-from``'s texts, filled up to BERT's 30,522 entries), and the texts are random
tokens filling the whole sequence. Each ``--dropout`` setting runs the step as the trainer does
(:func:`beeformer.train.passes.set_training_mode` and the attention rule of ``attention: auto``, SDPA on CUDA;
MPNet keeps its own attention), one warm-up step each, then ``--steps`` rounds taking turns. FLOPs per step:
6 x (non-embedding) parameters x tokens for the forward+backward pass plus 2 x for the no-grad pass; the bf16 peak
is measured with a large matrix product in the same process. Without a GPU it runs on the CPU in fp32 (a
smoke test at small ``--seq``/``--m``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB_SIZE = 30_522


def bf16_peak_tflops(device: torch.device, n: int = 8192, repeats: int = 20) -> float:
    a = torch.randn((n, n), device=device, dtype=torch.bfloat16)
    b = torch.randn((n, n), device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize(device)
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize(device)
    return 2 * n**3 * repeats / (time.perf_counter() - started) / 1e12


def random_mpnet(folder: str | Path, layers: int, hidden: int, words: list[str] = ()) -> str:
    """Save an MPNet with random weights and a word-level WordPiece vocabulary as a Hugging Face folder."""
    from transformers import BertTokenizer, MPNetConfig, MPNetModel

    vocabulary = SPECIAL + sorted(set(words) - set(SPECIAL))[: VOCAB_SIZE - len(SPECIAL)]
    vocabulary += [f"w{i}" for i in range(VOCAB_SIZE - len(vocabulary))]
    tokenizer = BertTokenizer(vocab={word: i for i, word in enumerate(vocabulary)}, do_lower_case=True)
    if len(tokenizer) != VOCAB_SIZE:
        raise RuntimeError(f"the tokenizer took {len(tokenizer)} of {VOCAB_SIZE} words (transformers' API changed?)")
    config = MPNetConfig(
        vocab_size=VOCAB_SIZE,
        num_hidden_layers=layers,
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_attention_heads=max(1, hidden // 64),
        max_position_embeddings=514,
        pad_token_id=0,
    )
    MPNetModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def words_of(path: str) -> list[str]:
    """The lower-cased words of an items file's texts (``text`` column of a Parquet file)."""
    import re

    import pandas as pd

    texts = pd.read_parquet(path, columns=["text"])["text"]
    return sorted({w for text in texts for w in re.findall(r"[a-z]+", text.lower())})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a sentence-Transformer folder (default: random MPNet-base)")
    parser.add_argument("--layers", type=int, default=12, help="random MPNet only")
    parser.add_argument("--hidden", type=int, default=768, help="random MPNet only")
    parser.add_argument("--seq", type=int, default=384)
    parser.add_argument("--m", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument("--users", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=2, help="timed rounds after one warm-up step per setting")
    parser.add_argument("--single-pass", action="store_true", help="keep all graphs (needs memory for all m)")
    parser.add_argument("--dropout", nargs="+", choices=["on", "off"], default=["on"], help="settings compared")
    parser.add_argument("--save-model", help="write the random MPNet to this folder and stop")
    parser.add_argument("--vocab-from", help="with --save-model: an items.parquet whose words form the vocabulary")
    args = parser.parse_args()

    import tempfile

    if args.save_model:
        words = words_of(args.vocab_from) if args.vocab_from else []
        print(random_mpnet(args.save_model, args.layers, args.hidden, words))
        return

    from sentence_transformers import SentenceTransformer

    from beeformer.train.passes import plan_passes, set_training_mode
    from beeformer.train.step import TokenizedCatalogue, make_chunks, training_step

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    autocast = torch.bfloat16 if cuda else None
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    folder = args.model or random_mpnet(tempfile.mkdtemp(), args.layers, args.hidden)
    model = SentenceTransformer(folder, device=str(device))
    model.max_seq_length = args.seq
    # Embedding tables are looked up, not multiplied: they do not count towards the FLOPs.
    parameters = sum(p.numel() for name, p in model.named_parameters() if "embeddings" not in name)

    rng = np.random.default_rng(0)
    tokenizer = model.tokenizer
    first, last = len(SPECIAL), len(tokenizer)
    ids = [
        [tokenizer.cls_token_id, *rng.integers(first, last, size=args.seq - 2).tolist(), tokenizer.sep_token_id]
        for _ in range(args.m)
    ]
    catalogue = TokenizedCatalogue(input_ids=ids, pad_id=0)
    X = torch.from_numpy((rng.random((args.users, args.m)) < 0.01).astype(np.float32)).to(device)
    chunks = make_chunks(catalogue, np.arange(args.m), args.chunk, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def step(dropout: str) -> float:
        set_training_mode(model, dropout == "on")
        passes = plan_passes(model, "auto", dropout == "on", device)
        if cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        training_step(model, optimizer, X, chunks, autocast=autocast, single_pass=args.single_pass, passes=passes)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - started

    for dropout in args.dropout:  # warm-up
        step(dropout)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    seconds: dict[str, list[float]] = {dropout: [] for dropout in args.dropout}
    for _ in range(args.steps):
        for dropout in args.dropout:
            seconds[dropout].append(step(dropout))

    tokens = args.m * args.seq
    passes = 6 if args.single_pass else 8  # forward+backward, plus the no-grad forward of the two-pass step
    name = torch.cuda.get_device_name() if cuda else "CPU (fp32 smoke test)"
    peak = bf16_peak_tflops(device) if cuda else float("nan")
    memory = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    print(
        f"# {name}, torch {torch.__version__}, {parameters / 1e6:.0f}M non-embedding parameters, seq {args.seq}, "
        f"m {args.m}, chunk {args.chunk}, {'single' if args.single_pass else 'two'}-pass, "
        f"{'bf16' if cuda else 'fp32'}, {args.steps} rounds"
    )
    print(
        "| dropout | items/s | s/step | vs dropout on | peak GPU memory GiB | achieved TFLOP/s | "
        "measured bf16 peak TFLOP/s | share of peak |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for dropout, times in seconds.items():
        median = statistics.median(times)
        on = statistics.median(seconds["on"]) / median if "on" in seconds else float("nan")
        achieved = passes * parameters * tokens / median / 1e12
        print(
            f"| {dropout} | {args.m / median:.0f} | {median:.2f} | {on:.2f}x | {memory:.1f} | {achieved:.0f} | "
            f"{peak:.0f} | {achieved / peak:.0%} |"
        )


if __name__ == "__main__":
    main()
