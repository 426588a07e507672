"""Drift early warning: common-mode adjustment, sustained signals, episodes and lead time, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from queries.stats.drift import ewma_chart
from queries.stats.early_warning import (
    common_mode_adjusted,
    drift_chart,
    lead_time,
    sustained,
    warning_episodes,
)

DAYS = pd.date_range("2026-01-01", periods=10, freq="D")


@pytest.mark.requirement("URS-STA-003")
def test_common_mode_removes_what_moves_every_room_and_keeps_what_moves_one() -> None:
    """Four rooms of one site share a +1.0 step on day 6 (weather); room A also drifts +0.1/day.

    Baseline days 1-5: A=[20, 20.1, 20, 20.1, 20] (mean 20.04), B, C, D constant 19, 21, 22.
    From day 6 B, C, D are 1 higher: their departures from their baseline means are all 1.0, so the
    common mode of A is median(1, 1, 1) = 1 and A's adjusted value is A - 1. For B the peers are A, C, D
    with departures (A - 20.04), 1, 1: median 1 as long as A's departure is >= 1.
    """
    a = [20.0, 20.1, 20.0, 20.1, 20.0] + [21.0 + 0.1 * k for k in range(1, 6)]
    daily = pd.DataFrame({"A": a, "B": [19.0] * 5 + [20.0] * 5, "C": [21.0] * 5 + [22.0] * 5,
                          "D": [22.0] * 5 + [23.0] * 5}, index=DAYS)
    groups = dict.fromkeys("ABCD", ("S1", "temperature"))
    adjusted, peers = common_mode_adjusted(daily, groups, np.arange(10) < 5)
    assert peers.to_dict() == {"A": 3, "B": 3, "C": 3, "D": 3}
    assert adjusted["A"].iloc[5:].tolist() == pytest.approx([20.1, 20.2, 20.3, 20.4, 20.5])
    assert adjusted["B"].iloc[5:].tolist() == pytest.approx([19.0] * 5)  # the shared step is gone
    assert adjusted["A"].iloc[:5].tolist() == pytest.approx([20.0, 20.1, 20.0, 20.1, 20.0])


@pytest.mark.requirement("URS-STA-003")
def test_common_mode_needs_peers_and_peer_data() -> None:
    daily = pd.DataFrame({"A": [1.0, 2.0, 3.0], "B": [1.0, np.nan, 1.0], "C": [5.0, 5.0, 5.0],
                          "X": [7.0, 7.0, 7.0]}, index=DAYS[:3])
    groups = {"A": "g", "B": "g", "C": "g", "X": "other"}
    adjusted, peers = common_mode_adjusted(daily, groups, [True, True, True])
    assert peers["X"] == 0 and adjusted["X"].tolist() == [7.0, 7.0, 7.0]  # alone: unadjusted
    # Day 2: A's peers B (missing) and C: only one peer with data, fewer than 2 -> no adjusted value.
    assert np.isnan(adjusted.loc[DAYS[1], "A"])
    with pytest.raises(ValueError):
        common_mode_adjusted(daily, groups, [True])


@pytest.mark.requirement("URS-STA-003")
def test_sustained_needs_consecutive_days() -> None:
    assert sustained([1, 1, 0, 1, 1, 1, 1, 0], 3).tolist() == [False, False, False, False, False, True, True, False]
    assert sustained([True], 1).tolist() == [True]
    with pytest.raises(ValueError):
        sustained([True], 0)


@pytest.mark.requirement("URS-STA-003")
def test_drift_chart_limits_come_from_the_baseline_only() -> None:
    """30 baseline days alternating 10 +/- 0.1 (mean 10, sd 0.1017), then 10 days at 10.5.

    EWMA (lambda 0.2, L 3) of the monitored days starts at the baseline mean; the first z is
    0.2 * 10.5 + 0.8 * 10 = 10.1 against a limit of 10 + 3 * 0.2 * 0.1017 = 10.061: beyond from day 1,
    so with persist_days = 3 the warning starts on the third monitored day.
    """
    base = [10.1, 9.9] * 15
    values = pd.Series(base + [10.5] * 10, index=pd.date_range("2026-01-01", periods=40, freq="D"))
    chart = drift_chart(values, pd.Timestamp("2026-01-31"))
    assert chart.n_baseline == 30
    assert chart.target == pytest.approx(10.0)
    assert chart.sigma == pytest.approx(np.std(base, ddof=1))
    expected = ewma_chart([10.5] * 10, 10.0, chart.sigma)
    assert chart.frame["z"].tolist() == pytest.approx(expected["z"].tolist())
    assert chart.frame["z"].iloc[0] == pytest.approx(10.1)
    assert chart.frame["warning"].tolist() == [False, False] + [True] * 8
    assert chart.frame["cusum_signal"].any()
    # Too short a baseline: no chart rather than limits from too little data.
    assert drift_chart(values.iloc[:35], pd.Timestamp("2026-01-11")) is None


@pytest.mark.requirement("URS-STA-003")
def test_episodes_and_lead_time() -> None:
    """Warnings on Mar 1-3, Mar 5 (gap 2 days: same episode) and Apr 20 (a new one).

    The first episode's first warning day is Mar 1, known from Mar 2 00:00. An excursion at
    Mar 10 12:00 is preceded by it: lead time 8.5 days. An excursion on Apr 25 is preceded by the
    second episode (known Apr 21): 4 days. On Apr 1 no warning stands (the first episode ended Mar 5,
    more than 7 days earlier): no lead time.
    """
    days = pd.date_range("2026-03-01", "2026-04-30", freq="D")
    warning = pd.Series(False, index=days)
    warning[["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-05", "2026-04-20"]] = True
    episodes = warning_episodes(warning)
    assert episodes["start"].tolist() == [pd.Timestamp("2026-03-01"), pd.Timestamp("2026-04-20")]
    assert episodes["end"].tolist() == [pd.Timestamp("2026-03-05"), pd.Timestamp("2026-04-20")]
    assert episodes["days"].tolist() == [4, 1]
    assert lead_time(episodes, pd.Timestamp("2026-03-10 12:00")) == pd.Timedelta(days=8.5)
    assert lead_time(episodes, pd.Timestamp("2026-04-25")) == pd.Timedelta(days=4)
    assert lead_time(episodes, pd.Timestamp("2026-04-01")) is None
    # A warning known only at the event itself is detection, not warning.
    assert lead_time(episodes, pd.Timestamp("2026-03-02")) is None
    assert lead_time(warning_episodes(pd.Series(False, index=days)), pd.Timestamp("2026-03-10")) is None


# --- Montgomery & Runger, Applied Statistics and Probability for Engineers, 3rd ed. (2002), Example 16-6,
# Table 16-8 "The Tabular CUSUM for the Chemical Process Concentration Data": target 99, K = 1, H = 10.
# Typed from a public transcription of the book's page 636 (the PDF text drops minus signs in the
# x - 100 and 98 - x columns; the CUSUM columns are non-negative and unaffected).
MR_CONCENTRATION = [102.0, 94.8, 98.3, 98.4, 102.0, 98.5, 99.0, 97.7, 100.0, 98.1,
                    101.3, 98.7, 101.1, 98.4, 97.0, 96.7, 100.3, 101.4, 97.2, 101.0]  # fmt: skip
MR_SH = [2.0, 0.0, 0.0, 0.0, 2.0, 0.5, 0.0, 0.0, 0.0, 0.0, 1.3, 0.0, 1.1, 0.0, 0.0, 0.0, 0.3, 1.7, 0.0, 1.0]
MR_NH = [1, 0, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 2, 0, 1]
MR_SL = [0.0, 3.2, 2.9, 2.5, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.3, 0.0, 0.0, 0.8, 0.0]
MR_NL = [0, 1, 2, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 1, 0]


@pytest.mark.requirement("URS-STA-003")
def test_cusum_reproduces_montgomery_runger_table_16_8() -> None:
    """The CUSUM the drift charts use, on the book's worked example: every sH, sL, nL as printed, and, as
    the book concludes, no signal (both sums stay below H = 10).

    One printed value disagrees: for observation 20 the book gives sH = 1.0 with nH = 0. nH counts the
    consecutive periods with a non-zero sH (the book's own definition), and sH(19) = 0 < sH(20) = 1.0, so
    nH(20) = 1: a misprint in the table, and the only value asserted against the definition instead.
    """
    from queries.stats.drift import cusum_tabular

    chart = cusum_tabular(MR_CONCENTRATION, target=99.0, sigma=1.0, k=1.0, h=10.0)
    assert chart["c_plus"].round(1).tolist() == MR_SH
    assert chart["c_minus"].round(1).tolist() == MR_SL
    assert chart["n_minus"].tolist() == MR_NL
    assert chart["n_plus"].tolist()[:19] == MR_NH[:19]
    assert chart["n_plus"].iloc[19] == 1  # printed as 0 in the book
    assert not chart["signal_upper"].any() and not chart["signal_lower"].any()
