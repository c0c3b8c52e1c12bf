"""Validation during training: the model scored on a split's validation phase, as the evaluate stage would.

The phase's item texts (the users' histories and the candidates) are embedded in eval mode, L2-normalised
(:mod:`beeformer.encoding`), and ranked by the paper's content-based scoring
(:func:`beeformer.contract.ranking.content_based_predictions`); the score is a metric of the contract (recall@20
by default) over the phase's targets. An encoder trained on several splits (goodlens, a universal model) is
scored on each, and the **geometric mean** over them is what selects steps and settings: splits differ in scale
(an Amazon recall@20 of ~0.04 beside item splits' ~0.25), and under a plain mean the largest would decide, while
the geometric mean ranks models by the mean of each split's log gain over any common reference (its step-0 score,
say), so a 10 % gain counts the same on every split. Each score comes with its per-user values, which the run keeps
(``validation_users.parquet``) so that two runs scored on the same phase can be compared user by user (paired).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sentence_transformers import SentenceTransformer

from beeformer import contract
from beeformer.contract.metrics import SELECT_BY, K, per_user_metrics
from beeformer.contract.models import ENCODE_BATCH_SIZE
from beeformer.contract.ranking import content_based_predictions, interaction_matrix
from beeformer.encoding import encode
from beeformer.precision import Precision


@dataclass(frozen=True)
class ValidationPhase:
    """One split's validation phase: who is scored, on what, against which targets."""

    name: str
    texts: list[str]  # every item a history or the candidates need, in the order of ``history``'s columns
    history: sp.csr_matrix  # users x those items
    candidate_rows: np.ndarray
    user_ids: np.ndarray
    candidate_ids: np.ndarray
    targets: pd.DataFrame

    @classmethod
    def load(
        cls,
        name: str,
        source_path: str | os.PathLike[str],
        target_path: str | os.PathLike[str],
        candidates_path: str | os.PathLike[str],
        items_path: str | os.PathLike[str],
    ) -> ValidationPhase:
        source = contract.read_interactions(source_path)
        targets = contract.read_interactions(target_path)
        candidates = contract.read_candidates(candidates_path)
        if targets.empty or source.empty:
            raise contract.ContractError(
                f"validation of {name}: {target_path if targets.empty else source_path} is empty, so there is no "
                "validation phase to score; give the split validation items, a validation share or validation "
                "users, or drop eval_every, patience and the lists of the encoder's train settings"
            )
        texts = contract.read_items(items_path).drop_duplicates("item_id").set_index("item_id")["text"]
        needed = pd.Index(np.union1d(source["item_id"].unique(), candidates.to_numpy()))
        missing = needed.difference(texts.index)
        if len(missing):
            raise contract.ContractError(
                f"validation of {name}: {len(missing)} item(s) of {source_path} or {candidates_path} have no text in "
                f"{items_path} (e.g. {list(missing[:5])}); the split and the items come from different datasets"
            )
        users = pd.Index(np.sort(source["user_id"].unique()))
        return cls(
            name=name,
            texts=texts.loc[needed].tolist(),
            history=interaction_matrix(source, users, needed),
            candidate_rows=needed.get_indexer(candidates),
            user_ids=users.to_numpy(),
            candidate_ids=candidates.to_numpy(),
            targets=targets,
        )


@dataclass(frozen=True)
class Validation:
    """The validation phases of every split an encoder trains on, and how they are scored."""

    phases: list[ValidationPhase]
    metric: str = SELECT_BY
    k: int = K
    batch_size: int = ENCODE_BATCH_SIZE
    precision: Precision = "auto"

    def fingerprint(self) -> list[Any]:
        """What a checkpoint's scores depend on (a resumed run must score the same phases the same way)."""
        return [
            self.metric,
            self.k,
            "geometric mean" if len(self.phases) > 1 else "one phase",
            *[(p.name, len(p.user_ids), len(p.candidate_ids), len(p.targets), len(p.texts)) for p in self.phases],
        ]

    def score(
        self, model: SentenceTransformer, folder: str | os.PathLike[str] | None = None
    ) -> tuple[dict[str, float], pd.DataFrame]:
        """``{<metric>: geometric mean over phases, <metric>/<phase>: each phase's, validation_seconds,
        validation_cpu_seconds}`` and the per-user values behind them (columns phase, user_id, <metric>); the caller
        puts the model back into train mode. With a ``folder`` (this model state's own), the embeddings are kept
        there block by block, so that a score interrupted and started again encodes only what it had not (its
        seconds then count only that part; the log says how many blocks were kept)."""
        started, cpu_started = time.perf_counter(), time.process_time()
        scores, users = {}, []
        for phase in self.phases:
            kept = None if folder is None else Path(folder) / phase.name
            embeddings = encode(model, phase.texts, self.batch_size, self.precision, progress=False, folder=kept)
            predictions, _ = content_based_predictions(
                phase.history, embeddings, phase.candidate_rows, phase.user_ids, phase.candidate_ids, self.k
            )
            per_user = per_user_metrics(predictions, phase.targets, [self.metric])[self.metric]
            scores[f"{self.metric}/{phase.name}"] = float(per_user.mean())
            users.append(pd.DataFrame({"phase": phase.name, "user_id": per_user.index, self.metric: per_user.values}))
        summary = {
            self.metric: geometric_mean(list(scores.values())),
            **(scores if len(scores) > 1 else {}),
            "validation_seconds": time.perf_counter() - started,
            "validation_cpu_seconds": time.process_time() - cpu_started,
        }
        return summary, pd.concat(users, ignore_index=True)


def geometric_mean(values: list[float]) -> float:
    """The geometric mean of non-negative scores (0 where any is 0); one value is itself."""
    values_array = np.asarray(values, dtype=np.float64)
    if len(values_array) == 1:
        return float(values_array[0])  # exp(log(x)) may differ from x in the last bit
    if (values_array <= 0).any():
        return 0.0
    return float(np.exp(np.log(values_array).mean()))
