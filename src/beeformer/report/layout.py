"""What every rendering of a results table shows, independent of the format: cells, emphasis, legend, summary.

A cell holds the mean ± standard error, whether it is the best of its block on the metric (bold) or the best
baseline of its group (underlined: the paper's "best baseline for each scenario"), the paired difference to the
block's reference with its significance, and the paper's value with ours minus the paper's. The formats
(:mod:`.markdown`, :mod:`.latex`, :mod:`.html`) only add their markup. Numbers are printed with four decimals as
in the paper, with an ASCII minus that each format may typeset.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from beeformer.report.results import AGREEMENT
from beeformer.report.spec import TableSpec
from beeformer.report.verdict import claim_holds, claim_versus

SHORT_METRICS = {"recall": "R", "ndcg": "N"}
SIGNIFICANT = "†"
PART_HEADERS = {"value": "mean ± SE", "diff": "Δ", "paper": "paper (Δ)"}
AGREEMENT_LABELS = dict(zip(AGREEMENT, ("within 2 SE", "within 10 %", "worse", "better"), strict=True))


@dataclass(frozen=True)
class Cell:
    """One row's figures on one metric, as text."""

    mean: str
    se: str
    best: bool
    best_baseline: bool
    diff: str | None  # signed difference to the reference; None for the reference itself or without one
    is_reference: bool
    significant: bool
    paper: str | None
    paper_diff: str | None
    agreement: str | None  # one of AGREEMENT


@dataclass(frozen=True)
class Line:
    """One table row; ``block_rows`` / ``group_rows`` are set on the first line of a block / group (else 0)."""

    block: str
    group: str
    label: str
    trained: bool
    block_rows: int
    group_rows: int
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Layout:
    """A results table ready to be marked up."""

    name: str
    caption: str
    headers: tuple[str, str, str]
    metrics: tuple[str, ...]  # short names, e.g. R@20
    show_groups: bool
    show_diff: bool
    show_paper: bool
    lines: tuple[Line, ...]
    legend: tuple[str, ...]
    summary: str | None
    claims: tuple[str, ...] = ()  # one sentence per claim of the spec: does it hold here, with the evidence

    @property
    def label_headers(self) -> tuple[str, ...]:
        """Titles of the label columns: block, group (where any group has a label) and method."""
        block, group, method = self.headers
        return (block, group, method) if self.show_groups else (block, method)

    @property
    def parts(self) -> tuple[str, ...]:
        """The columns under each metric: ``value``, then ``diff`` and ``paper`` where the table has them."""
        return ("value", *(("diff",) if self.show_diff else ()), *(("paper",) if self.show_paper else ()))

    def labels(self, line: Line) -> tuple[str, ...]:
        """The label columns of ``line``: block and group only on their first line."""
        block = line.block if line.block_rows else ""
        group = line.group if line.group_rows else ""
        return (block, group, line.label) if self.show_groups else (block, line.label)


def short_metric(metric: str) -> str:
    """``recall@20`` -> ``R@20`` as in the paper."""
    kind, _, k = metric.partition("@")
    return f"{SHORT_METRICS.get(kind, kind)}@{k}"


def number(value: float, signed: bool = False) -> str:
    """Four decimals as in the paper; ``signed`` adds a + to positive values."""
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def error(value: float) -> str:
    """A standard error with four decimals, or ``<0.0001`` where that would print a positive error as 0."""
    return "<0.0001" if 0 < value < 0.00005 else f"{value:.4f}"


def build_layout(table: TableSpec, frame: pd.DataFrame, versus: pd.DataFrame) -> Layout:
    """The layout of the long results ``frame`` of ``table`` and the comparisons of its ``versus`` claims."""
    frame = frame.assign(
        best=_is_max(frame, ["block", "metric"]),
        best_baseline=_is_max(frame[~frame["trained"]], ["block", "group", "metric"]).reindex(
            frame.index, fill_value=False
        ),
    )
    one_per_line = frame.drop_duplicates(["block", "method"])
    block_sizes = one_per_line.groupby("block", sort=False).size()
    group_sizes = one_per_line.groupby(["block", "group"], sort=False).size()
    lines: list[Line] = []
    for (block, group, method), rows in frame.groupby(["block", "group", "method"], sort=False):
        first = rows.iloc[0]
        new_block = not lines or lines[-1].block != block
        lines.append(
            Line(
                block=str(block),
                group=str(group),
                label=str(first["label"]),
                trained=bool(first["trained"]),
                block_rows=int(block_sizes[block]) if new_block else 0,
                group_rows=int(group_sizes[block, group]) if new_block or lines[-1].group != group else 0,
                cells=tuple(_cell(str(method), record) for _, record in rows.set_index("metric").iterrows()),
            )
        )
    claim_tests = int(versus["own_test"].sum())
    tests = int(frame["p"].notna().sum()) + claim_tests
    return Layout(
        name=table.name,
        caption=table.caption,
        headers=table.headers,
        metrics=tuple(short_metric(m) for m in table.metrics),
        show_groups=any(group.label for block in table.blocks for group in block.groups),
        show_diff=tests > 0,
        show_paper=bool(frame["published"].notna().any()),
        lines=tuple(lines),
        legend=_legend(table, frame, tests, claim_tests),
        summary=paper_summary(frame),
        claims=tuple(
            "The paper's claim: "
            + str(
                claim_holds(frame, c.block, c.method, c.metric)
                if c.versus is None
                else claim_versus(versus, c.block, c.method, c.versus, c.metric)
            )
            for c in table.claims
        ),
    )


