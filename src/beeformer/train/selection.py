"""Which steps of a run are scored on validation, which the saved model may come from, and the best one's copy.

A run scores the validation phase at step 0 and every ``eval_every`` steps (the curve), at each listed step
(``select_at``: a list of ``max_steps`` is scored in one run) and at its last step. The model it saves is the best
of the selectable steps: the listed ones and the last, or with ``patience`` every scored step (early stopping:
the run stops once ``patience`` scores in a row did not beat the best). The best step's model is kept in a folder
of its own; a checkpoint is written just before it, so a resumed run always knows which step that copy holds.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentence_transformers import SentenceTransformer

from beeformer import contract
from beeformer.train.distributed import Rank

if TYPE_CHECKING:
    from beeformer.train.trainer import TrainConfig
    from beeformer.train.validation import Validation

MARKER = "best_step.json"


@dataclass(frozen=True)
class StepPlan:
    """How many steps run, which are scored, and which the saved model may come from."""

    total_steps: int
    eval_steps: frozenset[int]
    select_at: frozenset[int]  # scored steps the saved model may come from
    patience: int | None

    @classmethod
    def build(
        cls,
        config: TrainConfig,
        steps_per_epoch: int,
        schedule_steps: int,
        validation: Validation | None,
        select_at: Sequence[int],
        stop_after: int | None,
    ) -> StepPlan:
        """The plan, or a one-line error naming the setting that cannot work on this data."""
        total = schedule_steps if stop_after is None else min(schedule_steps, stop_after)
        run = (
            f"{schedule_steps} steps ({config.epochs} epoch(s) x {steps_per_epoch} steps of {config.batch_size} users)"
        )
        beyond = sorted(s for s in select_at if s > schedule_steps)
        if beyond:
            raise contract.ContractError(
                f"train.max_steps: listed step(s) {beyond} lie beyond this run's {run} on this data; raise epochs "
                "or drop them"
            )
        wanted = [name for name, value in (("eval_every", config.eval_every), ("patience", config.patience)) if value]
        if select_at:
            wanted.append("a list of max_steps")
        if validation is None:
            if wanted:
                raise contract.ContractError(
                    f"train: {', '.join(wanted)} need(s) a validation phase to score, and this run has none "
                    "(the refit on train_full, or a run without --validation); drop them from the settings"
                )
            return cls(total, frozenset(), frozenset(), None)
        if config.eval_every is not None and config.eval_every > total:
            raise contract.ContractError(
                f"train.eval_every: {config.eval_every} is larger than this run's {total} steps, so the curve would "
                "have no point; lower eval_every or raise max_steps"
            )
        scored = {*select_at, total}
        if config.eval_every:
            scored |= {0, *range(config.eval_every, total + 1, config.eval_every)}
        selectable = (scored - {0}) if config.patience else {*select_at, total}
        return cls(total, frozenset(scored), frozenset(selectable), config.patience)


class Best:
    """The best selectable step so far, its score, and the copy of its model under ``folder``."""

    def __init__(self, folder: Path, metric: str, plan: StepPlan) -> None:
        self.folder, self.metric, self.plan = folder, metric, plan
        self.step: int | None = None
        self.score = -math.inf
        self.scores_since = 0  # scores after the best one that did not beat it
        self.stopped_early = False

    def update(self, record: dict[str, Any]) -> bool:
        """Take a scored step's record; True when it is the new best (the caller then saves the model)."""
        step = record["step"]
        if step not in self.plan.select_at:
            return False
        if record[self.metric] > self.score:
            self.step, self.score, self.scores_since = step, record[self.metric], 0
            return True
        self.scores_since += 1
        return False

    def patience_exhausted(self) -> bool:
        done = self.plan.patience is not None and self.scores_since >= self.plan.patience
        self.stopped_early |= done
        return done

    def save(self, model: SentenceTransformer, rank: Rank) -> None:
        if not rank.is_main:
            return
        with contract.atomic_dir(self.folder) as tmp:
            model.save(str(tmp))
            contract.write_json({"step": self.step, self.metric: self.score}, tmp / MARKER)

    def restore(self, records: list[dict[str, Any]], step: int, model: SentenceTransformer, rank: Rank) -> None:
        """After loading a checkpoint at ``step`` (or none: ``step`` 0), make the copy on disk agree with it."""
        for record in records:
            if self.metric and self.metric in record and math.isfinite(record[self.metric]):
                self.update(record)
        if not rank.is_main:
            return
        saved = self._saved_step()
        if self.step is None:
            shutil.rmtree(self.folder, ignore_errors=True)  # a copy from an abandoned run
        elif saved != self.step:
            if self.step != step:
                raise contract.ContractError(
                    f"{self.folder}: holds step {saved}, but the checkpoint's best is step {self.step}; delete "
                    f"{self.folder.parent} to train this run afresh"
                )
            self.save(model, rank)  # interrupted between the checkpoint and the copy: the model is that step's

    def copy_to(self, folder: Path) -> None:
        if self._saved_step() != self.step:
            raise contract.ContractError(f"{self.folder}: the best step's model ({self.step}) is missing")
        shutil.copytree(self.folder, folder, dirs_exist_ok=True)
        (folder / MARKER).unlink()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def summary(self) -> dict[str, Any]:
        if self.step is None:
            return {}
        return {
            "chosen_step": self.step,
            "validation": {self.metric: self.score},
            "selectable_steps": sorted(self.plan.select_at),
            "stopped_early": self.stopped_early,
        }

    def _saved_step(self) -> int | None:
        marker = self.folder / MARKER
        return contract.read_json(marker)["step"] if marker.exists() else None
