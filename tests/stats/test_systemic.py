"""Systemic (cross-site) clusters of deviations, on hand-made deviations."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from queries.stats.systemic import clusters_for_keys, systemic_clusters


def devs(rows):
    return pd.DataFrame(rows, columns=["deviation_id", "site_id", "occurred_at", "root_cause_code", "sop_id"]).assign(
        occurred_at=lambda f: pd.to_datetime(f["occurred_at"], format="mixed"))


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
    # No DOC-ENTRY in the year before the cluster: nothing expected, so the surprise p is 0.
    assert c["expected"] == 0.0 and c["surprise_p"] == 0.0
    # Window of 3 days: 4 days 5 hours apart is no longer a cluster.
    assert systemic_clusters(frame, window_days=3).empty


def test_windows_move_on_when_they_fail_and_consume_their_deviations() -> None:
    """A at day 0, B at day 20, C at day 25, D at day 40 (window 14): the window from A holds only A;
    from B it holds B and C (two sites): one cluster; D starts afresh and is alone."""
    frame = devs([("a", "A", "2026-01-01", "X", None), ("b", "B", "2026-01-21", "X", None),
                  ("c", "C", "2026-01-26", "X", None), ("d", "D", "2026-02-10", "X", None)])
    clusters = systemic_clusters(frame, window_days=14)
    assert clusters["deviation_ids"].tolist() == [("b", "c")]


def test_surprise_from_the_reference_rate() -> None:
    """12 X deviations in the year before: rate 12/365 per day, 0.46 expected in 14 days.
    Observed 2: P(N >= 2) = 1 - e^-m (1 + m) with m = 12 * 14 / 365."""
    history = [(f"h{i}", "Z", str(pd.Timestamp("2025-02-15") + pd.Timedelta(days=30 * i)), "X", None)
               for i in range(12)]
    frame = devs(history + [("a", "A", "2026-02-01", "X", None), ("b", "B", "2026-02-03", "X", None)])
    c = systemic_clusters(frame[frame["occurred_at"] >= "2026-01-01"], window_days=14, reference=frame).iloc[0]
    m = 12 * 14 / 365
    assert c["expected"] == pytest.approx(m)
    assert c["surprise_p"] == pytest.approx(1 - math.exp(-m) * (1 + m))


def test_clusters_for_several_keys() -> None:
    frame = devs([("a", "A", "2026-02-01", "X", "SOP-1"), ("b", "B", "2026-02-03", "Y", "SOP-1")])
    clusters = clusters_for_keys(frame, window_days=14)
    assert clusters[["key_type", "key"]].values.tolist() == [["sop_id", "SOP-1"]]
    with pytest.raises(ValueError):
        systemic_clusters(frame, min_sites=1)
