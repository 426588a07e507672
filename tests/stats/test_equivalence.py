"""TOST and the cross-site consistency score: checked against statsmodels and by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.weightstats import ttost_ind

from queries.stats.equivalence import (
    EQUIVALENT,
    INSUFFICIENT,
    NOT_EQUIVALENT,
    PER_PAIR_COLUMNS,
    all_equivalent,
    consistency_score,
    cross_site_consistency,
    evaluate_pair,
    tost_two_sample,
)


@pytest.mark.requirement("URS-STA-005")
@pytest.mark.parametrize("pooled", [False, True])
def test_p_values_match_statsmodels_ttost_ind(pooled: bool) -> None:
    """Seeded random samples of varied size, spread and shift: every p-value equals statsmodels'."""
    rng = np.random.default_rng(20240611)
    usevar = "pooled" if pooled else "unequal"
    for _ in range(300):
        n_x, n_y = rng.integers(2, 40, size=2)
        x = rng.normal(rng.normal(0, 3), rng.uniform(0.1, 5), size=n_x)
        y = rng.normal(rng.normal(0, 3), rng.uniform(0.1, 5), size=n_y)
        margin = float(rng.uniform(0.05, 8))
        ours = tost_two_sample(x, y, margin, pooled=pooled)
        p, (t1, p1, df1), (t2, p2, df2) = ttost_ind(x, y, -margin, margin, usevar=usevar)
        assert ours.p_value == pytest.approx(p, abs=1e-9)
        assert ours.p_lower == pytest.approx(p1, abs=1e-9)
        assert ours.p_upper == pytest.approx(p2, abs=1e-9)
        assert ours.df == pytest.approx(df1, rel=1e-12)
        assert ours.equivalent == (p < 0.05)


@pytest.mark.requirement("URS-STA-005")
@settings(max_examples=200, deadline=None)
@given(
    x=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=30),
    y=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=30),
    margin=st.floats(0.01, 500),
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
)
def test_decision_is_the_ci_inside_margin_rule(
    x: list[float], y: list[float], margin: float, alpha: float
) -> None:
    """TOST at alpha rejects both nulls exactly when the 1-2*alpha CI lies inside (-margin, margin)."""
    if np.var(x) == 0 and np.var(y) == 0:
        return
    r = tost_two_sample(x, y, margin, alpha=alpha)
    inside = -margin < r.ci_low and r.ci_high < margin
    # Skip only knife-edge cases where the two rules differ by floating-point rounding.
    if abs(r.p_value - alpha) > 1e-9:
        assert r.equivalent == inside


@pytest.mark.requirement("URS-STA-005")
def test_hand_worked_example() -> None:
    """x = 1..5, y = 2,4,6,8, margin 3, worked on paper.

    mean x = 3, s_x^2 = 10/4 = 2.5; mean y = 5, s_y^2 = 20/3; difference = -2.
    Welch: se^2 = 2.5/5 + (20/3)/4 = 0.5 + 5/3 = 13/6; df = (13/6)^2 / (0.5^2/4 + (5/3)^2/3).
    Pooled: s_p^2 = (4*2.5 + 3*20/3)/7 = 30/7; se^2 = 30/7 * (1/5 + 1/4) = 27/14; df = 7.
    """
    x, y, margin = [1, 2, 3, 4, 5], [2, 4, 6, 8], 3.0

    welch = tost_two_sample(x, y, margin)
    se = math.sqrt(13 / 6)
    df = (13 / 6) ** 2 / (0.5**2 / 4 + (5 / 3) ** 2 / 3)
    assert df == pytest.approx(4.749414519906324, rel=1e-12)
    assert welch.difference == pytest.approx(-2.0)
    assert welch.df == pytest.approx(df)
    assert welch.p_lower == pytest.approx(stats.t.sf((-2 + 3) / se, df))
    assert welch.p_upper == pytest.approx(stats.t.cdf((-2 - 3) / se, df))
    assert welch.p_value == pytest.approx(welch.p_lower)  # the lower bound is the binding one
    half = stats.t.ppf(0.95, df) * se
    assert (welch.ci_low, welch.ci_high) == pytest.approx((-2 - half, -2 + half))
    assert welch.ci_low < -margin and not welch.equivalent
    assert (welch.n_x, welch.n_y) == (5, 4)

    pooled = tost_two_sample(x, y, margin, pooled=True)
    se_p = math.sqrt(27 / 14)
    assert pooled.df == 7
    assert pooled.p_lower == pytest.approx(stats.t.sf(1 / se_p, 7))
    assert pooled.p_upper == pytest.approx(stats.t.cdf(-5 / se_p, 7))

    # Widen the margin to 6: the 90 % CI (about -5.0 to 1.0) now sits inside (-6, 6).
    assert tost_two_sample(x, y, 6.0).equivalent


