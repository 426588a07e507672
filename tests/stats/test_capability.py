"""Capability indices and funnel limits, every expected value worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from queries.stats.capability import capability, cpk, funnel_limits


def test_two_sided_cpk_by_hand() -> None:
    """x = 9, 10, 11: mean 10, sample sd 1. Spec 7..14: Cpu = 4/3, Cpl = 3/3 = 1, Cpk = 1, Cp = 7/6."""
    result = capability([9.0, 10.0, 11.0], lsl=7.0, usl=14.0)
    assert (result.n, result.mean, result.sd) == (3, 10.0, 1.0)
    assert result.cpu == pytest.approx(4 / 3)
    assert result.cpl == pytest.approx(1.0)
    assert result.cpk == pytest.approx(1.0)
    assert result.cp == pytest.approx(7 / 6)
    assert cpk([9.0, 10.0, 11.0], lsl=7.0, usl=14.0) == pytest.approx(1.0)


def test_one_sided_limits() -> None:
    x = [9.0, 10.0, 11.0]
    assert cpk(x, usl=14.0) == pytest.approx(4 / 3)
    assert cpk(x, lsl=7.0) == pytest.approx(1.0)
    upper_only = capability(x, usl=14.0)
    assert upper_only.cpl is None and upper_only.cp is None


def test_sigma_is_the_sample_sd_not_the_population_sd() -> None:
    """x = 1, 2, 3, 4: mean 2.5, s^2 = 5/3 (ddof 1; the population value would be 5/4). LSL 0:
    Cpl = 2.5 / (3 * sqrt(5/3))."""
    assert cpk([1.0, 2.0, 3.0, 4.0], lsl=0.0) == pytest.approx(2.5 / (3 * math.sqrt(5 / 3)))


def test_mean_outside_the_specification_gives_a_negative_index() -> None:
    """x = 15, 16, 17, USL 14: Cpu = (14 - 16) / 3 = -2/3."""
    assert cpk([15.0, 16.0, 17.0], usl=14.0) == pytest.approx(-2 / 3)


def test_undefined_cases_are_none_and_bad_limits_refused() -> None:
    assert cpk([10.0], lsl=7.0) is None
    assert cpk([10.0, 10.0, 10.0], lsl=7.0, usl=14.0) is None
    assert cpk([9.0, np.nan, 11.0], lsl=7.0) == pytest.approx((10 - 7) / (3 * math.sqrt(2)))
    with pytest.raises(ValueError):
        cpk([1.0, 2.0])
    with pytest.raises(ValueError):
        cpk([1.0, 2.0], lsl=5.0, usl=5.0)


def test_funnel_limits_by_hand() -> None:
    """p = 0.1. n = 100: se = sqrt(0.09 / 100) = 0.03, so 0.1 -/+ 1.96 * 0.03 = 0.0412 / 0.1588 and
    0.1 -/+ 3.09 * 0.03 = 0.0073 / 0.1927. n = 10: se = sqrt(0.009) = 0.0948683; the lower limits fall
    below 0 and are clipped; upper = 0.1 + 1.96 * 0.0948683 = 0.2859419 and 0.1 + 3.09 * 0.0948683 =
    0.3931431. n = 0: no limits."""
    limits = funnel_limits([100, 10, 0], overall_rate=0.1)
    assert list(limits.columns) == ["n", "lower_1.96", "upper_1.96", "lower_3.09", "upper_3.09"]
    row = limits.iloc[0]
    assert (row["lower_1.96"], row["upper_1.96"]) == pytest.approx((0.0412, 0.1588))
    assert (row["lower_3.09"], row["upper_3.09"]) == pytest.approx((0.0073, 0.1927))
    row = limits.iloc[1]
    assert (row["lower_1.96"], row["lower_3.09"]) == (0.0, 0.0)
    assert row["upper_1.96"] == pytest.approx(0.2859419, abs=1e-7)
    assert row["upper_3.09"] == pytest.approx(0.3931431, abs=1e-7)
    assert limits.iloc[2].drop("n").isna().all()


def test_funnel_limits_clip_at_one_and_take_a_single_z() -> None:
    """p = 0.95, n = 4: se = sqrt(0.0475 / 4) = 0.108972; upper 0.95 + 2 * 0.108972 > 1 -> 1."""
    limits = funnel_limits(pd.Series([4], index=["site-a"]), overall_rate=0.95, z=2.0)
    assert list(limits.columns) == ["n", "lower_2", "upper_2"]
    assert limits.loc["site-a", "upper_2"] == 1.0
    assert limits.loc["site-a", "lower_2"] == pytest.approx(0.95 - 2 * math.sqrt(0.0475 / 4))
    with pytest.raises(ValueError):
        funnel_limits([10], overall_rate=1.5)
