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
from typing import Any, Literal

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
from beeformer.train.passes import ATTENTION_CHOICES, Attention, plan_passes, set_training_mode
from beeformer.train.sampling import NegativeSampling, sample_items
from beeformer.train.selection import Best, StepPlan
from beeformer.train.step import TokenizedCatalogue, graph_bytes, make_chunks, training_step
from beeformer.train.validation import Validation

log = logging.getLogger(__name__)

#: The graph estimate of ``step.graph_bytes`` is ~25% below what a CPU measures (docs/benchmarks.md): the margin.
SINGLE_PASS_MARGIN = 1.35
#: ``memory_budget_gb: auto``: this share of the device's memory (RAM on a CPU) may hold the single-pass graph.
AUTO_BUDGET_SHARE = 0.4
#: The settings that take one of a few names.
CHOICES = {
    "schedule": ("constant", "linear", "cosine"),
    "optimizer": ("adamw", "nadam"),
    "negatives": ("official", "paper"),
    "precision": ("auto", "fp32", "bf16"),
    "attention": ATTENTION_CHOICES,
}


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one beeFormer run (defaults: the authors' README, see config/paper.yaml)."""

    base_model: str = "sentence-transformers/all-mpnet-base-v2"
    epochs: int = 5
    max_steps: int | None = None  # stop early after this many steps (a budget), None = all epochs
    batch_size: int = 1024  # users per step
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
    dropout: bool = True  # train in training mode (the model's dropout); false: eval mode (train/passes.py)
    attention: Attention = "auto"  # attention implementation per pass: auto, sdpa, eager (train/passes.py)
    replay_dropout: bool = True
    precision: Precision = "auto"  # auto: bf16 autocast where the GPU or CPU has bf16 units
    text_prefix: str = ""
    # single-pass step when the graph of all m items fits this many GB; auto: 40% of the device's memory; None: off
    memory_budget_gb: float | Literal["auto"] | None = "auto"
    eval_every: int | None = None  # score the validation phase every this many steps (needs a validation phase)
    patience: int | None = None  # early stopping: stop after this many scores in a row without improvement
    checkpoint_every: int = 100  # steps between checkpoints (and at each epoch's end); 0 = epoch ends only
    device: str = "auto"
    seed: int = 42

    def __post_init__(self) -> None:
        """A one-line error for a setting that names no known choice (before any data or model is loaded)."""
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if not isinstance(value, str) or value not in allowed:
                raise contract.ContractError(f"train.{name}: {value!r} is not one of {', '.join(allowed)}")
        for name in ("dropout", "prediction_relu", "replay_dropout"):
            if not isinstance(getattr(self, name), bool):
                raise contract.ContractError(f"train.{name}: {getattr(self, name)!r} must be true or false")

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
        return cls(X=X, item_ids=items["item_id"].to_numpy(), texts=items["text"].tolist())

    def digest(self) -> str:
        """A hash of the interactions, ids and texts (a checkpoint resumes only on the same data)."""
        h = hashlib.sha256()
        for array in (self.X.indptr, self.X.indices):
            h.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
        for value in (*self.item_ids, *self.texts):
            h.update(str(value).encode() + b"\0")
        return h.hexdigest()


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

    # data, the step plan (checked before any model is loaded), and the model
    data = TrainingData.load(sources)
    n_users, n_items = data.X.shape
    steps_per_epoch = math.ceil(n_users / config.batch_size)
    schedule_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        schedule_steps = min(schedule_steps, config.max_steps)
    plan = StepPlan.build(config, steps_per_epoch, schedule_steps, validation, select_at, stop_after)
    model = SentenceTransformer(resolve_model(config.base_model), device=str(device), trust_remote_code=True)
    model.max_seq_length = config.max_seq_length
    if config.text_prefix:  # encode() adds the prefix by itself (validation, evaluation), as training does
        model.prompts = {**model.prompts, "document": config.text_prefix}
        model.default_prompt_name = "document"
    passes = plan_passes(model, config.attention, config.dropout, device)
    set_training_mode(model, config.dropout)
    catalogue = TokenizedCatalogue.build(model, data.texts, config.text_prefix)

    # optimizer, schedule, and where we are
    optimizer = _optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, schedule_steps))
    log_dir = Path(log_dir)
    checkpoint_dir = log_dir / "checkpoint"
    key = checkpoint.fingerprint(
        {
            "config": asdict(config),
            "sources": [s[0] for s in sources],
            "data": data.digest(),
            "world": rank.world,
            "validation": None if validation is None else validation.fingerprint(),
            "select_at": sorted(plan.select_at),
        }
    )
    resumed = checkpoint.load(checkpoint_dir, key, model, optimizer, scheduler, rng, rank.index)
    if resumed is None:
        position, records = checkpoint.Position(0, 0, rng.permutation(n_users), 0), []
    else:
        position, records = resumed
    best = Best(log_dir / "best", validation.metric if validation else "", plan)
    best.restore(records, position.step, model, rank)
    budget = _memory_budget(config.memory_budget_gb, device)
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
        """Score the validation phase into the step's record; keep the best selectable model."""
        scores = _validate(model, validation, rank)
        set_training_mode(model, config.dropout)
        if records and records[-1]["step"] == position.step:
            records[-1].update(scores)
        else:  # step 0: the model before training
            records.append({"step": position.step, "epoch": position.epoch, **scores})
        progress.write(f"step {position.step}: validation {validation.metric} {scores[validation.metric]:.4f}")
        if best.update(records[-1]):  # the checkpoint first: it must always know the best step (Best.restore)
            checkpoint.save(checkpoint_dir, key, model, optimizer, scheduler, rng, position, records, rank.index)
            best.save(model, rank)
        if rank.is_main:
            write_log(pd.DataFrame.from_records(records), log_dir, plot=False)

    progress = tqdm(
        total=plan.total_steps, initial=position.step, desc="beeFormer", unit="step", disable=not rank.is_main
    )
    started = time.perf_counter()
    if position.step == 0 and 0 in plan.eval_steps and not records:
        validate()
    while position.step < plan.total_steps and not best.patience_exhausted():
        if position.batches_done == steps_per_epoch:
            position = checkpoint.Position(position.epoch + 1, position.step, rng.permutation(n_users), 0)
        t0, cpu0 = time.perf_counter(), time.process_time()
        start = position.batches_done * config.batch_size
        users = position.order[start : start + config.batch_size]
        batch = sample_items(data.X, users, config.items_per_step, rng, config.negatives)
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
        loss_value = float(loss)
        if not math.isfinite(loss_value):
            raise FloatingPointError(
                f"train: the loss became {loss_value} at step {position.step + 1} (epoch {position.epoch}); "
                f"lower the learning rate (lr={config.lr}) or use precision fp32. The last good checkpoint, if "
                f"any, is kept in {checkpoint_dir} and a rerun with other settings starts afresh."
            )
        position.step += 1
        position.batches_done += 1
        seconds = time.perf_counter() - t0
        records.append(
            {
                "step": position.step,
                "epoch": position.epoch,
                "loss": loss_value,
                "lr": lr,
                "items": len(batch.items),
                "single_pass": single_pass,
                "items_per_s": len(batch.items) / seconds,
                "seconds": seconds,
                "cpu_seconds": time.process_time() - cpu0,  # all threads: the CPU time the step took
                "peak_memory_gb": _peak_memory_gb(device),
            }
        )
        progress.update()
        progress.set_postfix(loss=f"{loss_value:.5f}", items_s=f"{records[-1]['items_per_s']:.0f}")
        if position.step in plan.eval_steps:
            validate()
        at_epoch_end = position.batches_done == steps_per_epoch
        due = config.checkpoint_every > 0 and position.step % config.checkpoint_every == 0
        saved = best.step == position.step  # validate() has just written this step's checkpoint
        if (at_epoch_end or due) and position.step < plan.total_steps and not saved:
            checkpoint.save(checkpoint_dir, key, model, optimizer, scheduler, rng, position, records, rank.index)
            if rank.is_main:
                write_log(pd.DataFrame.from_records(records), log_dir, plot=False)
    progress.close()

    trained = [r for r in records if "loss" in r and math.isfinite(r["loss"])]
    summary = {
        "base_model": config.base_model,
        "datasets": [name for name, _, _ in sources],
        "users": n_users,
        "items": n_items,
        "interactions": int(data.X.nnz),
        "steps": position.step,
        "first_loss": trained[0]["loss"] if trained else None,
        "final_loss": trained[-1]["loss"] if trained else None,
        "seconds": round(time.perf_counter() - started, 1),
        "processes": rank.world,
        "precision": "bf16" if autocast else "fp32",
        "config": asdict(config),
        **best.summary(),
        **({"stop_after": stop_after} if stop_after is not None else {}),
    }
    if rank.is_main:
        model.eval()
        with contract.atomic_dir(model_dir) as tmp:
            if best.step is None:
                model.save(str(tmp))
            else:  # the best selectable step's model, not the last step's
                best.copy_to(tmp)
            contract.write_json(summary, Path(tmp) / "beeformer.json")
            contract.write_text(model_card(summary), Path(tmp) / "README.md")
        write_log(pd.DataFrame.from_records(records), log_dir)
        checkpoint.remove(checkpoint_dir)
        best.remove()
        log.info(
            "trained %d steps in %.0f s: loss %.5f -> %.5f%s; model saved to %s",
            position.step,
            summary["seconds"],
            summary["first_loss"] or 0,
            summary["final_loss"] or 0,
            "" if best.step is None else f"; chose step {best.step} ({best.metric} {best.score:.4f})",
            model_dir,
        )
    distributed.teardown()
    return summary


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


