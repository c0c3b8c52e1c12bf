"""The long results table of a table spec: each row and metric with its paired comparison and the paper's value.

Per block (one experiment: a split and phase) the rows' ``per_user.parquet`` files are read and checked to hold
exactly the same users and come from the same targets file; their means must be those of ``metrics.json`` (a
stale file fails). The standard error of a mean is the one ``metrics.json`` records (the evaluate stage's
bootstrap). Per metric, the reference is the block's named ``reference`` or else its best baseline (the row with
``trained: false`` and the highest mean; the first in the spec on ties); a block without baselines and without
reference has no comparisons. Every other row is compared with the reference user by user
(:func:`.stats.paired_differences`, all comparisons of a block on the same resamples) and the p-values of the
whole table are Holm-adjusted (:func:`.stats.holm`); ``significant`` is ``p_holm < 1 - confidence``. A claim
with ``versus`` adds its own comparison (the method against the named one, :data:`VERSUS_COLUMNS`) to the same
family of tests.

A row's ``fit`` (what it was fitted on), ``edges`` (settings its ``tuning.json`` chose on an edge of their
list) and, for a beeFormer model, ``steps`` (the step count chosen on its validation curve, and whether the curve
had turned there) are carried into the notes under the table.

Published values are compared with ours: ``agreement`` is ``within_2se`` when ``|ours - paper| <= 2 se``, else
``within_10pct`` when it is within 10 % of the paper's value, else ``worse`` or ``better``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from beeformer import contract
from beeformer.report.spec import BlockSpec, RowSpec, TableSpec
from beeformer.report.stats import holm, paired_differences

COLUMNS = (
    "block",
    "experiment",
    "group",
    "method",
    "label",
    "trained",
    "metric",
    "users",
    "mean",
    "se",
    "reference",
    "diff",
    "diff_se",
    "ci_low",
    "ci_high",
    "p",
    "p_holm",
    "significant",
    "published",
    "published_diff",
    "agreement",
    "fit",
    "tuned",
    "edges",
    "steps",
)
VERSUS_COLUMNS = ("block", "method", "versus", "metric", "diff", "diff_se", "ci_low", "ci_high", "p", "p_holm")
AGREEMENT = ("within_2se", "within_10pct", "worse", "better")
#: Means of metrics.json and of per_user.parquet must agree this closely (they are the same numbers).
MEAN_TOLERANCE = 1e-9


@dataclass(frozen=True)
class RowValues:
    """One row's files as read: its targets file, sorted user ids, per-user values and standard errors."""

    targets: str
    users: np.ndarray
    values: dict[str, np.ndarray]
    se: dict[str, float]


@dataclass(frozen=True)
class BlockValues:
    """Per-user values of a block's rows: ``values[metric]`` is users x rows (rows in spec order)."""

    users: np.ndarray
    values: dict[str, np.ndarray]
    se: dict[str, np.ndarray]


@dataclass(frozen=True)
class Results:
    """The long table and the comparisons that ``versus`` claims name, Holm-adjusted as one family."""

    frame: pd.DataFrame  # COLUMNS: one record per block, row and metric, in the spec's order
    versus: pd.DataFrame  # VERSUS_COLUMNS, own_test, significant: one record per distinct versus claim


def table_results(table: TableSpec) -> Results:
    """Read every block once and compute its comparisons (see the module docstring)."""
    data = {block.label: load_block(table, block) for block in table.blocks}
    frame = pd.concat([_block_frame(table, block, data[block.label]) for block in table.blocks], ignore_index=True)
    versus, repeats = _versus_frame(table, frame, data)
    own = np.array([r is None for r in repeats], dtype=bool)
    versus["own_test"] = own  # False: the table or an earlier claim already tests the pair
    adjusted = holm(np.concatenate([frame["p"].to_numpy(), versus.loc[own, "p"].to_numpy(dtype=np.float64)]))
    frame["p_holm"] = adjusted[: len(frame)]
    versus["p_holm"] = np.nan
    versus.loc[own, "p_holm"] = adjusted[len(frame) :]
    for i, repeated in enumerate(repeats):  # a repeated test keeps the adjusted p of the one it repeats
        if repeated is not None:
            kind, j = repeated
            versus.loc[i, "p_holm"] = (frame if kind == "table" else versus).loc[j, "p_holm"]
    for part in (frame, versus):
        part["significant"] = pd.array(
            np.where(part["p_holm"].isna(), None, part["p_holm"] < table.alpha), dtype="boolean"
        )
    frame["published_diff"] = frame["mean"] - frame["published"]
    frame["agreement"] = _agreement(frame)
    return Results(frame=frame[list(COLUMNS)], versus=versus)