def test_nan_values_are_dropped_and_bad_arguments_refused() -> None:
    r = tost_two_sample([1, 2, np.nan, 3, 4, 5], [2, 4, 6, 8, np.nan], 3.0)
    assert (r.n_x, r.n_y) == (5, 4)
    with pytest.raises(ValueError):
        tost_two_sample([1.0], [1.0, 2.0], 1.0)
    with pytest.raises(ValueError):
        tost_two_sample([1.0, 2.0], [1.0, 2.0], 0.0)
    with pytest.raises(ValueError):
        tost_two_sample([1.0, 1.0], [2.0, 2.0], 1.0)


# Every site's batches are one fixed pattern (mean 0, sd 2) plus a site offset, so the verdicts below
# follow from the arithmetic, not from a random seed.
PATTERN = (
    np.array([-3.0, -2.5, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.5, 3.0])
    * 2
    / np.std([-3.0, -2.5, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.5, 3.0], ddof=1)
)
IN_CONTROL_OFFSETS = {"A": 0.0, "B": 0.4, "C": -0.4, "D": 0.2}


def _network(shift_site_e: float = 0.0) -> pd.DataFrame:
    offsets = {**IN_CONTROL_OFFSETS, "E": shift_site_e}
    return pd.DataFrame(
        [
            {"site_id": site, "viability_pct": 90.0 + offset + value}
            for site, offset in offsets.items()
            for value in PATTERN
        ]
    )


def test_shifted_site_is_flagged_not_equivalent() -> None:
    """Site E runs 3 sd (6 points) high: A-D stay equivalent to the network, E does not; score 80."""
    frame = _network(shift_site_e=6.0)
    score, per_pair = cross_site_consistency(frame, ["viability_pct"])
    verdicts = dict(zip(per_pair["site_id"], per_pair["verdict"], strict=True))
    assert verdicts == {
        "A": EQUIVALENT,
        "B": EQUIVALENT,
        "C": EQUIVALENT,
        "D": EQUIVALENT,
        "E": NOT_EQUIVALENT,
    }
    assert score == pytest.approx(80.0)
    assert list(per_pair.columns) == list(PER_PAIR_COLUMNS)

    # E's row is exactly a TOST of E against A-D pooled, margin 1.5 sd of that reference.
    e = frame.loc[frame.site_id == "E", "viability_pct"]
    ref = frame.loc[frame.site_id != "E", "viability_pct"]
    expected = tost_two_sample(e, ref, 1.5 * ref.std(ddof=1))
    row = per_pair.set_index("site_id").loc["E"]
    assert row["ref_mean"] == pytest.approx(90.05)  # 90 + (0 + 0.4 - 0.4 + 0.2) / 4
    assert row["difference"] == pytest.approx(6.0 - 0.05)
    assert row["margin"] == pytest.approx(1.5 * ref.std(ddof=1))
    assert row["p_value"] == pytest.approx(expected.p_value)
    assert row["ci_low"] > row["margin"]  # the whole 90 % CI is above the margin
    assert (row["n"], row["ref_n"]) == (10, 40)


@pytest.mark.requirement("URS-STA-005")
def test_right_skewed_cqas_are_judged_on_the_ln_scale() -> None:
    """Issue 18 (4): one scale per CQA. Vector copy numbers, lognormal: the reference (sites A, B) at a
    geometric mean of 2 with ln-sd 0.5 and one long right tail (12.0); site C at the same geometric mean
    without the tail. On the raw scale the tail inflates the reference sd (margin 4.3) and C's raw mean
    (2.1) looks close to the reference's 3.1; on the ln scale (as charted) the difference is
    ln(GM ratio) and the margin 1.5 sd of ln(reference), by hand below."""
    ref_values = [1.2, 1.5, 2.0, 2.7, 3.3, 1.1, 1.8, 2.2, 3.0, 12.0]
    site_c = [1.6, 1.9, 2.0, 2.1, 2.4, 2.2]
    frame = pd.DataFrame({"site_id": ["A"] * 5 + ["B"] * 5 + ["C"] * 6, "vcn": ref_values + site_c})
    _, per_pair = cross_site_consistency(frame, ["vcn"], log_columns={"vcn"})
    c = per_pair.set_index("site_id").loc["C"]
    ln_ref, ln_c = np.log(ref_values), np.log(site_c)
    assert c["scale"] == "ln"
    assert c["difference"] == pytest.approx(ln_c.mean() - ln_ref.mean())
    assert c["margin"] == pytest.approx(1.5 * ln_ref.std(ddof=1))
    assert c["p_value"] == pytest.approx(tost_two_sample(ln_c, ln_ref, 1.5 * ln_ref.std(ddof=1)).p_value)
    _, raw = cross_site_consistency(frame, ["vcn"])
    assert raw.set_index("site_id").loc["C", "scale"] == "linear"
    assert raw.set_index("site_id").loc["C", "margin"] == pytest.approx(1.5 * np.std(ref_values, ddof=1))
    # A non-positive result cannot be on a log scale: it is dropped, not a crash.
    zero = pd.concat([frame, pd.DataFrame({"site_id": ["C"], "vcn": [0.0]})], ignore_index=True)
    _, per_pair = cross_site_consistency(zero, ["vcn"], log_columns={"vcn"})
    assert per_pair.set_index("site_id").loc["C", "n"] == 6


