"""beeFormer tuned and refit by the protocol of every baseline (:mod:`beeformer.baselines.tuning`).

1. **Validation** (:func:`tune`): each point of the grid (the train settings given as lists, crossed; a list of
   ``max_steps`` costs one run, scored at each listed step) is trained on the splits' ``train`` interactions and
   scored on their validation phases (content-based recall@20, :mod:`beeformer.train.validation`). The best
   (settings, step) wins: its model is the validation-phase model, and ``tuning.json`` records every point's
   score and time, the choice, which chosen settings lie on an edge of their list, and whether the chosen run's
   curve has **turned** after the chosen step (scored again, and never higher: early stopping by patience, or
   later scores lower), i.e. whether the step count was chosen on the curve rather than where the list ends.
2. **Test** (:func:`refit`): the chosen settings are trained once on ``train_full`` for the chosen number of
   steps, with the learning-rate schedule of the validation run; ``fit.json`` records what was used.

Each grid point runs in a folder of its own under the log folder, named by a hash of its settings (but those that
only say when it stops: a raised ``max_steps`` goes on in the same folder from where a still rising curve ended),
and keeps a ``summary.json`` when done: an interrupted tuning resumes without retraining the finished points. Under
``torchrun`` every process trains every point together; only rank 0 writes files.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from beeformer import contract
from beeformer.contract.grid import edges, expand
from beeformer.train import checkpoint, distributed
from beeformer.train.run import write_log
from beeformer.train.trainer import TrainConfig, train, trajectory
from beeformer.train.validation import Validation

log = logging.getLogger(__name__)

Sources = Sequence[tuple[str, str | os.PathLike[str], str | os.PathLike[str]]]


def grid(settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The points to train: every combination of the list-valued settings; ``max_steps`` stays a list."""
    TrainConfig.from_dict({k: v[0] if isinstance(v, list) and v else v for k, v in settings.items()})  # names
    try:
        points = expand(settings, scored_along="max_steps" if isinstance(settings.get("max_steps"), list) else None)
    except ValueError as error:
        raise contract.ContractError(f"train: {error}") from None
    for point in points:  # every value of every list, before anything trains
        steps = point.get("max_steps")
        TrainConfig.from_dict({**point, "max_steps": max(steps) if isinstance(steps, list) and steps else steps})
    runs: dict[str, dict[str, Any]] = {}
    for point in points:  # points share a run folder when they differ only in when they stop
        other = runs.setdefault(_run_folder(point), point)
        if other is not point:
            stops = sorted(k for k in point if repr(point[k]) != repr(other[k]))
            raise contract.ContractError(
                f"train: grid points differ only in {stops}, which say when one run stops: give a list of "
                "max_steps instead (one run, scored at each)"
            )
    return points


def tune(
    settings: dict[str, Any],
    sources: Sources,
    validation: Validation,
    model_dir: str | os.PathLike[str],
    log_dir: str | os.PathLike[str],
    tuning_path: str | os.PathLike[str],
) -> dict[str, Any]:
    """Step 1 of the protocol: train the grid on ``sources`` (the splits' train), keep the best model."""
    log_dir = Path(log_dir)
    main = distributed.launched_as_main()
    points = grid(settings)
    runs: list[dict[str, Any]] = []
    curves: dict[str, pd.DataFrame] = {}  # run folder -> its curve
    for point in tqdm(points, desc="tuning beeFormer", unit="setting", disable=len(points) < 2):
        steps = point.get("max_steps")
        listed = steps if isinstance(steps, list) else []
        config = TrainConfig.from_dict({**point, "max_steps": max(listed) if listed else steps})
        run_dir = log_dir / _run_folder(point)  # unique: grid()
        summary_path = run_dir / "summary.json"
        started = time.perf_counter()
        summary = contract.read_json(summary_path) if summary_path.exists() else {}
        if _same(summary.get("point"), point):
            log.info("tuning: %s done before (%s), not retrained", point, run_dir)
        else:  # not run, interrupted, or run to another budget (a raised one goes on from a rising curve's end)
            summary = train(config, sources, run_dir / "model", run_dir, validation=validation, select_at=listed)
            if not main:
                continue
            summary |= {"point": point, "tuning_seconds": round(time.perf_counter() - started, 1)}
            contract.write_json(summary, summary_path)
        curve = pd.read_csv(run_dir / "training_log.csv").assign(run=_label(point, points))
        curves[run_dir.name] = curve
        for _, row in curve.dropna(subset=[validation.metric]).iterrows():
            if row["step"] in summary["selectable_steps"]:
                runs.append(
                    {
                        "settings": {**point, "max_steps": int(row["step"])},
                        validation.metric: float(row[validation.metric]),
                        "run": run_dir.name,
                        "horizon": config.max_steps,
                        "seconds": summary.get("tuning_seconds", summary["seconds"]),
                    }
                )
        tqdm.write(
            f"beeFormer {point}: best {validation.metric} {summary['validation'][validation.metric]:.4f} "
            f"at step {summary['chosen_step']}"
        )
    if not main:
        return {}
    chosen = max(runs, key=lambda r: r[validation.metric])  # the first of equals: the earliest step, first point
    chosen_curve = curves[chosen["run"]]
    after = chosen_curve.loc[chosen_curve["step"] > chosen["settings"]["max_steps"], validation.metric].dropna()
    result = {
        "method": "beeformer",
        "select_by": validation.metric,
        "chosen": chosen["settings"],
        "horizon": chosen["horizon"],
        "validation": {validation.metric: chosen[validation.metric]},
        "edges": edges(settings, chosen["settings"]),
        "turned": bool(len(after)) and bool((after <= chosen[validation.metric]).all()),
        "scores_after_chosen": [float(v) for v in after],
        "grid": [{k: v for k, v in r.items() if k != "horizon"} for r in runs],
        "fit": _fit_summary(sources, log_dir / chosen["run"] / "summary.json"),
    }
    with contract.atomic_dir(model_dir) as tmp:
        shutil.copytree(log_dir / chosen["run"] / "model", tmp, dirs_exist_ok=True)
    write_log(pd.concat(curves.values(), ignore_index=True), log_dir)
    contract.write_json(result, tuning_path)
    print(
        f"beeFormer: chose {chosen['settings']} ({validation.metric} {chosen[validation.metric]:.4f} on validation) "
        f"-> {model_dir}, {tuning_path}"
    )
    return result


