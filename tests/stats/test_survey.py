"""Survey scoring and Cronbach's alpha, on hand-computed and textbook examples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queries.stats.survey import (
    alpha_from_variances,
    alpha_label,
    cronbach_alpha,
    group_index,
    respondent_scores,
    scored_items,
    to_0_100,
)


def responses(rows: list[tuple[int, ...]], **columns) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[f"q{i}" for i in range(1, 8)])
    return frame.assign(**columns)


@pytest.mark.requirement("URS-PPL-007")
def test_reverse_scoring_of_items_1_3_5():
    frame = responses([(1, 7, 1, 7, 1, 7, 7), (7, 1, 7, 1, 7, 1, 1), (2, 3, 4, 5, 6, 7, 1)])
    assert scored_items(frame).to_numpy().tolist() == [
        [7, 7, 7, 7, 7, 7, 7],  # the safest possible answers: reversed items answered 1
        [1, 1, 1, 1, 1, 1, 1],
        [6, 3, 4, 5, 2, 7, 1],  # 8-2, 3, 8-4, 5, 8-6, 7, 1
    ]


@pytest.mark.requirement("URS-PPL-007")
def test_respondent_score_and_index_by_hand():
    frame = responses([(1, 7, 1, 7, 1, 7, 7), (7, 1, 7, 1, 7, 1, 1), (2, 3, 4, 5, 6, 7, 1)])
    # (6 + 3 + 4 + 5 + 2 + 7 + 1) / 7 = 28 / 7 = 4
    assert respondent_scores(frame).tolist() == [7.0, 1.0, 4.0]
    assert to_0_100(7.0) == 100.0 and to_0_100(1.0) == 0.0 and to_0_100(4.0) == 50.0
    assert to_0_100(4.6) == pytest.approx(60.0)


@pytest.mark.requirement("URS-PPL-003")
def test_group_index_means_respondents_and_suppresses_small_groups():
    best, worst, neutral = (1, 7, 1, 7, 1, 7, 7), (7, 1, 7, 1, 7, 1, 1), (4,) * 7
    mixed = (2, 3, 4, 5, 6, 7, 1)  # score 4
    a = [best, best, neutral, mixed, worst]  # scores 7, 7, 4, 4, 1: mean 23 / 5 = 4.6 -> 60.0
    b = [best] * 4  # four respondents: suppressed
    frame = pd.concat([responses(a, site_id="A", team="T1"), responses(b, site_id="B", team="T1")])
    out = group_index(frame, ["site_id", "team"]).set_index("site_id")
    assert out.loc["A", "respondents"] == 5
    assert out.loc["A", "score_1_7"] == pytest.approx(4.6)
    assert out.loc["A", "index_0_100"] == pytest.approx(60.0)
    assert not out.loc["A", "suppressed"]
    assert out.loc["B", "suppressed"]
    assert out.loc["B", ["respondents", "score_1_7", "index_0_100"]].isna().all()  # no count either


@pytest.mark.requirement("URS-PPL-007")
def test_alpha_hand_computed_three_items_five_respondents():
    items = np.array([[3, 4, 3], [2, 3, 4], [4, 4, 5], [3, 2, 3], [4, 4, 4]])
    # item variances (n - 1): A 2.8/4 = 0.7, B 3.2/4 = 0.8, C 2.8/4 = 0.7; sum 2.2
    # totals 10, 9, 13, 8, 12: mean 10.4, squared deviations 17.2, variance 4.3
    # alpha = 3/2 * (1 - 2.2/4.3) = 3.15 / 4.3
    assert cronbach_alpha(items) == pytest.approx(3.15 / 4.3, rel=1e-12)
    assert alpha_from_variances([0.7, 0.8, 0.7], 4.3) == pytest.approx(3.15 / 4.3, rel=1e-12)


@pytest.mark.requirement("URS-PPL-007")
def test_alpha_matches_the_textbook_covariance_form():
    """alpha = k * mean covariance / (mean variance + (k - 1) * mean covariance) (Cronbach 1951)."""
    rng = np.random.default_rng(3)
    latent = rng.normal(size=40)
    items = latent[:, None] + rng.normal(scale=0.8, size=(40, 7))
    cov = np.cov(items, rowvar=False)
    k = cov.shape[0]
    mean_var = np.trace(cov) / k
    mean_cov = (cov.sum() - np.trace(cov)) / (k * (k - 1))
    assert cronbach_alpha(items) == pytest.approx(k * mean_cov / (mean_var + (k - 1) * mean_cov), rel=1e-12)


def test_alpha_edge_cases():
    identical = np.tile(np.array([[1.0], [2.0], [3.0], [5.0]]), (1, 4))
    assert cronbach_alpha(identical) == pytest.approx(1.0)
    assert math.isnan(cronbach_alpha(np.ones((5, 7))))  # no variance at all
    assert math.isnan(cronbach_alpha(np.array([[1, 2, 3]])))  # one respondent
    assert alpha_label(0.93) == "excellent" and alpha_label(0.72) == "acceptable"
    assert alpha_label(float("nan")) == "not computable" and alpha_label(0.2) == "unacceptable"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(1, 7), min_size=7, max_size=7), min_size=2, max_size=30))
def test_scores_stay_on_the_scale(rows):
    scores = respondent_scores(responses([tuple(r) for r in rows]))
    assert ((scores >= 1) & (scores <= 7)).all()
    assert ((to_0_100(scores) >= 0) & (to_0_100(scores) <= 100)).all()
