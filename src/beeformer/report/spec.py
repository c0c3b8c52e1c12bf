"""The table spec that the workflow builds from the config's ``tables:`` section, checked into typed records.

Every problem is a one-line :class:`beeformer.contract.ContractError` that names the table, block, row and setting.

- Required: ``name``, ``metrics``, ``blocks``; per block ``experiment`` and ``groups``; per group ``label`` and
  ``rows``; per row ``method``, ``trained``, ``metrics`` (a metrics.json) and ``per_user`` (its per_user.parquet).
- Optional: ``claims``, a list of ``{block, method, metric}`` (a block label, one of its methods, a column) and
  optionally ``versus`` (another of the block's methods): the paper's claim that the method beats the block's best
  baseline there, or the ``versus`` method, answered under the table; ``caption``
  (default: the name); ``headers``, the titles of the block, group and method columns
  (default ``{"block": "Dataset", "group": "Group", "method": "Method"}``); ``n_bootstrap`` (1000), ``seed`` (42),
  ``confidence`` (0.95); a block's ``label`` (its experiment) and ``reference`` (null: the best baseline per
  metric); a row's ``label`` (its method), ``published`` (null, or metric -> the paper's value), ``fit`` (null for
  a model used as it is, else what it was fitted on for this phase, e.g. ``train_full``) and ``tuning`` (null, or
  the tuning.json that chose its settings: its grid edges are noted under the table).
- Unknown keys are errors, so that a typo is not ignored. Block labels are unique in a table, group labels and
  methods in a block.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beeformer.contract import ContractError
from beeformer.contract.metrics import N_BOOTSTRAP, SEED, parse_metric

TABLE_KEYS = {"name", "caption", "headers", "metrics", "n_bootstrap", "seed", "confidence", "blocks", "claims"}
CLAIM_KEYS = {"block", "method", "metric", "versus"}
HEADER_KEYS = ("block", "group", "method")
DEFAULT_HEADERS = ("Dataset", "Group", "Method")
BLOCK_KEYS = {"experiment", "label", "reference", "groups"}
GROUP_KEYS = {"label", "rows"}
ROW_KEYS = {"method", "label", "trained", "metrics", "per_user", "published", "fit", "tuning"}


@dataclass(frozen=True)
class RowSpec:
    """One method of a block: where its metrics are, whether beeFormer trained it, the paper's values."""

    method: str
    label: str
    trained: bool
    metrics: Path
    per_user: Path
    published: dict[str, float] | None
    fit: str | None = None  # None: used as it is (a pretrained encoder); else the data it was fitted on
    tuning: Path | None = None  # the tuning.json that chose its settings


@dataclass(frozen=True)
class GroupSpec:
    """Rows shown together under one label (the paper's "CBF", "Heater", "supervised CF")."""

    label: str
    rows: tuple[RowSpec, ...]


@dataclass(frozen=True)
class BlockSpec:
    """One experiment (a split and phase): all its rows are scored on the same users."""

    experiment: str
    label: str
    reference: str | None
    groups: tuple[GroupSpec, ...]

    @property
    def rows(self) -> tuple[RowSpec, ...]:
        return tuple(row for group in self.groups for row in group.rows)


@dataclass(frozen=True)
class ClaimSpec:
    """A claim of the paper to check: ``method`` beats the best baseline (the reference) of ``block`` on ``metric``,
    or the named method ``versus``."""

    block: str
    method: str
    metric: str
    versus: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """One output table: its blocks and the settings of the statistics."""

    name: str
    caption: str
    headers: tuple[str, str, str]  # titles of the block, group and method columns
    metrics: tuple[str, ...]
    n_bootstrap: int
    seed: int
    confidence: float
    blocks: tuple[BlockSpec, ...]
    claims: tuple[ClaimSpec, ...] = ()

    @property
    def alpha(self) -> float:
        """Significance level of the Holm-corrected tests: 1 - confidence."""
        return 1.0 - self.confidence


def parse_spec(spec: Any) -> TableSpec:
    """The checked :class:`TableSpec` of a spec mapping, or a ContractError naming the faulty setting."""
    where = f"table {spec.get('name')!r}" if isinstance(spec, Mapping) else "table spec"
    table = _mapping(spec, where, TABLE_KEYS, required=("name", "metrics", "blocks"))
    name = _text(table["name"], f"{where}: name")
    metrics = tuple(_list(table["metrics"], f"{where}: metrics"))
    for metric in metrics:
        try:
            parse_metric(metric)
        except (ValueError, TypeError) as error:
            raise ContractError(f"{where}: metrics: {error}") from None
    if len(set(metrics)) != len(metrics):
        raise ContractError(f"{where}: metrics: duplicate names in {list(metrics)}")
    blocks = tuple(
        _block(block, where, i, metrics) for i, block in enumerate(_list(table["blocks"], f"{where}: blocks"))
    )
    labels = [block.label for block in blocks]
    if len(set(labels)) != len(labels):
        raise ContractError(f"{where}: blocks: duplicate labels in {labels}; give each block its own label")
    return TableSpec(
        name=name,
        caption=_text(table.get("caption", name), f"{where}: caption"),
        headers=_headers(table.get("headers", {}), f"{where}: headers"),
        metrics=metrics,
        n_bootstrap=_integer(table.get("n_bootstrap", N_BOOTSTRAP), f"{where}: n_bootstrap", minimum=2),
        seed=_integer(table.get("seed", SEED), f"{where}: seed", minimum=0),
        confidence=_confidence(table.get("confidence", 0.95), f"{where}: confidence"),
        blocks=blocks,
        claims=tuple(_claim(claim, where, i, blocks, metrics) for i, claim in enumerate(table.get("claims") or [])),
    )


