"""Paired statistics of the report: known answers, scipy and hand-computed references, the bootstrap's draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from beeformer.contract.metrics import BOOTSTRAP_BLOCK_VALUES, BOOTSTRAP_MAX_BLOCK, resample_means, summarize
from beeformer.report.stats import holm, paired_differences, paired_p_values


def zero_inflated(rng: np.random.Generator, n_users: int, columns: int = 3) -> np.ndarray:
    """Values like per-user recall: mostly zeros, multiples of 1/16 (exact in binary floating point)."""
    hits = rng.binomial(16, 0.3, size=(n_users, columns)) * (rng.random((n_users, columns)) < 0.5)
    return hits / 16.0


def test_identical_methods_differ_by_zero_with_p_one() -> None:
    a = zero_inflated(np.random.default_rng(0), 500)
    result = paired_differences(a, a.copy(), n_bootstrap=300, seed=1, confidence=0.95)
    for values in (result.diff, result.se, result.ci_low, result.ci_high):
        np.testing.assert_array_equal(values, 0.0)
    np.testing.assert_array_equal(result.p, 1.0)


@pytest.mark.parametrize("shift", [0.25, -0.0625])
def test_a_constant_shift_is_found_exactly(shift: float) -> None:
    b = zero_inflated(np.random.default_rng(1), 400)
    result = paired_differences(b + shift, b, n_bootstrap=300, seed=2, confidence=0.9)
    np.testing.assert_array_equal(result.diff, shift)  # exact: dyadic values
    np.testing.assert_array_equal(result.se, 0.0)
    np.testing.assert_array_equal(result.ci_low, shift)
    np.testing.assert_array_equal(result.ci_high, shift)
    np.testing.assert_array_equal(result.p, 0.0)  # every user moves the same way: a sure difference


def test_p_values_are_the_paired_t_test_computed_by_hand() -> None:
    rng = np.random.default_rng(2)
    b = zero_inflated(rng, 800, columns=4)
    a = b + rng.normal([0.0, 0.005, 0.03, -0.02], 0.2, size=b.shape)
    d = a - b
    t = d.mean(axis=0) / (d.std(axis=0, ddof=1) / np.sqrt(len(d)))
    expected = 2 * stats.t.sf(np.abs(t), df=len(d) - 1)
    np.testing.assert_allclose(paired_p_values(a, b), expected, rtol=1e-10)
    assert expected[0] > 0.05 > expected[2]  # the case covers both outcomes


def test_one_constant_column_among_varying_ones() -> None:
    rng = np.random.default_rng(3)
    b = zero_inflated(rng, 300, columns=3)
    a = b.copy()
    a[:, 1] += 0.125
    a[:, 2] = zero_inflated(rng, 300, columns=1)[:, 0]
    p = paired_p_values(a, b)
    assert p[0] == 1.0 and p[1] == 0.0
    assert p[2] == pytest.approx(stats.ttest_rel(a[:, 2], b[:, 2]).pvalue, rel=1e-12)


def test_bootstrap_means_match_a_loop_over_the_same_draws() -> None:
    values = zero_inflated(np.random.default_rng(4), 70_000, columns=2)  # 59 resamples per block: 4 blocks
    n_bootstrap, seed = 200, 5
    means = resample_means(values, n_bootstrap, seed)
    rng = np.random.default_rng(seed)
    block = min(BOOTSTRAP_MAX_BLOCK, BOOTSTRAP_BLOCK_VALUES // len(values))
    assert 1 < block < n_bootstrap
    expected = []
    for start in range(0, n_bootstrap, block):
        for draw in rng.integers(0, len(values), size=(min(block, n_bootstrap - start), len(values))):
            expected.append(values[draw].mean(axis=0))
    np.testing.assert_allclose(means, np.array(expected), rtol=1e-12)


def test_bootstrap_draws_are_those_of_summarize() -> None:
    values = zero_inflated(np.random.default_rng(5), 2_000, columns=3)
    frame = pd.DataFrame(values, columns=["a", "b", "c"])
    summary = summarize(frame, n_bootstrap=150, seed=9)
    se = resample_means(values, 150, 9).std(axis=0, ddof=1)
    np.testing.assert_allclose(se, [summary[c]["se"] for c in "abc"], rtol=1e-12)


def test_paired_error_and_interval_agree_with_the_normal_approximation() -> None:
    rng = np.random.default_rng(6)
    b = zero_inflated(rng, 5_000, columns=1)
    a = np.clip(b + rng.normal(0.02, 0.1, size=b.shape), 0, 1)
    result = paired_differences(a, b, n_bootstrap=2_000, seed=7, confidence=0.95)
    d = (a - b)[:, 0]
    analytic = d.std(ddof=1) / np.sqrt(len(d))
    assert result.se[0] == pytest.approx(analytic, rel=0.08)
    assert result.ci_low[0] == pytest.approx(d.mean() - 1.96 * analytic, abs=0.3 * analytic)
    assert result.ci_high[0] == pytest.approx(d.mean() + 1.96 * analytic, abs=0.3 * analytic)
    # Pairing removes what the methods share: far below the error of two independent means.
    unpaired = np.hypot(a.std(ddof=1), b.std(ddof=1)) / np.sqrt(len(d))
    assert result.se[0] < 0.5 * unpaired


def test_holm_by_hand() -> None:
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> monotone 0.06
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.005])
    np.testing.assert_allclose(holm(p), [0.03, 0.06, np.nan, 0.06, 0.02])
    np.testing.assert_array_equal(holm(np.array([0.5, 0.6])), [1.0, 1.0])
    assert np.isnan(holm(np.array([np.nan]))).all()


@pytest.mark.parametrize("seed", range(5))
def test_holm_rejects_what_the_step_down_procedure_rejects(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.random(12) ** 3
    adjusted = holm(p)
    for alpha in (0.01, 0.05, 0.2):
        rejected = set()
        for step, index in enumerate(np.argsort(p)):  # Holm: stop at the first p_(i) > alpha / (m - i)
            if p[index] > alpha / (len(p) - step):
                break
            rejected.add(int(index))
        assert set(np.flatnonzero(adjusted <= alpha).tolist()) == rejected


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="n_bootstrap"):
        resample_means(np.zeros((3, 1)), 1, 0)
    with pytest.raises(ValueError, match="no users"):
        resample_means(np.zeros((0, 1)), 10, 0)
    with pytest.raises(ValueError, match="shape"):
        paired_differences(np.zeros((3, 2)), np.zeros((3, 1)), 10, 0, 0.95)
