"""Systemic (cross-site) clusters of deviations, on hand-made deviations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from queries.stats.systemic import clusters_for_keys, systemic_clusters


def devs(rows):
    return pd.DataFrame(rows, columns=["deviation_id", "site_id", "occurred_at", "root_cause_code", "sop_id"]).assign(
        occurred_at=lambda f: pd.to_datetime(f["occurred_at"], format="mixed"))


@pytest.mark.requirement("URS-STA-004")
def test_same_code_at_two_sites_within_the_window_is_a_cluster() -> None:
    frame = devs([
        ("D1", "ATL", "2026-04-16 14:00", "DOC-ENTRY", "SOP-014"),
        ("D2", "DEN", "2026-04-20 19:00", "DOC-ENTRY", "SOP-014"),
        ("D3", "ATL", "2026-04-01", "EQP-CAL", "SOP-018"),  # one site only: no cluster
        ("D4", "ATL", "2026-04-05", "EQP-CAL", "SOP-018"),
        ("D5", "BOS", "2026-05-30", "DOC-ENTRY", "SOP-014"),  # 44 days later: outside the 14-day window
    ])
    clusters = systemic_clusters(frame, window_days=14)
    assert len(clusters) == 1
    c = clusters.iloc[0]
    assert (c["key"], c["sites"], c["deviation_ids"], c["n_deviations"]) == (
        "DOC-ENTRY", ("ATL", "DEN"), ("D1", "D2"), 2)
    assert c["first_at"] == pd.Timestamp("2026-04-16 14:00")
    # No DOC-ENTRY in the year before the cluster: nothing expected, yet one follower in 14 days against
    # none in 365 is not proof of a rate change: p = 14 / (14 + 365), not 0.
    assert c["reference_count"] == 0 and c["expected"] == 0.0
    assert c["surprise_p"] == pytest.approx(14 / 379)
    # Window of 3 days: 4 days 5 hours apart is no longer a cluster.
    assert systemic_clusters(frame, window_days=3).empty


@pytest.mark.requirement("URS-STA-004")
def test_windows_move_on_when_they_fail_and_consume_their_deviations() -> None:
    """A at day 0, B at day 20, C at day 25, D at day 40 (window 14): the window from A holds only A;
    from B it holds B and C (two sites): one cluster; D starts afresh and is alone."""
    frame = devs([("a", "A", "2026-01-01", "X", None), ("b", "B", "2026-01-21", "X", None),
                  ("c", "C", "2026-01-26", "X", None), ("d", "D", "2026-02-10", "X", None)])
    clusters = systemic_clusters(frame, window_days=14)
    assert clusters["deviation_ids"].tolist() == [("b", "c")]


@pytest.mark.requirement("URS-STA-004")
def test_surprise_from_the_reference_rate() -> None:
    """12 X deviations in the year before, then a cluster of 2: the opening deviation is given, so the
    evidence is 1 follower in 14 days against 12 in 365. Exact conditional test of two Poisson rates:
    P(X >= 1) for X ~ Binomial(13, 14/379) = 1 - (365/379)^13, as statsmodels' exact-cond test gives."""
    from statsmodels.stats.rates import test_poisson_2indep

    history = [(f"h{i}", "Z", str(pd.Timestamp("2025-02-15") + pd.Timedelta(days=30 * i)), "X", None)
               for i in range(12)]
    frame = devs(history + [("a", "A", "2026-02-01", "X", None), ("b", "B", "2026-02-03", "X", None)])
    c = systemic_clusters(frame[frame["occurred_at"] >= "2026-01-01"], window_days=14, reference=frame).iloc[0]
    assert c["reference_count"] == 12 and c["expected"] == pytest.approx(12 * 14 / 365)
    assert c["surprise_p"] == pytest.approx(1 - (365 / 379) ** 13)
    stated = test_poisson_2indep(1, 14, 12, 365, method="exact-cond", alternative="larger").pvalue
    assert c["surprise_p"] == pytest.approx(stated)
    # Two more followers in the window: 3 against 12.
    more = devs(history + [("a", "A", "2026-02-01", "X", None), ("b", "B", "2026-02-03", "X", None),
                           ("c", "C", "2026-02-05", "X", None), ("d", "A", "2026-02-09", "X", None)])
    c = systemic_clusters(more[more["occurred_at"] >= "2026-01-01"], window_days=14, reference=more).iloc[0]
    assert c["n_deviations"] == 4
    assert c["surprise_p"] == pytest.approx(
        test_poisson_2indep(3, 14, 12, 365, method="exact-cond", alternative="larger").pvalue)


