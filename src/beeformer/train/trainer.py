"""The beeFormer training loop: data -> batches -> Algorithm 1 steps -> a sentence-Transformer folder.

With a :class:`~beeformer.train.validation.Validation`, the model is scored on the validation phase at step 0,
every ``eval_every`` steps, at the steps it may be chosen at and at the end, without stopping training; the
model saved is the best of the steps it may be chosen at (``select_at`` and the last step, or with ``patience``
every scored step, stopping once ``patience`` scores in a row did not improve). :mod:`beeformer.train.tuning`
runs a grid of such runs on ``train`` and refits the choice on ``train_full``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import resource
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sentence_transformers import SentenceTransformer
from tqdm.auto import tqdm

from beeformer import contract
from beeformer.contract.models import resolve_model
from beeformer.precision import Precision, autocast_dtype
from beeformer.train import checkpoint, distributed
from beeformer.train.card import model_card
from beeformer.train.passes import Attention, plan_passes, set_training_mode
from beeformer.train.run import Run
from beeformer.train.sampling import NegativeSampling, UserBatches, sample_items
from beeformer.train.selection import StepPlan
from beeformer.train.step import TokenizedCatalogue, graph_bytes, make_chunks, training_step
from beeformer.train.validation import Validation

log = logging.getLogger(__name__)

#: The graph estimate of ``step.graph_bytes`` is ~25% below what a CPU measures (docs/benchmarks.md): the margin.
SINGLE_PASS_MARGIN = 1.35
#: ``memory_budget_gb: auto``: this share of the device's memory (RAM on a CPU) may hold the single-pass graph.
AUTO_BUDGET_SHARE = 0.4
#: Settings that only say when a run stops or saves; a checkpoint resumes under other values of them.
STOP_SETTINGS = ("patience", "checkpoint_every")
#: The run's length: part of what every step computes only where the learning-rate schedule depends on it.
LENGTH_SETTINGS = ("max_steps", "epochs")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one beeFormer run (defaults: the authors' README, see config/paper.yaml, except
    ``dropout``, off: chosen on validation, docs/method.md)."""

    base_model: str = "sentence-transformers/all-mpnet-base-v2"
    epochs: int = 5
    max_steps: int | None = None  # stop early after this many steps (a budget), None = all epochs
    batch_size: int | dict[str, int] = 1024  # users per step; a mapping source -> users: sources take turns
    items_per_step: int = 10_000  # m: touched items plus negatives
    chunk_size: int = 200  # texts per forward pass
    max_seq_length: int = 384
    lr: float = 1e-5
    schedule: Literal["constant", "linear", "cosine"] = "constant"
    warmup_steps: int = 0
    optimizer: Literal["adamw", "nadam"] = "adamw"
    weight_decay: float = 0.0
    negatives: NegativeSampling = "official"
    prediction_relu: bool = True
    dropout: bool = False  # eval mode (no dropout; chosen on validation, docs/method.md); true: training mode
    attention: Attention = "auto"  # attention implementation per pass: auto, sdpa, eager (train/passes.py)
    replay_dropout: bool = True
    precision: Precision = "auto"  # auto: bf16 autocast where the GPU or CPU has bf16 units
    text_prefix: str = ""
    # single-pass step when the graph of all m items fits this many GB; auto: 40% of the device's memory; None: off
    memory_budget_gb: float | Literal["auto"] | None = "auto"
    eval_every: int | None = None  # score the validation phase every this many steps (needs a validation phase)
    patience: int | None = None  # early stopping: stop after this many scores in a row without improvement
    checkpoint_every: int = 100  # steps between checkpoints, besides each epoch's end and score (0: only those)
    device: str = "auto"
    seed: int = 42

    def __post_init__(self) -> None:
        """A one-line error for a setting that names no choice of its ``Literal`` type or is not a ``bool`` where
        one is asked for (before any data or model is loaded)."""
        for name, kind in get_type_hints(type(self)).items():
            value = getattr(self, name)
            if get_origin(kind) is Literal and (not isinstance(value, str) or value not in get_args(kind)):
                raise contract.ContractError(f"train.{name}: {value!r} is not one of {', '.join(get_args(kind))}")
            if kind is bool and not isinstance(value, bool):
                raise contract.ContractError(f"train.{name}: {value!r} must be true or false")

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> TrainConfig:
        """Build from a config entry; unknown keys are an error that lists the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise contract.ContractError(f"train: unknown setting(s) {unknown}; known: {sorted(known)}")
        return cls(**params)


@dataclass(frozen=True)
class TrainingData:
    """Interactions of one or more datasets, with ids kept apart, and the texts of their items."""

    X: sp.csr_matrix  # users x items, binary
    item_ids: np.ndarray
    texts: list[str]
    sources: tuple[str, ...]  # dataset names, in the order given
    user_ranges: tuple[range, ...]  # per source, its users (rows of X)
    item_ranges: tuple[range, ...]  # per source, its items (columns of X)

    @classmethod
    def load(cls, sources: Sequence[tuple[str, str | os.PathLike[str], str | os.PathLike[str]]]) -> TrainingData:
        """``sources``: (dataset name, train interactions, items). Several datasets get prefixed ids."""
        frames, texts = [], []
        for name, interactions_path, items_path in sources:
            interactions = contract.read_interactions(interactions_path)[["user_id", "item_id"]]
            items = contract.read_items(items_path)
            if len(sources) > 1:
                interactions = interactions.apply(lambda col, n=name: n + ":" + col)
                items = items.assign(item_id=name + ":" + items["item_id"])
            frames.append(interactions)
            texts.append(items)
        interactions = pd.concat(frames, ignore_index=True)
        items = pd.concat(texts, ignore_index=True).drop_duplicates("item_id")
        # Only items seen in training are encoded: held-out (cold-start) items never leak in as negatives.
        items = items[items["item_id"].isin(interactions["item_id"])].sort_values("item_id")
        interactions = interactions[interactions["item_id"].isin(items["item_id"])]
        if interactions.empty:
            raise contract.ContractError(f"train: no training interactions with item texts in {list(sources)}")
        users = pd.Categorical(interactions["user_id"])
        item_index = pd.Categorical(interactions["item_id"], categories=items["item_id"])
        X = sp.csr_matrix(
            (np.ones(len(interactions), dtype=np.float32), (users.codes, item_index.codes)),
            shape=(len(users.categories), len(items)),
        )
        X.sum_duplicates()
        X.data[:] = 1.0
        names = tuple(name for name, _, _ in sources)
        return cls(
            X=X,
            item_ids=items["item_id"].to_numpy(),
            texts=items["text"].tolist(),
            sources=names,
            user_ranges=_ranges(users.categories, names),
            item_ranges=_ranges(items["item_id"], names),
        )

    def batches(self, batch_size: int | dict[str, int]) -> UserBatches:
        """Pooled steps of ``batch_size`` users, or (a mapping source -> users) each source's own, in turns."""
        n_users, n_items = self.X.shape
        if not isinstance(batch_size, dict):
            return UserBatches((range(n_users),), (batch_size,), (range(n_items),))
        if sorted(batch_size) != sorted(self.sources) or len(self.sources) < 2:
            raise contract.ContractError(
                f"train.batch_size: {batch_size} must give users per step for each source of this run, "
                f"{list(self.sources)} (at least two), or be one number for all"
            )
        bad = {name: size for name, size in batch_size.items() if not isinstance(size, int) or size < 1}
        if bad:
            raise contract.ContractError(f"train.batch_size: {bad}: users per step must be positive integers")
        empty = [name for name, users in zip(self.sources, self.user_ranges, strict=True) if not len(users)]
        if empty:
            raise contract.ContractError(
                f"train: {empty} have no training interactions with item texts, so they cannot take turns; "
                "drop them from train_on"
            )
        order = sorted(range(len(self.sources)), key=lambda s: self.user_ranges[s].start)
        return UserBatches(
            tuple(self.user_ranges[s] for s in order),
            tuple(batch_size[self.sources[s]] for s in order),
            tuple(self.item_ranges[s] for s in order),
            tuple(self.sources[s] for s in order),
        )

    def digest(self) -> str:
        """A hash of the interactions, ids and texts (a checkpoint resumes only on the same data)."""
        h = hashlib.sha256()
        for array in (self.X.indptr, self.X.indices):
            h.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
        for value in (*self.item_ids, *self.texts):
            h.update(str(value).encode() + b"\0")
        return h.hexdigest()


