"""Where a training run is and what it has recorded: its position, the log of its steps and scores, the best
selectable step's model, and the checkpoints that let an interrupted run continue exactly.

The training loop (:func:`beeformer.train.trainer.train`) asks a :class:`Run` for the next users, hands it each
step's record and each validation score, and lets it decide when a checkpoint is due; which steps are scored
and selectable is the :class:`~beeformer.train.selection.StepPlan`.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sentence_transformers import SentenceTransformer

from beeformer import contract
from beeformer.train import checkpoint
from beeformer.train.distributed import Rank
from beeformer.train.sampling import UserBatches
from beeformer.train.selection import Best, StepPlan

log = logging.getLogger(__name__)


class Run:
    """A run's state, resumed from a checkpoint of the same settings and data (``key``) where there is one."""

    def __init__(
        self,
        log_dir: Path,
        key: str,
        plan: StepPlan,
        metric: str,
        model: SentenceTransformer,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        rng: np.random.Generator,
        rank: Rank,
        batches: UserBatches,
    ) -> None:
        self.log_dir, self.key, self.plan, self.rank, self.batches = log_dir, key, plan, rank, batches
        self.model, self.optimizer, self.scheduler, self.rng = model, optimizer, scheduler, rng
        self.checkpoint_dir = log_dir / "checkpoint"
        resumed = checkpoint.load(
            self.checkpoint_dir, key, model, optimizer, scheduler, rng, rank.index, last_step=plan.total_steps
        )
        if resumed is None:
            self.position, self.records = checkpoint.Position(0, 0, batches.epoch_order(rng), 0), []
        else:
            self.position, self.records = resumed
        self.saved_step = None if resumed is None else self.position.step  # the step of the checkpoint on disk
        self.best = Best(log_dir / "best", metric, plan)
        self.best.restore(self.records, self.position.step, model, rank)

    @property
    def step(self) -> int:
        return self.position.step

    def needs_score(self) -> bool:
        """Whether this step is to be scored and is not yet: step 0 of a new run, or a step whose score an
        interruption cut short (its checkpoint is written before the score)."""
        scored = any(r["step"] == self.step and self.best.metric in r for r in self.records)
        return self.step in self.plan.eval_steps and not scored

    def score_folder(self) -> Path:
        """Where this step's score keeps its embeddings while it runs (:func:`beeformer.encoding.encode`);
        the folders of other steps or settings, left by an interruption, go."""
        folder = self._scores_path()
        for stale in self.checkpoint_dir.glob("scores-*"):
            if stale != folder:
                shutil.rmtree(stale, ignore_errors=True)
        return folder

    def _scores_path(self) -> Path:
        return self.checkpoint_dir / f"scores-{self.key}-step{self.step}"

    def checkpoint_before_score(self) -> None:
        """A checkpoint of the trained step about to be scored, so that an interruption during the score loses
        only the part of it not yet kept (:meth:`score_folder`), not the step."""
        if self.step > 0 and self.saved_step != self.step:  # not again when resumed from it
            self._save_checkpoint()

    def finished(self) -> bool:
        return self.step >= self.plan.total_steps or self.best.patience_exhausted()

    def next_users(self) -> np.ndarray:
        """The next batch's users; a new epoch's order once the last one is done."""
        position = self.position
        if position.batches_done == self.batches.steps_per_epoch:
            order = self.batches.epoch_order(self.rng)
            position = checkpoint.Position(position.epoch + 1, position.step, order, 0)
            self.position = position
        return self.batches.batch(position.order, position.batches_done)

    def record_step(self, values: dict[str, Any]) -> None:
        """Count a trained step and log its values (loss, rate, speed, ...)."""
        self.position.step += 1
        self.position.batches_done += 1
        self.records.append({"step": self.position.step, "epoch": self.position.epoch, **values})

    def record_scores(self, scores: dict[str, float], per_user: pd.DataFrame | None) -> None:
        """Add validation scores to this step's record (step 0: a record of their own) and their per-user values to
        ``validation_users.parquet``; keep the model if it is the best selectable one so far. Every score of a run
        that goes on is also a checkpoint (before the best copy: it must always know the best step), so that an
        interruption loses at most ``eval_every`` steps."""
        if self.records and self.records[-1]["step"] == self.step:
            self.records[-1].update(scores)
        else:
            self.records.append({"step": self.step, "epoch": self.position.epoch, **scores})
        if self.rank.is_main:  # before the checkpoint: a resumed run does not score this step again
            write_log(pd.DataFrame.from_records(self.records), self.log_dir, plot=False)
            if per_user is not None:
                self._record_users(per_user)
        improved = self.best.update(self.records[-1])
        if improved or not self.finished():
            self._save_checkpoint()
            if self.rank.is_main:  # the checkpoint holds the score now
                shutil.rmtree(self._scores_path(), ignore_errors=True)
        if improved:
            self.best.save(self.model, self.rank)

    def _record_users(self, per_user: pd.DataFrame) -> None:
        """This step's per-user scores after those of the earlier steps; scores from this step on are an earlier
        try's (a resumed run, or a run started afresh in the same folder) and are dropped."""
        path = self.log_dir / "validation_users.parquet"
        earlier = pd.read_parquet(path) if path.exists() else None
        if earlier is not None:
            earlier = earlier[earlier["step"] < self.step]
        frame = pd.concat([earlier, per_user.assign(step=self.step)], ignore_index=True)
        with contract.atomic_path(path) as tmp:
            frame.to_parquet(tmp, index=False)

    def checkpoint_if_due(self, every: int) -> None:
        """At each epoch's end and every ``every`` steps, unless the run ends here or a score just saved it."""
        at_epoch_end = self.position.batches_done == self.batches.steps_per_epoch
        due = every > 0 and self.step % every == 0
        saved = self.step in self.plan.eval_steps
        if (at_epoch_end or due) and self.step < self.plan.total_steps and not saved:
            self._save_checkpoint()
            if self.rank.is_main:
                write_log(pd.DataFrame.from_records(self.records), self.log_dir, plot=False)

    def trained_records(self) -> list[dict[str, Any]]:
        return [r for r in self.records if "loss" in r and np.isfinite(r["loss"])]

    def still_rising(self) -> bool:
        """Whether the run ended at its budget on its best score: its curve had not turned."""
        return self.best.step is not None and self.best.step == self.step and not self.best.stopped_early

    def save_model(self, model_dir: str | Path, summary: dict[str, Any], card: str) -> None:
        """Rank 0 writes the model (the best selectable step's, or the last), its summary and card, and the log;
        the best copy goes, and so does the checkpoint, unless the curve still rose at the budget: then a run
        with a raised budget goes on from this step."""
        if self.rank.is_main:
            self.model.eval()
            with contract.atomic_dir(model_dir) as tmp:
                if self.best.step is None:
                    self.model.save(str(tmp))
                else:
                    self.best.copy_to(tmp)
                contract.write_json(summary, Path(tmp) / "beeformer.json")
                contract.write_text(card, Path(tmp) / "README.md")
            write_log(pd.DataFrame.from_records(self.records), self.log_dir)
            if self.still_rising():
                log.info(
                    "the validation curve still rose at step %d, the budget: %s is kept, and a run with a larger "
                    "max_steps (or epochs) goes on from it",
                    self.step,
                    self.checkpoint_dir,
                )
            else:
                checkpoint.remove(self.checkpoint_dir)
            self.best.remove()

    def _save_checkpoint(self) -> None:
        self.saved_step = self.step
        checkpoint.save(
            self.checkpoint_dir,
            self.key,
            self.model,
            self.optimizer,
            self.scheduler,
            self.rng,
            self.position,
            self.records,
            self.rank.index,
        )


