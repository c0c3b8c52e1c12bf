"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds the model, optimizer and scheduler states, the random states (the sampler's numpy generator,
and each rank's torch state in its own ``rng-<rank>.pt``), the position (epoch, step, the epoch's user order and
how many of its batches are done) and the log so far. It is written atomically, and it is only resumed by a run
with the same data and the same settings but those that only say when it stops (``fingerprint`` of
:func:`beeformer.train.trainer.trajectory`); a finished run deletes it, unless its curve still rose at its budget.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from beeformer import contract

log = logging.getLogger(__name__)

FILENAME = "checkpoint.pt"


@dataclass
class Position:
    """Where the loop is: ``batches_done`` batches of ``order`` (this epoch's shuffled users) are trained."""

    epoch: int
    step: int
    order: np.ndarray
    batches_done: int


def fingerprint(settings: dict[str, Any]) -> str:
    """A short hash of the settings and data a checkpoint belongs to."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def save(
    folder: Path,
    key: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    rng: np.random.Generator,
    position: Position,
    records: list[dict[str, float]],
    rank: int = 0,
) -> None:
    """Rank 0 writes the shared state; every rank writes its own random state (dropout differs per rank)."""
    with contract.atomic_path(folder / f"rng-{rank}.pt") as tmp:
        torch.save({"fingerprint": key, "step": position.step, **_random_state()}, tmp)
    if rank != 0:
        return
    state = {
        "fingerprint": key,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "numpy_rng": rng.bit_generator.state,
        "position": position,
        "records": records,
    }
    with contract.atomic_path(folder / FILENAME) as tmp:
        torch.save(state, tmp)
    log.info("checkpoint at step %d (epoch %d) -> %s", position.step, position.epoch, folder / FILENAME)


def load(
    folder: Path,
    key: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    rng: np.random.Generator,
    rank: int = 0,
    last_step: int | None = None,
) -> tuple[Position, list[dict[str, float]]] | None:
    """Restore a matching checkpoint into the given objects; None when there is none to resume, or when it lies
    beyond ``last_step`` (a budget lowered below it)."""
    path, rng_path = folder / FILENAME, folder / f"rng-{rank}.pt"
    if not (path.exists() and rng_path.exists()):
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    random_state = torch.load(rng_path, map_location="cpu", weights_only=False)
    position: Position = state["position"]
    if state["fingerprint"] != key or random_state["fingerprint"] != key or random_state["step"] != position.step:
        log.warning("ignoring %s: it belongs to other settings or data", path)
        return None
    if last_step is not None and position.step > last_step:
        log.warning("ignoring %s: its step %d lies beyond this run's %d steps", path, position.step, last_step)
        return None
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng.bit_generator.state = state["numpy_rng"]
    torch.set_rng_state(random_state["cpu"])
    if random_state["cuda"] is not None:
        torch.cuda.set_rng_state(random_state["cuda"])
    log.info("resuming from %s at step %d (epoch %d)", path, position.step, position.epoch)
    return position, state["records"]


def remove(folder: Path) -> None:
    """The checkpoint, and the embeddings a score keeps beside it while it runs."""
    for path in folder.glob("*.pt"):
        path.unlink(missing_ok=True)
    for scores in folder.glob("scores-*"):
        shutil.rmtree(scores, ignore_errors=True)


def _random_state() -> dict[str, torch.Tensor | None]:
    """This process's CPU random state and that of its current CUDA device."""
    return {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state() if torch.cuda.is_available() else None}