def _ranges(ids: Sequence[str], names: tuple[str, ...]) -> tuple[range, ...]:
    """Each source's positions in ``ids`` (sorted, prefixed ``<source>:`` when there are several sources)."""
    if len(names) == 1:
        return (range(len(ids)),)
    ids = pd.Series(np.asarray(ids, dtype=object))
    ranges = []
    for name in names:
        where = np.flatnonzero(ids.str.startswith(name + ":").to_numpy())
        ranges.append(range(int(where[0]), int(where[-1]) + 1) if len(where) else range(0))
    return tuple(ranges)


def trajectory(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide what each trained step computes, the identity of a run and its checkpoints: all
    but when it stops or saves, and, under a constant schedule, all but its length. So a run whose curve still
    rose at its budget goes on from its last step when ``max_steps`` (or ``epochs``) is raised."""
    constant = settings.get("schedule", TrainConfig.schedule) == "constant"
    dropped = STOP_SETTINGS + (LENGTH_SETTINGS if constant else ())
    return {k: v for k, v in settings.items() if k not in dropped}


def train(
    config: TrainConfig,
    sources: Sequence[tuple[str, str | os.PathLike[str], str | os.PathLike[str]]],
    model_dir: str | os.PathLike[str],
    log_dir: str | os.PathLike[str],
    *,
    validation: Validation | None = None,
    select_at: Sequence[int] = (),
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train a beeFormer model and save it as a sentence-Transformer folder; return a run summary.

    ``validation``: score the model while training (module docstring); ``select_at``: steps the saved model may
    come from besides the last one; ``stop_after``: stop after this many steps but keep the learning-rate
    schedule of the whole run (the refit of a step chosen on validation). Under ``torchrun`` every process runs
    this function; rank 0 writes the outputs.
    """
    rank, device = distributed.setup(config.device)
    torch.manual_seed(config.seed + rank.index)  # dropout: each rank its own stream
    rng = np.random.default_rng(config.seed)  # sampling: the same users and items on every rank
    autocast = autocast_dtype(config.precision, device)
    if device.type == "cuda" and config.precision != "fp32":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    # data, the step plan (checked before any model is loaded), the model and how its passes run
    data = TrainingData.load(sources)
    n_users, n_items = data.X.shape
    batches = data.batches(config.batch_size)
    steps_per_epoch = batches.steps_per_epoch
    schedule_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        schedule_steps = min(schedule_steps, config.max_steps)
    plan = StepPlan.build(config, steps_per_epoch, schedule_steps, validation, select_at, stop_after)
    model = _load_model(config, device)
    passes = plan_passes(model, config.attention, config.dropout, device)
    set_training_mode(model, config.dropout)
    catalogue = TokenizedCatalogue.build(model, data.texts, config.text_prefix)
    budget = _memory_budget(config.memory_budget_gb, device)

    # optimizer, schedule, and where we are: a checkpoint of the same settings and data resumes
    optimizer = _optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, schedule_steps))
    key = checkpoint.fingerprint(
        {
            "config": trajectory(asdict(config)),
            "sources": [s[0] for s in sources],
            "data": data.digest(),
            "world": rank.world,
            "validation": None if validation is None else validation.fingerprint(),
        }
    )
    metric = validation.metric if validation else ""
    run = Run(Path(log_dir), key, plan, metric, model, optimizer, scheduler, rng, rank, batches)
    if rank.is_main:
        log.info(
            "training %s on %d users x %d items (%s): %d steps (%d epochs x %d, budget %s), m=%d, chunk=%d, "
            "%s on %s x %d, dropout %s, %s, single-pass under %s GB%s",
            config.base_model,
            n_users,
            n_items,
            ", ".join(s[0] for s in sources),
            plan.total_steps,
            config.epochs,
            steps_per_epoch,
            config.max_steps,
            config.items_per_step,
            config.chunk_size,
            "bf16" if autocast else "fp32",
            device,
            rank.world,
            "on" if config.dropout else "off",
            passes.describe(),
            "-" if budget is None else f"{budget / 2**30:.1f}",
            f", validation at steps {sorted(plan.eval_steps)}" if plan.eval_steps else "",
        )

    def validate() -> None:
        """Score the validation phase into the step's record (the run keeps the best selectable model); the step
        is a checkpoint first, and the score keeps its embeddings as it goes, so an interruption loses little."""
        run.checkpoint_before_score()
        scores, per_user = _validate(model, validation, rank, run.score_folder() if rank.is_main else None)
        set_training_mode(model, config.dropout)
        run.record_scores(scores, per_user)
        progress.write(f"step {run.step}: validation {metric} {scores[metric]:.4f}")

    progress = tqdm(total=plan.total_steps, initial=run.step, desc="beeFormer", unit="step", disable=not rank.is_main)
    started = time.perf_counter()
    if run.needs_score():
        validate()
    while not run.finished():
        clock, cpu_clock = time.perf_counter(), time.process_time()
        users = run.next_users()
        batch = sample_items(
            data.X, users, config.items_per_step, rng, config.negatives, catalogue=batches.negatives_of(users)
        )
        chunks = make_chunks(catalogue, batch.items, config.chunk_size, device, rank)
        graph = graph_bytes(model, chunks, autocast, passes.grad, config.dropout)
        single_pass = budget is not None and SINGLE_PASS_MARGIN * graph <= budget
        loss = training_step(
            model,
            optimizer,
            batch.X.to(device),
            chunks,
            relu=config.prediction_relu,
            replay_dropout=config.replay_dropout,
            autocast=autocast,
            single_pass=single_pass,
            passes=passes,
            rank=rank,
        )
        lr = scheduler.get_last_lr()[0]  # the rate this step used
        scheduler.step()
        loss_value = _finite(float(loss), run, config)
        seconds = time.perf_counter() - clock
        run.record_step(
            {
                "loss": loss_value,
                "lr": lr,
                "items": len(batch.items),
                "single_pass": single_pass,
                "items_per_s": len(batch.items) / seconds,
                "seconds": seconds,
                "cpu_seconds": time.process_time() - cpu_clock,  # all threads: the CPU time the step took
                "peak_memory_gb": _peak_memory_gb(device),
                **({"source": batches.name_of(users)} if len(batches.names) > 1 else {}),
            }
        )
        progress.update()
        progress.set_postfix(loss=f"{loss_value:.5f}", items_s=f"{len(batch.items) / seconds:.0f}")
        if run.step in plan.eval_steps:
            validate()
        run.checkpoint_if_due(config.checkpoint_every)
    progress.close()

    trained = run.trained_records()
    summary = {
        "base_model": config.base_model,
        "datasets": [name for name, _, _ in sources],
        "users": n_users,
        "items": n_items,
        "interactions": int(data.X.nnz),
        "steps": run.step,
        "first_loss": trained[0]["loss"] if trained else None,
        "final_loss": trained[-1]["loss"] if trained else None,
        "seconds": round(time.perf_counter() - started, 1),
        "processes": rank.world,
        "precision": "bf16" if autocast else "fp32",
        "config": asdict(config),
        **run.best.summary(),
        **({"stop_after": stop_after} if stop_after is not None else {}),
    }
    run.save_model(model_dir, summary, model_card(summary))
    if rank.is_main:
        best = run.best
        log.info(
            "trained %d steps in %.0f s: loss %.5f -> %.5f%s; model saved to %s",
            run.step,
            summary["seconds"],
            summary["first_loss"] or 0,
            summary["final_loss"] or 0,
            "" if best.step is None else f"; chose step {best.step} ({best.metric} {best.score:.4f})",
            model_dir,
        )
    distributed.teardown()
    return summary