def _versus_frame(
    table: TableSpec, frame: pd.DataFrame, data: dict[str, BlockValues]
) -> tuple[pd.DataFrame, list[tuple[str, int] | None]]:
    """Each distinct ``versus`` claim's paired comparison (p not yet adjusted), and per claim the test it repeats:
    ``("table", row)`` where the table already compares the pair (the method against its reference, or the other
    way round), ``("claim", i)`` where an earlier claim does (the other way round), None for a test of its own.
    A test is counted once in the Holm family; the other way round its difference and interval change sign."""
    records: list[tuple[Any, ...]] = []
    repeats: list[tuple[str, int] | None] = []
    own: dict[tuple[str, frozenset[str], str], int] = {}  # (block, pair, metric) -> the claim that tests it
    statistics = ["diff", "diff_se", "ci_low", "ci_high", "p"]
    for block, method, versus, metric in dict.fromkeys(
        (c.block, c.method, c.versus, c.metric) for c in table.claims if c.versus is not None
    ):
        pair = (block, frozenset((method, versus)), metric)
        in_table = frame[
            (frame["block"] == block)
            & (frame["metric"] == metric)
            & (frame["method"].isin([method, versus]))
            & (frame["reference"].isin([method, versus]))
            & (frame["method"] != frame["reference"])
        ]
        if len(in_table):
            row = in_table.iloc[0]
            values, sign, repeated = (
                tuple(row[statistics]),
                1 if row["method"] == method else -1,
                ("table", in_table.index[0]),
            )
        elif pair in own:
            earlier = records[own[pair]]
            values, sign, repeated = earlier[4:], -1, ("claim", own[pair])
        else:
            methods = [row.method for spec in table.blocks if spec.label == block for row in spec.rows]
            scores = data[block].values[metric]
            paired = paired_differences(
                scores[:, [methods.index(method)]],
                scores[:, [methods.index(versus)]],
                table.n_bootstrap,
                table.seed,
                table.confidence,
            )
            values = tuple(float(x[0]) for x in (paired.diff, paired.se, paired.ci_low, paired.ci_high, paired.p))
            sign, repeated = 1, None
            own[pair] = len(records)
        diff, se, low, high, p = values
        if sign < 0:
            diff, low, high = -diff, -high, -low
        records.append((block, method, versus, metric, float(diff), float(se), float(low), float(high), float(p)))
        repeats.append(repeated)
    return pd.DataFrame.from_records(records, columns=list(VERSUS_COLUMNS[:-1])), repeats


def load_block(table: TableSpec, block: BlockSpec) -> BlockValues:
    """Read and check the metrics files of a block's rows."""
    where = f"table {table.name!r}, block {block.label!r}"
    loaded = [_load_row(table, row, f"{where}, row {row.method!r}") for row in block.rows]
    first = loaded[0]
    for row, other in zip(block.rows[1:], loaded[1:], strict=True):
        if other.targets != first.targets or not np.array_equal(other.users, first.users):
            raise contract.ContractError(
                f"{where}: metrics files from different splits in one block: {block.rows[0].metrics} (targets "
                f"{first.targets}, {len(first.users)} users) and {row.metrics} (targets {other.targets}, "
                f"{len(other.users)} users)"
            )
    return BlockValues(
        users=first.users,
        values={m: np.column_stack([r.values[m] for r in loaded]) for m in table.metrics},
        se={m: np.array([r.se[m] for r in loaded]) for m in table.metrics},
    )


def _load_row(table: TableSpec, row: RowSpec, where: str) -> RowValues:
    """Read one row's metrics.json and per_user.parquet and check that they agree."""
    try:
        summary = contract.read_json(row.metrics)
        per_user = contract.read_table(row.per_user, ["user_id", *table.metrics])
    except contract.ContractError as error:
        raise contract.ContractError(f"{where}: {error}") from None
    recorded = summary.get("metrics", {})
    missing = [m for m in table.metrics if m not in recorded]
    if missing or "targets" not in summary:
        raise contract.ContractError(
            f"{where}: {row.metrics} lacks {missing or 'targets'}; rerun the evaluate stage for these metrics"
        )
    if per_user.empty:
        raise contract.ContractError(f"{where}: empty phase: {row.per_user} has no users")
    per_user = per_user.astype({"user_id": "str"}).sort_values("user_id", kind="stable")
    users = per_user["user_id"].to_numpy()
    if (users[1:] == users[:-1]).any():
        raise contract.ContractError(f"{where}: {row.per_user} lists a user twice")
    values = {m: per_user[m].to_numpy(dtype=np.float64) for m in table.metrics}
    for m in table.metrics:
        if recorded[m].get("users") != len(users) or abs(recorded[m]["mean"] - values[m].mean()) > MEAN_TOLERANCE:
            raise contract.ContractError(
                f"{where}: {row.metrics} ({m} {recorded[m]['mean']:.6f}, {recorded[m]['users']} users) disagrees "
                f"with {row.per_user} ({values[m].mean():.6f}, {len(users)} users); rerun the evaluate stage"
            )
    se = {m: float(recorded[m]["se"]) for m in table.metrics}
    return RowValues(targets=os.path.normpath(summary["targets"]), users=users, values=values, se=se)


