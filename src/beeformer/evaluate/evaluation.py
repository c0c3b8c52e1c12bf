"""Metrics of one method's predictions against the held-out targets, written to metrics.json."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from beeformer import contract
from beeformer.evaluate.metrics import METRICS, per_user_metrics, summarize

log = logging.getLogger(__name__)


def evaluate_predictions(
    predictions_path: str | os.PathLike[str],
    target_path: str | os.PathLike[str],
    metrics_path: str | os.PathLike[str],
    metrics: Sequence[str] = METRICS,
    n_bootstrap: int = 1000,
    seed: int = 42,
) -> dict[str, Any]:
    """Mean of each metric over the target users, with bootstrap standard errors."""
    predictions = contract.read_predictions(predictions_path)
    targets = contract.read_interactions(target_path)
    if targets.empty:
        raise contract.ContractError(
            f"{target_path}: no held-out interactions to evaluate; the split left this phase empty "
            "(raise test_items / validation_items or the shares in the split's config)"
        )
    per_user = per_user_metrics(predictions, targets, metrics)
    result = {"metrics": summarize(per_user, n_bootstrap=n_bootstrap, seed=seed), "predictions": str(predictions_path)}
    contract.write_json(result, metrics_path)
    log.info(
        "%s: %s",
        metrics_path,
        ", ".join(f"{name} {v['mean']:.4f} ± {v['se']:.4f}" for name, v in result["metrics"].items()),
    )
    return result