def test_the_claim_rate_at_the_margin_by_simulation() -> None:
    """The size of the test as the score uses it (evaluate_pair: margin 1.5 sd of the reference lots):
    a site whose true mean is exactly 1.5 reference sd away is claimed equivalent in 5.6-6.5 % of
    seeded runs (3,000 per design), not 5 %: the margin's own sampling error is not in the TOST
    (docs/kpis.md states it). With the margin known, 4.4-5.5 %."""
    rng = np.random.default_rng(18)
    rates = {}
    for n, ref_n in ((5, 20), (12, 60)):
        estimated = known = 0
        for _ in range(3000):
            x, ref = rng.normal(1.5, 1.0, n), rng.normal(0.0, 1.0, ref_n)
            estimated += evaluate_pair(x, ref, min_n=5).verdict == EQUIVALENT
            known += tost_two_sample(x, ref, 1.5).equivalent
        rates[(n, ref_n)] = (estimated / 3000, known / 3000)
    print("\nclaimed equivalent at the margin (estimated margin, known margin): "
          + "; ".join(f"n {n} vs {r}: {e:.1%}, {k:.1%}" for (n, r), (e, k) in rates.items()))
    assert all(0.045 <= e <= 0.08 for e, _ in rates.values())
    assert all(k <= 0.06 for _, k in rates.values())
    # The figures docs/kpis.md states (seeded, so exact to the rounding).
    assert {d: (round(100 * e, 1), round(100 * k, 1)) for d, (e, k) in rates.items()} == {
        (5, 20): (6.5, 5.5), (12, 60): (5.6, 4.4)}


def test_a_site_is_comparable_when_every_cqa_is_equivalent() -> None:
    """Issue 18 (4), multiplicity: the claim 'same product' is the conjunction of a site's CQA claims
    (an intersection-union test, level alpha without correction). Simulated: a site at the margin on
    one CQA and identical on five others (correlated 0.6 with it) is claimed comparable on all six in
    about 5 % of 1,000 seeded runs; a site identical on all six in most runs."""
    rng = np.random.default_rng(1982)
    cov = np.full((6, 6), 0.6) + 0.4 * np.eye(6)
    rows = []
    for run in range(1000):
        ref = rng.multivariate_normal(np.zeros(6), cov, 60)
        for label, shift in (("margin", [1.5, 0, 0, 0, 0, 0]), ("identical", [0.0] * 6)):
            site = rng.multivariate_normal(np.array(shift), cov, 12)
            rows += [{"site_id": label, "run": run, "cqa": q, "verdict": evaluate_pair(site[:, q], ref[:, q]).verdict}
                     for q in range(6)]
    claims = all_equivalent(pd.DataFrame(rows), keys=("site_id", "run"))
    rate = (claims["verdict"] == EQUIVALENT).groupby(claims["site_id"]).mean()
    print(f"\ncomparable on all six CQAs: {rate.to_dict()}")
    assert rate["margin"] <= 0.075
    assert rate["identical"] >= 0.8
    assert round(100 * rate["margin"], 1) == 4.8  # as docs/kpis.md states
    verdicts = all_equivalent(pd.DataFrame({
        "site_id": ["A", "A", "B", "B", "C", "C"], "cqa": ["x", "y"] * 3,
        "verdict": [EQUIVALENT, EQUIVALENT, EQUIVALENT, NOT_EQUIVALENT, EQUIVALENT, INSUFFICIENT]}))
    assert verdicts.set_index("site_id")["verdict"].to_dict() == {
        "A": EQUIVALENT, "B": NOT_EQUIVALENT, "C": INSUFFICIENT}


def test_reference_choice_matters_in_a_small_network() -> None:
    """Three sites, E 2 sd high: against 'others' (A and B) it is flagged; pooled into 'all' it hides.

    E's own batches are a third of the 'all' reference: they pull the reference mean toward E
    (difference 3.8 -> 2.53) and widen the reference sd, hence the margin (2.94 -> 3.99).
    """
    frame = _network(shift_site_e=4.0)
    frame = frame[frame.site_id.isin(["A", "B", "E"])]
    _, others = cross_site_consistency(frame, ["viability_pct"], reference="others")
    _, pooled_all = cross_site_consistency(frame, ["viability_pct"], reference="all")
    assert others.set_index("site_id").loc["E", "verdict"] == NOT_EQUIVALENT
    assert pooled_all.set_index("site_id").loc["E", "verdict"] == EQUIVALENT
    assert pooled_all.set_index("site_id").loc["E", "difference"] == pytest.approx(4.0 - (0.4 + 4.0) / 3)