def tuning_notes(row: RowSpec) -> dict[str, str | None]:
    """What a row's tuning.json (read once) adds to the notes: ``edges``, the settings it chose on an edge of their
    list (e.g. ``epochs highest of [2, 5]``), and ``steps``, a beeFormer model's step count chosen on its
    validation curve (e.g. ``48 (turned)``; None for models trained as given, nothing chosen among scored steps)."""
    if row.tuning is None:
        return {"edges": None, "steps": None}
    tuning = contract.read_json(row.tuning)
    edges = ", ".join(f"{key} {where}" for key, where in tuning.get("edges", {}).items()) or None
    steps = None
    if "turned" in tuning and len(tuning.get("grid", [])) >= 2:
        steps = f"{tuning['chosen'].get('max_steps')} ({'turned' if tuning['turned'] else 'not turned'})"
    return {"edges": edges, "steps": steps}


def reference_index(block: BlockSpec, means: np.ndarray) -> int | None:
    """Position of the block's reference for one metric (``means`` per row): named, or the best baseline."""
    rows = block.rows
    if block.reference is not None:
        return next(i for i, row in enumerate(rows) if row.method == block.reference)
    baselines = [i for i, row in enumerate(rows) if not row.trained]
    if not baselines:
        return None
    return max(baselines, key=lambda i: (means[i], -i))


def _block_frame(table: TableSpec, block: BlockSpec, data: BlockValues) -> pd.DataFrame:
    """The block's records with means, errors, the reference and the paired statistics (p not yet adjusted)."""
    rows = block.rows
    groups = [group.label for group in block.groups for _ in group.rows]
    means = {metric: data.values[metric].mean(axis=0) for metric in table.metrics}
    references = {metric: reference_index(block, means[metric]) for metric in table.metrics}
    notes = [tuning_notes(row) for row in rows]
    records = [
        {
            "block": block.label,
            "experiment": block.experiment,
            "group": groups[i],
            "method": row.method,
            "label": row.label,
            "trained": row.trained,
            "metric": metric,
            "users": len(data.users),
            "mean": float(means[metric][i]),
            "se": float(data.se[metric][i]),
            "reference": None if references[metric] is None else rows[references[metric]].method,
            "published": (row.published or {}).get(metric, np.nan),
            "fit": row.fit,
            "tuned": row.tuning is not None,
            **notes[i],
        }
        for i, row in enumerate(rows)
        for metric in table.metrics
    ]
    frame = pd.DataFrame.from_records(records)
    statistics = ["diff", "diff_se", "ci_low", "ci_high", "p"]
    frame[statistics] = np.nan
    pairs = [  # (record, row, reference, metric) of every comparison
        (i * len(table.metrics) + j, i, references[metric], metric)
        for i in range(len(rows))
        for j, metric in enumerate(table.metrics)
        if references[metric] not in (None, i)
    ]
    if pairs:
        a = np.column_stack([data.values[metric][:, i] for _, i, _, metric in pairs])
        b = np.column_stack([data.values[metric][:, ref] for _, _, ref, metric in pairs])
        paired = paired_differences(a, b, table.n_bootstrap, table.seed, table.confidence)
        frame.loc[[record for record, _, _, _ in pairs], statistics] = np.column_stack(
            [paired.diff, paired.se, paired.ci_low, paired.ci_high, paired.p]
        )
    return frame


def _agreement(frame: pd.DataFrame) -> pd.Series:
    """How our mean compares with the paper's (None without a published value); see the module docstring."""
    gap = frame["published_diff"]
    conditions = [
        gap.abs() <= 2 * frame["se"],
        gap.abs() <= 0.1 * frame["published"].abs(),
        gap < 0,
        gap > 0,
    ]
    labels = np.select(conditions, AGREEMENT, default="")
    return pd.Series(np.where(frame["published"].isna(), None, labels), index=frame.index, dtype="object")
