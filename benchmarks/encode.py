"""Items/s of encoding texts for evaluation (the embed stage's ``encode``) per precision, Goodbooks texts, MiniLM.

    python benchmarks/encode.py [--items 512] [--seq 128] [--batch-size 64] [--precisions fp32 bf16] [--repeats 3]

The same random Goodbooks descriptions are encoded in each precision (:mod:`beeformer.precision`) in one process,
taking turns, with each precision's matmul peak measured in the same rounds (the helpers of
``benchmarks/train_step.py``). GFLOP/s counts one forward: 2 x non-embedding parameters x tokens, plus attention.
"""

from __future__ import annotations

import argparse

from train_step import compare_precisions, forward_flops, goodbooks_texts, packaged_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=512)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--precisions", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np

    from beeformer.encoding import encode
    from beeformer.train.step import TokenizedCatalogue

    model = packaged_model(args.seq)
    texts = goodbooks_texts(args.items, np.random.default_rng(0))
    lengths = TokenizedCatalogue.build(model, texts).lengths(np.arange(len(texts))).tolist()
    compare_precisions(
        f"encoding {args.items} Goodbooks texts with MiniLM, seq {args.seq}, batches of {args.batch_size}",
        lambda p: encode(model, texts, args.batch_size, p),
        args.precisions,
        args.items,
        forward_flops(model, lengths),
        args.repeats,
    )


if __name__ == "__main__":
    main()