def paper_summary(frame: pd.DataFrame) -> str | None:
    """One line counting how our cells compare with the published ones; None without published values."""
    counts = frame["agreement"].value_counts()
    total = int(counts.sum())
    if not total:
        return None
    n = {key: int(counts.get(key, 0)) for key in AGREEMENT}
    return (
        f"Against the paper: {total} cells with a published value: {n['within_2se']} within 2 standard errors, "
        f"{n['within_10pct']} more within 10 % of the paper's value, {n['worse']} worse and {n['better']} better "
        "beyond that."
    )


def _is_max(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    return frame["mean"] == frame.groupby(keys, sort=False)["mean"].transform("max")


def _cell(method: str, record: pd.Series) -> Cell:
    has_diff = pd.notna(record["diff"])
    has_paper = pd.notna(record["published"])
    return Cell(
        mean=number(record["mean"]),
        se=error(record["se"]),
        best=bool(record["best"]),
        best_baseline=bool(record["best_baseline"]),
        diff=number(record["diff"], signed=True) if has_diff else None,
        is_reference=record["reference"] == method,
        significant=bool(record["significant"]) if has_diff else False,
        paper=number(record["published"]) if has_paper else None,
        paper_diff=number(record["published_diff"], signed=True) if has_paper else None,
        agreement=record["agreement"] if has_paper else None,
    )


def _legend(table: TableSpec, frame: pd.DataFrame, tests: int, claim_tests: int) -> tuple[str, ...]:
    users = frame.drop_duplicates("block").set_index("block")["users"]
    legend = [
        "Each cell: mean ± standard error over the users of the block (bootstrap over users); users: "
        + ", ".join(f"{block} {count:,}" for block, count in users.items())
        + ".",
        "Bold: best of the block on the metric. Underlined: best baseline (not trained with beeFormer) of the "
        "group. Italics: trained with beeFormer.",
    ]
    if tests:
        level = f"{table.confidence * 100:g} %"
        claimed = f", {claim_tests} of them the claims below" if claim_tests else ""
        legend.append(
            "Δ: the row's mean minus the reference's, paired user by user; ref: the block's reference, the method "
            "the table names, else the best baseline on that metric. "
            f"{SIGNIFICANT}: Holm-adjusted p < {table.alpha:.2g} (two-sided paired t-test, Holm over the table's "
            f"{tests} comparisons{claimed}); the CSV has the standard errors, {level} paired-bootstrap intervals and "
            f"p-values ({table.n_bootstrap:,} resamples, seed {table.seed})."
        )
    if frame["published"].notna().any():
        legend.append("Paper: the value published in the paper, and ours minus the paper's in parentheses.")
    legend += _fit_notes(frame)
    return tuple(legend)


def _fit_notes(frame: pd.DataFrame) -> list[str]:
    """What each fitted row was fitted on, where its settings came from, and the settings chosen on an edge."""
    rows = frame.drop_duplicates(["block", "method"])
    fitted = rows[rows["fit"].notna()]
    notes = []
    if not fitted.empty:
        fits = _labels_by(fitted, "fit")
        sources = _labels_by(fitted, "tuned")
        if len(fits) == 1 and list(sources.index) == [True]:
            notes.append(
                f"Fit: every fitted row (baselines and beeFormer) had its settings chosen on the validation phase "
                f"and was fitted on {fits.index[0]} for this phase; pretrained encoders are used as they are."
            )
        else:
            where = {True: "chosen on the validation phase", False: "as given in the config"}
            notes.append(
                "Fit: fitted for this phase on "
                + "; ".join(f"{fit}: {labels}" for fit, labels in fits.items())
                + ". Settings "
                + "; ".join(f"{where[source]}: {labels}" for source, labels in sources.items())
                + ". Pretrained encoders are used as they are."
            )
    edged = rows[rows["edges"].notna()]
    if not edged.empty:
        notes.append(
            "Chosen on an edge of its grid (a wider grid might do better): "
            + "; ".join(f"{name}: {edges}" for name, edges in zip(_row_names(rows, edged), edged["edges"], strict=True))
            + "."
        )
    stepped = rows[rows["steps"].notna()].drop_duplicates("method")
    if not stepped.empty:
        notes.append(
            "Training steps chosen on the validation curve (turned: scored again later, never higher; not turned: "
            "the best may lie beyond the budget): "
            + "; ".join(f"{name}: {n}" for name, n in zip(_row_names(rows, stepped), stepped["steps"], strict=True))
            + "."
        )
    return notes


def _row_names(rows: pd.DataFrame, chosen: pd.DataFrame) -> list[str]:
    """Each chosen row named by its block (where the table has several), group and label."""
    several_blocks = rows["block"].nunique() > 1
    return [
        " / ".join(part for part in (block if several_blocks else "", group, label) if part)
        for block, group, label in zip(chosen["block"], chosen["group"], chosen["label"], strict=True)
    ]


def _labels_by(rows: pd.DataFrame, column: str) -> pd.Series:
    """The rows' labels (each once, in table order) joined per value of ``column``."""
    return rows.groupby(column, sort=False)["label"].agg(lambda labels: ", ".join(dict.fromkeys(labels)))
