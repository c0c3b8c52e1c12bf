"""Paired comparisons of two methods scored on the same users: difference, bootstrap error and interval, p-value.

For every user ``u`` of a split and phase, ``d_u = a_u - b_u`` is the method's metric minus the reference's.

- **Difference**: the mean of ``d_u``, which is exactly the difference of the two means in the table.
- **Paired bootstrap**: resample the users with replacement ``n_bootstrap`` times and take the mean of ``d_u``
  over each resample; both methods see the same resampled users, so what they share (how hard a user is) cancels.
  The standard error is the standard deviation (ddof=1) of those means, as ``contract.metrics.summarize`` computes
  the error of one method; the interval is the percentile interval at the ``confidence`` level. Resamples are
  drawn in blocks as per-user counts (``counts @ d / n``), seeded, for all comparisons of a block at once.
- **p-value**: the two-sided **paired t-test** (``scipy.stats.ttest_rel``). Per-user recall and NDCG are bounded,
  zero-inflated and full of ties, so ``d_u`` is far from normal; but the test is about the *mean* difference
  (what the table reports and what the paper's claims are about), ``d_u`` lies in [-1, 1] so its variance is
  finite, and with hundreds to 100,000 users the mean is normal by the central limit theorem: the t-test's level
  is right. The Wilcoxon signed-rank test answers another question (is the distribution of ``d_u`` symmetric
  about 0, a pseudo-median), depends on how its many zero differences and ties are treated, and can call a
  difference significant whose mean has the opposite sign. When every ``d_u`` is the same value ``c`` the
  t statistic is undefined: p = 1 for ``c = 0`` (identical methods) and p = 0 otherwise (a sure shift).
- **Multiple comparisons**: Holm's step-down correction over every comparison of a table (each row and metric
  of all blocks); it controls the family-wise error rate without assuming independence between comparisons,
  which share users and methods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from beeformer.contract.metrics import resample_means


@dataclass(frozen=True)
class Paired:
    """One entry per compared column: mean difference, its bootstrap error and interval, two-sided p-value."""

    diff: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p: np.ndarray


def paired_p_values(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two-sided paired t-test of each column of ``a`` against the same column of ``b`` (rows are users)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = a - b
    constant = np.all(diff == diff[:1], axis=0)
    p = np.where(diff[0] == 0.0, 1.0, 0.0)  # a constant difference: 0 is no difference, anything else is sure
    if not constant.all():
        varying = ~constant
        p[varying] = stats.ttest_rel(a[:, varying], b[:, varying], axis=0).pvalue
    return p


def paired_differences(a: np.ndarray, b: np.ndarray, n_bootstrap: int, seed: int, confidence: float) -> Paired:
    """Column ``j`` of ``a`` minus column ``j`` of ``b`` over the same users (rows), with the paired statistics."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"paired values must be two users x columns arrays of one shape, got {a.shape}, {b.shape}")
    diff = a - b
    means = resample_means(diff, n_bootstrap, seed)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail], axis=0)
    return Paired(
        diff=diff.mean(axis=0),
        se=means.std(axis=0, ddof=1),
        ci_low=low,
        ci_high=high,
        p=paired_p_values(a, b),
    )


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (step-down, monotone, capped at 1); NaN entries are not tests and stay NaN."""
    p = np.asarray(p, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    factors = len(order) - np.arange(len(order))  # m, m - 1, ..., 1
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * factors))
    return adjusted
