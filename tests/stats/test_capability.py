"""Performance indices (Ppk and its interval) and funnel limits, every expected value worked by hand or
taken from a published example."""

from __future__ import annotations

import math

import numpy as np
import pytest

from queries.stats.capability import capability, ppk


@pytest.mark.requirement("URS-STA-005")
def test_two_sided_ppk_by_hand() -> None:
    """x = 9, 10, 11: mean 10, sample sd 1. Spec 7..14: Ppu = 4/3, Ppl = 3/3 = 1, Ppk = 1, Pp = 7/6."""
    result = capability([9.0, 10.0, 11.0], lsl=7.0, usl=14.0)
    assert (result.n, result.mean, result.sd) == (3, 10.0, 1.0)
    assert result.ppu == pytest.approx(4 / 3)
    assert result.ppl == pytest.approx(1.0)
    assert result.ppk == pytest.approx(1.0)
    assert result.pp == pytest.approx(7 / 6)
    assert ppk([9.0, 10.0, 11.0], lsl=7.0, usl=14.0) == pytest.approx(1.0)


def test_one_sided_limits() -> None:
    x = [9.0, 10.0, 11.0]
    assert ppk(x, usl=14.0) == pytest.approx(4 / 3)
    assert ppk(x, lsl=7.0) == pytest.approx(1.0)
    upper_only = capability(x, usl=14.0)
    assert upper_only.ppl is None and upper_only.pp is None


def test_sigma_is_the_sample_sd_not_the_population_sd() -> None:
    """x = 1, 2, 3, 4: mean 2.5, s^2 = 5/3 (ddof 1; the population value would be 5/4). LSL 0:
    Ppl = 2.5 / (3 * sqrt(5/3))."""
    assert ppk([1.0, 2.0, 3.0, 4.0], lsl=0.0) == pytest.approx(2.5 / (3 * math.sqrt(5 / 3)))


def test_mean_outside_the_specification_gives_a_negative_index() -> None:
    """x = 15, 16, 17, USL 14: Ppu = (14 - 16) / 3 = -2/3."""
    assert ppk([15.0, 16.0, 17.0], usl=14.0) == pytest.approx(-2 / 3)


def test_undefined_cases_are_none_and_bad_limits_refused() -> None:
    assert ppk([10.0], lsl=7.0) is None
    assert ppk([10.0, 10.0, 10.0], lsl=7.0, usl=14.0) is None
    assert ppk([9.0, np.nan, 11.0], lsl=7.0) == pytest.approx((10 - 7) / (3 * math.sqrt(2)))
    with pytest.raises(ValueError):
        ppk([1.0, 2.0])
    with pytest.raises(ValueError):
        ppk([1.0, 2.0], lsl=5.0, usl=5.0)


@pytest.mark.requirement("URS-STA-005")
def test_ppk_interval_matches_montgomerys_worked_example() -> None:
    """Montgomery, Introduction to Statistical Quality Control (section 8.3.5, Bissell's approximation):
    n = 20 and an estimate of 1.33 give 0.88 <= Ppk <= 1.78 at 95 %. Data with mean 0, sd 1 and a
    specification 3.99 above the mean have exactly that estimate."""
    x = np.linspace(-1.0, 1.0, 20)
    x = (x - x.mean()) / x.std(ddof=1)
    result = capability(x, usl=3.99)
    assert result.ppk == pytest.approx(1.33)
    assert (round(result.ppk_low, 2), round(result.ppk_high, 2)) == (0.88, 1.78)
    # The case: the same estimate from 10 lots spans 0.68 to 1.98.
    ten = np.linspace(-1.0, 1.0, 10)
    ten = (ten - ten.mean()) / ten.std(ddof=1)
    result = capability(ten, usl=3.99)
    assert (round(result.ppk_low, 2), round(result.ppk_high, 2)) == (0.68, 1.98)


@pytest.mark.parametrize("n", [10, 20, 50])
def test_ppk_interval_covers_the_true_value_about_95_percent_of_the_time(n) -> None:
    """Seeded normal data, true Ppk = 1.33 (mean 0, sd 1, USL 3.99): the 95 % interval must hold the
    true value in 93-97 % of 4000 samples (the binomial sd of a 95 % rate over 4000 is 0.34 %)."""
    rng = np.random.default_rng(20261206 + n)
    hits = 0
    for _ in range(4000):
        result = capability(rng.normal(0.0, 1.0, n), usl=3.99)
        hits += result.ppk_low <= 1.33 <= result.ppk_high
    assert 0.93 <= hits / 4000 <= 0.97


