"""Metrics of one method's predictions against the held-out targets: metrics.json and per_user.parquet."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from beeformer import contract
from beeformer.contract.metrics import METRICS, N_BOOTSTRAP, SEED, per_user_metrics, summarize

log = logging.getLogger(__name__)


def evaluate_predictions(
    predictions_path: str | os.PathLike[str],
    target_path: str | os.PathLike[str],
    metrics_path: str | os.PathLike[str],
    per_user_path: str | os.PathLike[str] | None = None,
    metrics: Sequence[str] = METRICS,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = SEED,
) -> dict[str, Any]:
    """Mean of each metric over the target users, with bootstrap standard errors.

    Every user with a target is scored (0 without predictions), so every method of a split and phase is scored
    on the same users; ``per_user_path`` keeps each user's values for paired comparisons.
    """
    predictions = contract.read_predictions(predictions_path)
    targets = contract.read_interactions(target_path)
    if targets.empty:
        raise contract.ContractError(
            f"{target_path}: no held-out interactions to evaluate; the split left this phase empty "
            "(raise test_items / validation_items or the shares in the split's config)"
        )
    per_user = per_user_metrics(predictions, targets, metrics)
    result = {
        "metrics": summarize(per_user, n_bootstrap=n_bootstrap, seed=seed),
        "predictions": str(predictions_path),
        "targets": str(target_path),
    }
    if per_user_path is not None:
        contract.write_table(per_user.reset_index(), per_user_path)
    contract.write_json(result, metrics_path)
    print(
        f"{metrics_path}: "
        + ", ".join(f"{name} {v['mean']:.4f} ± {v['se']:.4f}" for name, v in result["metrics"].items())
        + f" ({len(per_user)} users)"
    )
    return result
