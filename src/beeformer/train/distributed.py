"""Data parallelism over the items of a step, for several GPUs (or CPU processes) launched by ``torchrun``.

Every rank samples the same users and items (same seed), embeds only its share of the chunks, and the ranks sum
their rows into the full matrix A. Each rank then computes the same loss and dL/dA, back-propagates its own
chunks, and the ranks sum their parameter gradients, so every rank takes the same optimizer step; with dropout
off the result equals the single-process step (each rank draws its own dropout masks). (The
``DistributedDataParallel`` wrapper's hooks assume one backward per step; a beeFormer step has one backward per
chunk, so gradients are all-reduced explicitly, once per step.)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Rank:
    """This process's place among ``world`` processes (rank 0 of 1 when not distributed)."""

    index: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def share(self, chunks: Sequence) -> list:
        """This rank's chunks: every ``world``-th one, so long and short chunks spread evenly."""
        return list(chunks[self.index :: self.world])


SINGLE_PROCESS = Rank()


def launched_as_main() -> bool:
    """Whether this process is rank 0 of its torchrun launch (or not launched by torchrun), group or no group."""
    return int(os.environ.get("RANK", "0")) == 0


def setup(device: str) -> tuple[Rank, torch.device]:
    """Join the process group when started by torchrun (``WORLD_SIZE`` > 1) and pick this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        chosen = device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        return SINGLE_PROCESS, torch.device(chosen)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        return Rank(dist.get_rank(), world), torch.device("cuda", local_rank)
    return Rank(dist.get_rank(), world), torch.device("cpu")


def sum_across_ranks(tensor: torch.Tensor, rank: Rank) -> torch.Tensor:
    """In-place sum over ranks (a no-op for one process)."""
    if rank.world > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def sum_gradients(parameters: Sequence[torch.nn.Parameter], rank: Rank) -> None:
    """Sum every parameter's gradient over ranks in one flat buffer."""
    if rank.world == 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for parameter, grad in zip(parameters, grads, strict=True):
        n = grad.numel()
        parameter.grad = flat[offset : offset + n].view_as(grad).clone()
        offset += n


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