def _validate(model: SentenceTransformer, validation: Validation, rank: distributed.Rank) -> dict[str, float]:
    """Rank 0 scores the validation phase; the other ranks receive its score (they stop early together)."""
    scores = validation.score(model) if rank.is_main else {}
    if rank.world > 1:
        value = torch.tensor([scores.get(validation.metric, 0.0)], device=next(model.parameters()).device)
        scores = scores or {validation.metric: float(distributed.sum_across_ranks(value, rank))}
    return scores


def write_log(records: pd.DataFrame, log_dir: Path, plot: bool = True) -> None:
    """The per-step CSV log and its plot: the loss, and beside it the validation curve where there is one.

    A ``run`` column (a grid of runs, :mod:`beeformer.train.tuning`) draws one line per run. While training, the
    CSV alone is rewritten at each score and checkpoint, so a long run can be watched.
    """
    with contract.atomic_path(log_dir / "training_log.csv") as tmp:
        records.to_csv(tmp, index=False)
    if not plot:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [c for c in records.columns if c.startswith(("recall@", "ndcg@")) and "/" not in c]
    fig, axes = plt.subplots(1, 2 if metrics else 1, figsize=(11 if metrics else 6, 3.5), squeeze=False)
    runs = records.groupby("run", sort=False) if "run" in records else [(None, records)]
    for run, frame in runs:
        label = None if run is None else str(run)
        if "loss" in frame:
            trained = frame.dropna(subset=["loss"])
            axes[0, 0].plot(trained["step"], trained["loss"], lw=1, label=label)
        for metric in metrics:
            scored = frame.dropna(subset=[metric])
            axes[0, 1].plot(scored["step"], scored[metric], marker="o", ms=3, lw=1, label=label)
    axes[0, 0].set(xlabel="step", ylabel="ELSA loss (NMSE)", title="beeFormer training loss")
    if metrics:
        axes[0, 1].set(xlabel="step", ylabel=f"validation {metrics[0]}", title="validation phase (content-based)")
    for ax in axes[0]:
        ax.grid(alpha=0.3)
        if "run" in records and records["run"].nunique() > 1:
            ax.legend(fontsize=7)
    fig.tight_layout()
    with contract.atomic_path(log_dir / "loss.png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