def write_log(records: pd.DataFrame, log_dir: Path, plot: bool = True) -> None:
    """The per-step CSV log and its plot: the loss, and beside it the validation curve where there is one.

    A model scored on several validation phases (one per training split) gets a third panel: each phase's score
    relative to its first, and the geometric mean that selects steps (:mod:`beeformer.train.validation`), so
    that splits of different scale share one axis. A ``run`` column (a grid of runs,
    :mod:`beeformer.train.tuning`) draws one line per run, and a ``source`` column (sources taking turns,
    :mod:`beeformer.train.sampling`) one loss line per source. While training, the CSV alone is rewritten at each
    score and checkpoint, so a long run can be watched.
    """
    with contract.atomic_path(log_dir / "training_log.csv") as tmp:
        records.to_csv(tmp, index=False)
    if not plot:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [c for c in records.columns if c.startswith(("recall@", "ndcg@")) and "/" not in c]
    phases = [c for c in records.columns if metrics and c.startswith(f"{metrics[0]}/")]
    panels = 1 + bool(metrics) + bool(phases)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 3.5), squeeze=False)
    runs = records.groupby("run", sort=False) if "run" in records else [(None, records)]
    for run, frame in runs:
        label = None if run is None else str(run)
        if "loss" in frame:
            _plot_loss(axes[0, 0], frame.dropna(subset=["loss"]), label)
        for metric in metrics:
            scored = frame.dropna(subset=[metric])
            axes[0, 1].plot(scored["step"], scored[metric], marker="o", ms=3, lw=1, label=label)
        if phases:
            _plot_relative(axes[0, 2], frame, [metrics[0], *phases], label)
    axes[0, 0].set(xlabel="step", ylabel="ELSA loss (NMSE)", title="beeFormer training loss")
    if metrics:
        axes[0, 1].set(xlabel="step", ylabel=f"validation {metrics[0]}", title="validation phase (content-based)")
    if phases:
        axes[0, 2].set(xlabel="step", ylabel=f"{metrics[0]} / its first score", title="each validation phase")
    several_runs = "run" in records and records["run"].nunique() > 1
    for i, ax in enumerate(axes[0]):
        ax.grid(alpha=0.3)
        # the phases' panel, and the loss panel of sources taking turns, name their lines even for one run
        if several_runs or i == 2 or (i == 0 and "source" in records):
            ax.legend(fontsize=7)
    fig.tight_layout()
    with contract.atomic_path(log_dir / "loss.png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def _plot_loss(ax: Any, trained: pd.DataFrame, run: str | None) -> None:
    """The training loss; one line per source where sources take turns (each source's loss has its own level, so
    one line would zigzag between them)."""
    if "source" not in trained:
        ax.plot(trained["step"], trained["loss"], lw=1, label=run)
        return
    for source, steps in trained.groupby("source", sort=False, dropna=False):
        name = source if isinstance(source, str) else "source not logged"  # steps of a run resumed from older code
        ax.plot(steps["step"], steps["loss"], lw=1, label=name if run is None else f"{name}, {run}")


def _plot_relative(ax: Any, frame: pd.DataFrame, columns: list[str], run: str | None) -> None:
    """Each column's scores relative to its first positive one: the selecting mean (dashed) and each phase's."""
    for column in columns:
        scored = frame.dropna(subset=[column])
        positive = scored.loc[scored[column] > 0, column]
        if positive.empty:  # never scored, or never above 0: no relative curve
            continue
        name = column.split("/", 1)[1] if "/" in column else "geometric mean"
        style = {} if "/" in column else {"color": "black", "ls": "--"}
        ax.plot(
            scored["step"],
            scored[column] / positive.iloc[0],
            marker="o",
            ms=3,
            lw=1,
            label=name if run is None else f"{name}, {run}",
            **style,
        )
