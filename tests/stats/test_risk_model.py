"""The risk model's features, outcome, backtest metrics and flagging, on hand-made events."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from queries.stats.risk_model import (
    FEATURES,
    RiskEvents,
    backtest,
    backtest_metrics,
    features_at,
    flag_top,
    outcome,
    site_months,
)

T = pd.Timestamp("2026-03-01")


def events(**frames) -> RiskEvents:
    empty = {
        "deviations": pd.DataFrame(columns=["site_id", "occurred_at", "detected_at", "severity"]),
        "excursions": pd.DataFrame(columns=["site_id", "started_at", "level"]),
        "batches": pd.DataFrame(columns=["site_id", "started_at"]),
        "signals": pd.DataFrame(columns=["site_id", "known_at"]),
        "survey": pd.DataFrame(columns=["site_id", "closed_at", "index_0_100"]),
        "training": pd.DataFrame(columns=["site_id", "attempt_at", "passed"]),
    }
    empty.update(frames)
    for frame in empty.values():
        for column in frame.columns:
            if column.endswith("_at"):
                frame[column] = pd.to_datetime(frame[column])
    return RiskEvents(**empty)


def test_features_use_only_what_was_known_before_t() -> None:
    ev = events(
        deviations=pd.DataFrame({
            "site_id": ["A", "A", "A", "A"],
            "occurred_at": ["2026-01-10", "2026-02-20", "2026-02-27", "2025-10-01"],
            # the third is detected after T: not known yet; the fourth is older than 90 days
            "detected_at": ["2026-01-11", "2026-02-21", "2026-03-02", "2025-10-02"],
            "severity": ["major", "minor", "critical", "major"]}),
        excursions=pd.DataFrame({"site_id": ["A", "B"], "started_at": ["2026-02-01", "2026-02-02"],
                                 "level": ["action", "alert"]}),
        survey=pd.DataFrame({"site_id": ["A", "A", "B"], "closed_at": ["2025-11-15", "2026-02-15", "2026-03-15"],
                             "index_0_100": [60.0, 70.0, 80.0]}),
        training=pd.DataFrame({"site_id": ["A", "A", "A", "B"],
                               "attempt_at": ["2026-01-05", "2026-02-05", "2025-06-01", "2026-02-10"],
                               "passed": [1.0, 0.0, 0.0, 1.0]}),
    )
    f = features_at(ev, ["A", "B"], T).set_index("site_id")
    assert list(f.columns) == list(FEATURES)
    assert f.loc["A", "deviations_90d"] == 2 and f.loc["A", "major_deviations_90d"] == 1
    assert f.loc["A", "action_excursions_90d"] == 1 and f.loc["B", "alert_excursions_90d"] == 1
    assert f.loc["A", "survey_index"] == 70.0  # the latest wave closed before T
    assert math.isnan(f.loc["B", "survey_index"])  # B's wave closes after T
    assert f.loc["A", "training_pass_rate_180d"] == 0.5  # June 2025 is outside 180 days
    assert f.loc["B", "deviations_90d"] == 0 and f.loc["B", "batches_90d"] == 0


def test_outcome_is_a_major_deviation_or_action_excursion_in_the_next_30_days() -> None:
    ev = events(
        deviations=pd.DataFrame({"site_id": ["A", "B", "C"], "occurred_at": ["2026-03-10", "2026-03-10", "2026-04-05"],
                                 "detected_at": ["2026-03-11"] * 3, "severity": ["major", "minor", "critical"]}),
        excursions=pd.DataFrame({"site_id": ["D"], "started_at": ["2026-03-30"], "level": ["action"]}),
    )
    assert outcome(ev, ["A", "B", "C", "D"], T).tolist() == [1, 0, 0, 1]


def test_backtest_metrics_by_hand() -> None:
    """labels 1 0 1 0 1, risks .9 .8 .7 .2 .1, flags on the first two.

    precision = 1 true of 2 flagged = 0.5; recall = 1 of 3 positives; base rate 3/5. ROC AUC = share of
    (positive, negative) pairs ranked right: positives .9, .7, .1 vs negatives .8, .2 -> (.9>.8, .9>.2,
    .7>.2) = 3 of 6 = 0.5."""
    m = backtest_metrics([1, 0, 1, 0, 1], [0.9, 0.8, 0.7, 0.2, 0.1], [True, True, False, False, False])
    assert m["precision"] == 0.5
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["base_rate"] == pytest.approx(0.6)
    assert m["roc_auc"] == pytest.approx(0.5)
    assert m["roc_auc"] == pytest.approx(roc_auc_score([1, 0, 1, 0, 1], [0.9, 0.8, 0.7, 0.2, 0.1]))
    none = backtest_metrics([0, 0], [0.1, 0.2], [False, False])
    assert none["roc_auc"] is None and none["recall"] is None and none["precision"] is None


def test_flag_top_third_per_month() -> None:
    predictions = pd.DataFrame({"month": [T] * 4 + [T + pd.offsets.MonthBegin(1)] * 2,
                                "site_id": ["A", "B", "C", "D", "A", "B"],
                                "risk": [0.1, 0.9, 0.5, 0.9, 0.3, 0.2]})
    # 4 sites: ceil(4/3) = 2 flagged (B and D tie at 0.9: both); 2 sites: 1 flagged (A).
    assert flag_top(predictions).tolist() == [False, True, False, True, True, False]


def test_backtest_ranks_a_separable_history_perfectly() -> None:
    """Sites A and B have a major deviation on the 10th of every month, C and D never: every A/B month is
    positive, every C/D month negative, and the history separates them (3 major deviations in 90 days)."""
    months = pd.date_range("2024-01-10", "2026-05-10", freq="MS") + pd.Timedelta(days=9)
    rows = [(s, t, t + pd.Timedelta(hours=2), "major") for s in ("A", "B") for t in months]
    ev = events(deviations=pd.DataFrame(rows, columns=["site_id", "occurred_at", "detected_at", "severity"]))
    sites = pd.DataFrame({"site_id": list("ABCD"), "onboarded_at": pd.Timestamp("2023-01-01")})
    frame = site_months(ev, sites, pd.Timestamp("2024-01-10"), pd.Timestamp("2026-06-01"))
    assert frame["month"].min() == pd.Timestamp("2024-08-01")  # 180 days of history first
    known = frame.dropna(subset=["label"])
    assert known["month"].max() == pd.Timestamp("2026-05-01")  # its 30 days end before 2026-06-01
    assert np.isnan(frame.loc[frame["month"] == pd.Timestamp("2026-06-01"), "label"]).all()
    bt = backtest(frame)
    assert len(bt.months) == 12 and bt.n == 48
    assert (bt.roc_auc, bt.precision, bt.recall, bt.base_rate) == (1.0, 1.0, 1.0, 0.5)
    assert bt.predictions.groupby("month")["flagged"].sum().eq(2).all()  # ceil(4 / 3) per month