def _null_network(rng: np.random.Generator, rate_per_site_year: float, n_sites: int = 5,
                  years: int = 200) -> pd.DataFrame:
    """One root cause at independent sites, each a homogeneous Poisson process: no systemic cause."""
    ids, sites, days = [], [], []
    for s in range(n_sites):
        n = rng.poisson(rate_per_site_year * years)
        ids += [f"{s}-{i}" for i in range(n)]
        sites += [f"S{s}"] * n
        days.append(rng.uniform(0, years * 365, n))
    occurred = pd.Timestamp("2000-01-01") + pd.to_timedelta(np.concatenate(days), unit="D")
    return pd.DataFrame({"deviation_id": ids, "site_id": sites, "occurred_at": occurred,
                         "root_cause_code": "X", "sop_id": None})


@pytest.mark.requirement("URS-STA-004")
def test_null_rate_of_surprising_clusters_by_simulation() -> None:
    """Issue 18 (1): with the opening deviation counted in (the old p: P(N >= n) for N ~ Poisson of the
    reference rate times the window), 9-97 % of chance clusters got p < 0.05 at these rates and an
    unseen key got p = 0. Seeded null networks of 5 independent sites, 200 years each (a year of
    reference before the scan), at network rates of 0.19 to 4.6 deviations per 14-day window (the old p
    fails at every one):
    - per deviation the scan opens a window at, p < 0.05 at most 5 % of the time (the p's own guarantee);
    - among the clusters found, about 5 % (at most 6 %) for keys expected 0.5 or more times a window;
      more for rarer keys, where a cluster forming at all is the rare event (docs/signals.md).
    """
    rng = np.random.default_rng(18)
    measured = {}
    for rate in (1, 3, 6, 12, 24):
        network = _null_network(rng, rate)
        scanned = network[network["occurred_at"] >= pd.Timestamp("2001-01-01")]
        clusters = systemic_clusters(scanned, window_days=14, reference=network)
        surprising = int((clusters["surprise_p"] < 0.05).sum())
        old_p = stats.poisson.sf(clusters["n_deviations"] - 1, clusters["expected"])
        old_p = np.where(clusters["expected"] > 0, old_p, 0.0)
        measured[rate] = (len(clusters), surprising / len(clusters), surprising / len(scanned), np.mean(old_p < 0.05))
    print("\nnull clusters per rate (per site-year): " + "; ".join(
        f"{rate}: {n} clusters, {among:.1%} of them and {per_dev:.2%} per deviation p < 0.05 (old p: {old:.0%})"
        for rate, (n, among, per_dev, old) in measured.items()))
    assert all(old > 0.075 for *_, old in measured.values())  # the old p fails this test at every rate
    assert all(per_dev <= 0.05 for _, _, per_dev, _ in measured.values())
    assert all(n >= 100 for n, *_ in measured.values())
    assert all(among <= 0.06 for rate, (_, among, *_) in measured.items() if rate >= 3)
    assert 0.03 <= np.mean([among for rate, (_, among, *_) in measured.items() if rate >= 3]) <= 0.06
    # The figures docs/signals.md states (seeded, so exact to the rounding).
    assert {rate: round(100 * among, 1) for rate, (_, among, _, _) in measured.items()} == {
        1: 7.6, 3: 4.4, 6: 4.0, 12: 3.5, 24: 3.3}
    assert [round(100 * old) for *_, old in measured.values()] == [97, 31, 17, 12, 9]
    assert [round(100 * d, 2) for _, _, d, _ in measured.values()] == [0.90, 1.06, 1.15, 0.91, 0.58]


@pytest.mark.requirement("URS-STA-004")
def test_clusters_for_several_keys() -> None:
    frame = devs([("a", "A", "2026-02-01", "X", "SOP-1"), ("b", "B", "2026-02-03", "Y", "SOP-1")])
    clusters = clusters_for_keys(frame, window_days=14)
    assert clusters[["key_type", "key"]].values.tolist() == [["sop_id", "SOP-1"]]
    with pytest.raises(ValueError):
        systemic_clusters(frame, min_sites=1)
