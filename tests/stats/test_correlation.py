"""Spearman's rho with a Fisher-z interval: against scipy and by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from queries.stats.correlation import fisher_interval, spearman


def test_textbook_example_iq_and_television():
    """The classic IQ vs hours of television example: sum d² = 194, rho = 1 - 6*194 / (10*99)."""
    iq = [106, 86, 100, 101, 99, 103, 97, 113, 112, 110]
    tv = [7, 0, 27, 50, 28, 29, 20, 12, 6, 17]
    result = spearman(iq, tv)
    assert result.rho == pytest.approx(1 - 6 * 194 / (10 * 99), rel=1e-12)  # -0.1758
    assert result.n == 10
    # Fisher z by hand: atanh(-0.17576) = -0.17760; half-width 1.95996 / sqrt(7) = 0.74080;
    # tanh(-0.91840) = -0.7251, tanh(0.56320) = 0.5103
    z = math.atanh(result.rho)
    half = 1.959963984540054 / math.sqrt(7)
    assert (result.low, result.high) == pytest.approx((math.tanh(z - half), math.tanh(z + half)), rel=1e-9)
    assert result.low == pytest.approx(-0.7251, abs=1e-4) and result.high == pytest.approx(0.5103, abs=1e-4)
    assert result.p_value == pytest.approx(stats.spearmanr(iq, tv).pvalue)


def test_fisher_interval_by_hand():
    # r = 0.5, n = 28: z = 0.549306, se = 1/5, half = 0.391993 -> tanh(0.157313), tanh(0.941299)
    low, high = fisher_interval(0.5, 28)
    assert low == pytest.approx(0.156028, abs=1e-6) and high == pytest.approx(0.735818, abs=1e-6)
    assert all(math.isnan(v) for v in fisher_interval(0.5, 3))


def test_ties_missing_pairs_and_degenerate_input():
    x = [1, 2, 2, 3, np.nan, 5, 6]
    y = [2, 1, 4, 4, 9, 7, 6]
    result = spearman(x, y)
    assert result.n == 6  # the pair with a missing x is dropped
    assert result.rho == pytest.approx(stats.spearmanr([1, 2, 2, 3, 5, 6], [2, 1, 4, 4, 7, 6]).statistic)
    assert math.isnan(spearman([1, 1, 1, 1], [1, 2, 3, 4]).rho)
    assert math.isnan(spearman([1, 2], [2, 1]).rho)
    assert "not computable" in spearman([1, 2], [2, 1]).text()
    with pytest.raises(ValueError, match="differ in length"):
        spearman([1, 2, 3], [1, 2])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=5, max_size=60))
def test_agrees_with_scipy(pairs):
    x, y = zip(*pairs, strict=True)
    result = spearman(x, y)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        assert math.isnan(result.rho)
        return
    assert result.rho == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    if abs(result.rho) < 1:
        assert result.low <= result.rho <= result.high