def _claim(value: Any, parent: str, index: int, blocks: tuple[BlockSpec, ...], metrics: tuple[str, ...]) -> ClaimSpec:
    claim = _mapping(value, f"{parent}, claim {index}", CLAIM_KEYS, required=("block", "method", "metric"))
    where = f"{parent}, claim {index}"
    block = next((b for b in blocks if b.label == claim["block"]), None)
    if block is None:
        raise ContractError(
            f"{where}: block {claim['block']!r} is not a block label; labels: {[b.label for b in blocks]}"
        )
    methods = [row.method for row in block.rows]
    if claim["method"] not in methods:
        raise ContractError(f"{where}: method {claim['method']!r} is not in block {block.label!r}; methods: {methods}")
    if claim["metric"] not in metrics:
        raise ContractError(f"{where}: metric {claim['metric']!r} is not a column of the table {list(metrics)}")
    versus = claim.get("versus")
    if versus is not None and (versus not in methods or versus == claim["method"]):
        raise ContractError(
            f"{where}: versus {versus!r} is not another method of block {block.label!r}; methods: {methods}"
        )
    return ClaimSpec(block=block.label, method=claim["method"], metric=claim["metric"], versus=versus)


def _block(value: Any, parent: str, index: int, metrics: tuple[str, ...]) -> BlockSpec:
    block = _mapping(value, f"{parent}, block {index}", BLOCK_KEYS, required=("experiment", "groups"))
    experiment = _text(block["experiment"], f"{parent}, block {index}: experiment")
    where = f"{parent}, block {block.get('label', experiment)!r}"
    groups = tuple(
        _group(group, where, i, metrics) for i, group in enumerate(_list(block["groups"], f"{where}: groups"))
    )
    labels = [group.label for group in groups]
    if len(set(labels)) != len(labels):
        raise ContractError(f"{where}: groups: duplicate labels in {labels}; put their rows in one group")
    methods = [row.method for group in groups for row in group.rows]
    repeated = sorted({m for m in methods if methods.count(m) > 1})
    if repeated:
        raise ContractError(f"{where}: method(s) {repeated} appear twice; a method is one row of a block")
    reference = block.get("reference")
    if reference is not None and reference not in methods:
        raise ContractError(f"{where}: reference {reference!r} is not a method of the block; its methods: {methods}")
    return BlockSpec(
        experiment=experiment,
        label=_text(block.get("label", experiment), f"{where}: label"),
        reference=reference,
        groups=groups,
    )


def _group(value: Any, parent: str, index: int, metrics: tuple[str, ...]) -> GroupSpec:
    group = _mapping(value, f"{parent}, group {index}", GROUP_KEYS, required=("label", "rows"))
    label = _text(group["label"], f"{parent}, group {index}: label", empty=True)
    where = f"{parent}, group {label!r}"
    rows = tuple(_row(row, where, i, metrics) for i, row in enumerate(_list(group["rows"], f"{where}: rows")))
    return GroupSpec(label=label, rows=rows)


def _row(value: Any, parent: str, index: int, metrics: tuple[str, ...]) -> RowSpec:
    row = _mapping(value, f"{parent}, row {index}", ROW_KEYS, required=("method", "trained", "metrics", "per_user"))
    method = _text(row["method"], f"{parent}, row {index}: method")
    where = f"{parent}, row {method!r}"
    if not isinstance(row["trained"], bool):
        raise ContractError(f"{where}: trained must be true or false, got {row['trained']!r}")
    return RowSpec(
        method=method,
        label=_text(row.get("label", method), f"{where}: label"),
        trained=row["trained"],
        metrics=Path(_text(row["metrics"], f"{where}: metrics")),
        per_user=Path(_text(row["per_user"], f"{where}: per_user")),
        published=_published(row.get("published"), f"{where}: published", metrics),
        fit=None if row.get("fit") is None else _text(row["fit"], f"{where}: fit"),
        tuning=None if row.get("tuning") is None else Path(_text(row["tuning"], f"{where}: tuning")),
    )


def _headers(value: Any, where: str) -> tuple[str, str, str]:
    headers = _mapping(value, where, set(HEADER_KEYS), required=())
    block, group, method = (
        _text(headers.get(key, default), f"{where}: {key}", empty=True)
        for key, default in zip(HEADER_KEYS, DEFAULT_HEADERS, strict=True)
    )
    return block, group, method


def _published(value: Any, where: str, metrics: tuple[str, ...]) -> dict[str, float] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        raise ContractError(f"{where}: expected null or a mapping metric -> the paper's value, got {value!r}")
    unknown = [m for m in value if m not in metrics]
    if unknown:
        raise ContractError(f"{where}: metric(s) {unknown} are not columns of the table {list(metrics)}")
    for metric, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
            raise ContractError(f"{where}: {metric} must be a finite number, got {number!r}")
    return {metric: float(number) for metric, number in value.items()}


def _mapping(value: Any, where: str, keys: set[str], required: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ContractError(f"{where}: expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise ContractError(f"{where}: unknown key(s) {unknown}; accepted: {sorted(keys)}")
    missing = [key for key in required if key not in value]
    if missing:
        raise ContractError(f"{where}: missing key(s) {missing}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list | tuple) or not value:
        raise ContractError(f"{where}: expected a non-empty list, got {value!r}")
    return list(value)


def _text(value: Any, where: str, empty: bool = False) -> str:
    if not isinstance(value, str) or not (empty or value.strip()):
        raise ContractError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _integer(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ContractError(f"{where}: expected an integer >= {minimum}, got {value!r}")
    return value


def _confidence(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.5 <= value < 1.0:
        raise ContractError(f"{where}: expected a level in [0.5, 1), e.g. 0.95, got {value!r}")
    return float(value)