def _load_model(config: TrainConfig, device: torch.device) -> SentenceTransformer:
    """The base model with the run's sequence length; a text prefix is saved as its default prompt, so that
    ``encode()`` adds it by itself (validation, evaluation), as training does."""
    model = SentenceTransformer(resolve_model(config.base_model), device=str(device), trust_remote_code=True)
    model.max_seq_length = config.max_seq_length
    if config.text_prefix:
        model.prompts = {**model.prompts, "document": config.text_prefix}
        model.default_prompt_name = "document"
    return model


def _finite(loss: float, run: Run, config: TrainConfig) -> float:
    """The loss, or an error that says what to do when it is NaN or infinite."""
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"train: the loss became {loss} at step {run.step + 1} (epoch {run.position.epoch}); "
            f"lower the learning rate (lr={config.lr}) or use precision fp32. The last good checkpoint, if "
            f"any, is kept in {run.checkpoint_dir} and a rerun with other settings starts afresh."
        )
    return loss


def _optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "nadam":
        return torch.optim.NAdam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def _schedule(config: TrainConfig, total_steps: int):
    warmup = max(0, config.warmup_steps)

    def multiplier(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if config.schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total_steps - warmup)
        if config.schedule == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return multiplier


def _peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _memory_budget(setting: float | str | None, device: torch.device) -> float | None:
    """Bytes the single-pass graph may take: the setting in GB, or for ``auto`` a share of the device's total
    memory (total, not free, so that a rerun or a resumed run takes the same path)."""
    if setting is None:
        return None
    if setting != "auto":
        return float(setting) * 2**30
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
    else:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        limit = Path("/sys/fs/cgroup/memory.max")  # a container's limit, where one is set
        if limit.exists() and limit.read_text().strip().isdigit():
            total = min(total, int(limit.read_text()))
    return AUTO_BUDGET_SHARE * total


def _validate(
    model: SentenceTransformer, validation: Validation, rank: distributed.Rank, folder: Path | None
) -> tuple[dict[str, float], pd.DataFrame | None]:
    """Rank 0 scores the validation phase (and keeps the per-user values; its embeddings in ``folder`` while it
    runs); the other ranks receive its score (they stop early together)."""
    scores, per_user = validation.score(model, folder) if rank.is_main else ({}, None)
    if rank.world > 1:
        value = torch.tensor([scores.get(validation.metric, 0.0)], device=next(model.parameters()).device)
        scores = scores or {validation.metric: float(distributed.sum_across_ranks(value, rank))}
    return scores, per_user
