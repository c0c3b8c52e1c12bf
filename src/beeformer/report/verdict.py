"""Verdicts on the paper's claims, read from the long results table.

``claim_holds(frame, block, method, metric)`` answers "does ``method`` beat the block's reference on ``metric``?":
it holds when the paired mean difference is positive **and** significant after Holm's correction over the whole
table (``significant`` in the frame, ``p_holm < 1 - confidence``). A positive but non-significant difference, a
negative one, and the reference itself are all "no", each saying why. The reference is called "the best baseline"
when it is the best non-trained row of the block on that metric, else "the reference". ``claim_versus`` answers
the same question against a named method, from the comparisons of ``versus`` claims (:class:`.results.Results`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from beeformer.contract import ContractError


@dataclass(frozen=True)
class Claim:
    """Whether a claim holds, and one sentence that says so with the evidence."""

    holds: bool
    text: str

    def __str__(self) -> str:
        return self.text


def claim_holds(frame: pd.DataFrame, block: str, method: str, metric: str) -> Claim:
    """Does ``method`` beat the reference of ``block`` on ``metric``? (See the module docstring.)"""
    record = _record(frame, block, method, metric)
    reference = record["reference"]
    if reference is None or pd.isna(reference):
        raise ContractError(f"block {block!r}: no reference on {metric} (no baseline and none named); nothing to beat")
    subject = f"{method} beats {_reference_phrase(frame, block, reference, metric)} on {metric} in {block}"
    if reference == method:
        return Claim(False, f"{subject}: no, it is the reference itself")
    return _answer(subject, record)


def claim_versus(versus: pd.DataFrame, block: str, method: str, against: str, metric: str) -> Claim:
    """Does ``method`` beat the named method ``against`` in ``block`` on ``metric``? (A ``versus`` claim.)"""
    match = versus[
        (versus["block"] == block)
        & (versus["method"] == method)
        & (versus["versus"] == against)
        & (versus["metric"] == metric)
    ]
    if match.empty:
        raise ContractError(f"no comparison of {method!r} with {against!r} on {metric!r} in block {block!r}")
    return _answer(f"{method} beats {against} on {metric} in {block}", match.iloc[0])


def _answer(subject: str, record: pd.Series) -> Claim:
    """Yes only for a positive difference that is significant after Holm's correction; the evidence either way."""
    holds = bool(record["diff"] > 0) and not pd.isna(record["significant"]) and bool(record["significant"])
    if holds:
        verdict = "yes"
    elif record["diff"] > 0:
        verdict = "no (not significant)"
    else:
        verdict = "no"
    evidence = (
        f"{record['diff']:+.4f} (interval {record['ci_low']:+.4f} to {record['ci_high']:+.4f}), "
        f"{_p_text(record['p_holm'])}"
    )
    return Claim(holds, f"{subject}: {verdict}, {evidence}")


def _record(frame: pd.DataFrame, block: str, method: str, metric: str) -> pd.Series:
    match = frame[(frame["block"] == block) & (frame["method"] == method) & (frame["metric"] == metric)]
    if match.empty:
        known = frame.loc[frame["block"] == block, "method"].unique().tolist() or frame["block"].unique().tolist()
        raise ContractError(f"no result for block {block!r}, method {method!r}, metric {metric!r}; known: {known}")
    return match.iloc[0]


def _reference_phrase(frame: pd.DataFrame, block: str, reference: str, metric: str) -> str:
    rows = frame[(frame["block"] == block) & (frame["metric"] == metric)]
    baselines = rows[~rows["trained"]]
    is_best_baseline = reference in set(baselines.loc[baselines["mean"] == baselines["mean"].max(), "method"])
    return f"the best baseline ({reference})" if is_best_baseline else f"the reference ({reference})"


def _p_text(p_holm: float) -> str:
    return "p_holm < 0.001" if p_holm < 0.001 else f"p_holm = {p_holm:.3f}"