def test_unshifted_network_scores_100() -> None:
    score, per_pair = cross_site_consistency(_network(shift_site_e=0.0), ["viability_pct"])
    assert score == 100.0
    assert set(per_pair["verdict"]) == {EQUIVALENT}


def test_reference_all_includes_the_site_itself() -> None:
    frame = _network(shift_site_e=6.0)
    _, per_pair = cross_site_consistency(frame, ["viability_pct"], reference="all")
    row = per_pair.set_index("site_id").loc["E"]
    assert row["ref_n"] == 50
    assert row["ref_mean"] == pytest.approx(frame["viability_pct"].mean())
    with pytest.raises(ValueError):
        cross_site_consistency(frame, ["viability_pct"], reference="mine")


def test_insufficient_data_is_excluded_and_counted() -> None:
    """A site with 4 batches (min_n = 5) gets 'insufficient data' and leaves the denominator."""
    frame = _network(shift_site_e=6.0)
    frame = pd.concat(
        [frame, pd.DataFrame({"site_id": ["F"] * 4, "viability_pct": [90.0, 91.0, 89.0, 90.5]})]
    )
    score, per_pair = cross_site_consistency(frame, ["viability_pct"])
    d = per_pair.set_index("site_id").loc["F"]
    assert d["verdict"] == INSUFFICIENT
    assert d["n"] == 4 and math.isnan(d["p_value"]) and math.isnan(d["margin"])
    assert "fewer than 5" in d["reason"]
    # F's 4 batches still belong to the others' references; the score is over A-E only.
    assert per_pair.set_index("site_id").loc["A", "ref_n"] == 40 + 4
    assert score == pytest.approx(80.0)


def test_missing_values_do_not_count_as_batches() -> None:
    frame = pd.DataFrame(
        {
            "site_id": ["A"] * 6 + ["B"] * 6,
            "vcn": [1.0, 1.1, np.nan, 0.9, np.nan, 1.0] + [1.0, 1.2, 0.9, 1.1, 1.0, 0.95],
        }
    )
    _, per_pair = cross_site_consistency(frame, ["vcn"])
    a = per_pair.set_index("site_id").loc["A"]
    assert a["n"] == 4 and a["verdict"] == INSUFFICIENT


def test_no_evaluable_pair_gives_none_never_a_number() -> None:
    frame = pd.DataFrame({"site_id": ["A", "A", "B", "B"], "vcn": [1.0, 1.1, 0.9, 1.0]})
    score, per_pair = cross_site_consistency(frame, ["vcn"])
    assert score is None
    assert set(per_pair["verdict"]) == {INSUFFICIENT}

    empty = consistency_score({})
    assert empty.score is None and empty.n_pairs == 0


def test_consistency_score_counts() -> None:
    ref = 10 + PATTERN / 2  # sd 1, margin 1.5
    pairs = {
        ("A", "cqa1"): (ref + 0.1, ref),  # 0.1 off, 90 % CI half-width ~0.78: equivalent
        ("B", "cqa1"): (ref + 5.0, ref),  # 5 sd off: not equivalent
        ("C", "cqa1"): (ref[:3], ref),  # 3 values: insufficient
        ("D", "cqa1"): (ref, np.full(10, 10.0)),  # reference without spread: insufficient
    }
    result = consistency_score(pairs)
    assert (result.n_pairs, result.n_evaluable, result.n_equivalent, result.n_insufficient) == (4, 2, 1, 2)
    assert result.score == 50.0
    assert result.pairs[("A", "cqa1")].verdict == EQUIVALENT
    assert result.pairs[("B", "cqa1")].verdict == NOT_EQUIVALENT
    assert result.pairs[("D", "cqa1")].reason.startswith("reference values have no spread")


def test_several_cqas_and_a_missing_column() -> None:
    frame = _network(shift_site_e=6.0)
    frame["vcn"] = np.tile(np.linspace(0.8, 1.2, 10), 5)
    score, per_pair = cross_site_consistency(frame, ["viability_pct", "vcn"])
    assert len(per_pair) == 10
    assert per_pair.loc[per_pair.cqa == "vcn", "verdict"].eq(EQUIVALENT).all()
    assert score == pytest.approx(90.0)
    with pytest.raises(KeyError):
        cross_site_consistency(frame, ["nope"])