def refit(
    tuning_path: str | os.PathLike[str] | None,
    sources: Sources,
    model_dir: str | os.PathLike[str],
    log_dir: str | os.PathLike[str],
    fit_path: str | os.PathLike[str],
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Step 2 of the protocol: the chosen settings trained on ``sources`` (the splits' train_full).

    Without a ``tuning_path``, ``settings`` are used as they are: with nothing to choose (no list, no
    ``eval_every`` or ``patience``) the validation run would only repeat them on less data.
    """
    if tuning_path is not None:
        tuning = contract.read_json(tuning_path)
    elif settings is not None and not any(isinstance(v, list) for v in settings.values()):
        tuning = {"chosen": settings}
    else:
        raise contract.ContractError("train-refit: give --tuning (a tuning.json), or --params without lists")
    chosen = dict(tuning["chosen"])
    steps = chosen.get("max_steps")
    # eval_every and patience need a validation phase, which train_full has absorbed
    chosen = {k: v for k, v in chosen.items() if k not in ("eval_every", "patience")}
    config = TrainConfig.from_dict({**chosen, "max_steps": tuning.get("horizon", steps)})
    started = time.perf_counter()
    summary = train(config, sources, model_dir, log_dir, stop_after=steps)
    if not distributed.launched_as_main():
        return {}
    result = {
        "method": "beeformer",
        "settings": tuning["chosen"],
        "tuning": None if tuning_path is None else str(tuning_path),
        "seconds": round(time.perf_counter() - started, 2),
        "fit": {
            "files": [str(path) for _, path, _ in sources],
            "users": summary["users"],
            "items": summary["items"],
            "interactions": summary["interactions"],
            "steps": summary["steps"],
        },
    }
    contract.write_json(result, fit_path)
    print(f"beeFormer: refit {tuning['chosen']} on {[str(p) for _, p, _ in sources]} -> {model_dir}")
    return result


def _run_folder(point: dict[str, Any]) -> str:
    """A grid point's run folder: named by the settings that decide its steps, not by when it stops."""
    return f"run-{checkpoint.fingerprint({'point': trajectory(point)})}"


def _same(recorded: dict[str, Any] | None, point: dict[str, Any]) -> bool:
    """Whether a summary's recorded point (read back from JSON) is this one."""
    return json.dumps(recorded, sort_keys=True) == json.dumps(point, sort_keys=True)


def _label(point: dict[str, Any], points: list[dict[str, Any]]) -> str:
    """The settings that differ between grid points, e.g. ``lr=5e-05``."""
    varying = [k for k in point if k != "max_steps" and len({repr(p.get(k)) for p in points}) > 1]
    return ", ".join(f"{k}={point[k]}" for k in varying) or "run"


def _fit_summary(sources: Sources, summary_path: Path) -> dict[str, Any]:
    summary = contract.read_json(summary_path)
    return {
        "files": [str(path) for _, path, _ in sources],
        "users": summary["users"],
        "items": summary["items"],
        "interactions": summary["interactions"],
    }
