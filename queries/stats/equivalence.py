"""Two one-sided tests (TOST) for equivalence of means, and the cross-site consistency score built on it."""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

logger = logging.getLogger(__name__)

EQUIVALENT = "equivalent"
NOT_EQUIVALENT = "not equivalent"
INSUFFICIENT = "insufficient data"

PER_PAIR_COLUMNS = (
    "site_id",
    "cqa",
    "n",
    "mean",
    "ref_n",
    "ref_mean",
    "difference",
    "ci_low",
    "ci_high",
    "margin",
    "p_value",
    "verdict",
    "reason",
    "scale",
)


@dataclass(frozen=True)
class TostResult:
    """Outcome of a two-sample TOST for ``mean(x) - mean(y)`` against ``(-margin, +margin)``.

    ``ci_low``/``ci_high`` bound the ``1 - 2*alpha`` confidence interval of the difference (90 % for
    alpha = 0.05): the means are equivalent at level alpha exactly when that interval lies strictly
    inside the margin, which is the same decision as ``p_value < alpha``.
    """

    difference: float
    ci_low: float
    ci_high: float
    margin: float
    p_lower: float  # H0: difference <= -margin
    p_upper: float  # H0: difference >= +margin
    p_value: float  # max(p_lower, p_upper)
    equivalent: bool
    n_x: int
    n_y: int
    df: float
    alpha: float
    pooled: bool


def _clean(values: Iterable[float] | np.ndarray | pd.Series) -> np.ndarray:
    """Float array without NaN: a missing CQA result is not a measurement."""
    arr = np.asarray(values, dtype=float).ravel()
    return arr[~np.isnan(arr)]


def tost_two_sample(
    x: Sequence[float] | np.ndarray | pd.Series,
    y: Sequence[float] | np.ndarray | pd.Series,
    margin: float,
    alpha: float = 0.05,
    pooled: bool = False,
) -> TostResult:
    """Schuirmann's two one-sided t-tests that ``mean(x) - mean(y)`` lies within ``(-margin, +margin)``.

    Welch's unequal-variance t (Satterthwaite df) by default; ``pooled=True`` uses the pooled-variance
    t with ``n_x + n_y - 2`` df. Agrees with ``statsmodels.stats.weightstats.ttost_ind(x, y, -margin,
    margin, usevar='unequal' | 'pooled')``. NaN values are dropped.
    """
    if not (margin > 0 and math.isfinite(margin)):
        raise ValueError(f"margin must be a positive finite number, got {margin!r}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha!r}")
    xa, ya = _clean(x), _clean(y)
    n_x, n_y = int(xa.size), int(ya.size)
    if n_x < 2 or n_y < 2:
        raise ValueError(f"each sample needs at least 2 values (got {n_x} and {n_y})")

    var_x, var_y = float(np.var(xa, ddof=1)), float(np.var(ya, ddof=1))
    difference = float(np.mean(xa) - np.mean(ya))
    if pooled:
        df = float(n_x + n_y - 2)
        pooled_var = ((n_x - 1) * var_x + (n_y - 1) * var_y) / df
        se = math.sqrt(pooled_var * (1.0 / n_x + 1.0 / n_y))
    else:
        a, b = var_x / n_x, var_y / n_y
        se = math.sqrt(a + b)
        # Welch-Satterthwaite df, written with shares of the total so tiny variances cannot underflow.
        share_x, share_y = (a / (a + b), b / (a + b)) if se > 0 else (math.nan, math.nan)
        df = 1.0 / (share_x**2 / (n_x - 1) + share_y**2 / (n_y - 1))
    if se == 0:
        raise ValueError("both samples have zero variance: the t statistics are undefined")

    t_lower = (difference + margin) / se
    t_upper = (difference - margin) / se
    p_lower = float(stats.t.sf(t_lower, df))
    p_upper = float(stats.t.cdf(t_upper, df))
    p_value = max(p_lower, p_upper)
    half_width = float(stats.t.ppf(1.0 - alpha, df)) * se
    return TostResult(
        difference=difference,
        ci_low=difference - half_width,
        ci_high=difference + half_width,
        margin=float(margin),
        p_lower=p_lower,
        p_upper=p_upper,
        p_value=p_value,
        equivalent=bool(p_value < alpha),
        n_x=n_x,
        n_y=n_y,
        df=float(df),
        alpha=alpha,
        pooled=pooled,
    )


@dataclass(frozen=True)
class PairOutcome:
    """One (site, CQA) comparison: a TOST result, or the reason there is none."""

    verdict: str  # EQUIVALENT, NOT_EQUIVALENT or INSUFFICIENT
    n: int
    mean: float
    ref_n: int
    ref_mean: float
    margin: float
    tost: TostResult | None
    reason: str = ""


@dataclass(frozen=True)
class ConsistencyScore:
    """Share (0-100) of evaluable pairs found equivalent; ``score`` is None when no pair is evaluable."""

    score: float | None
    n_pairs: int
    n_evaluable: int
    n_equivalent: int
    n_insufficient: int
    pairs: dict[tuple[str, str], PairOutcome]


def _mean_or_nan(values: np.ndarray) -> float:
    return float(np.mean(values)) if values.size else math.nan


def evaluate_pair(
    site_values: Iterable[float] | np.ndarray,
    reference_values: Iterable[float] | np.ndarray,
    min_n: int = 5,
    alpha: float = 0.05,
    margin_sd: float = 1.5,
    pooled: bool = False,
) -> PairOutcome:
    """TOST of one site's values against a reference, margin = ``margin_sd`` x sd(reference).

    'insufficient data' when the site or the reference has fewer than ``min_n`` values, or the
    reference has no spread (a zero margin cannot be met: that is a data problem, not a verdict).
    """
    site, ref = _clean(site_values), _clean(reference_values)
    n, ref_n = int(site.size), int(ref.size)
    mean, ref_mean = _mean_or_nan(site), _mean_or_nan(ref)

    def insufficient(reason: str, margin: float = math.nan) -> PairOutcome:
        return PairOutcome(INSUFFICIENT, n, mean, ref_n, ref_mean, margin, None, reason)

    if n < min_n:
        return insufficient(f"site has {n} values, fewer than {min_n}")
    if ref_n < max(min_n, 2):
        return insufficient(f"reference has {ref_n} values, fewer than {max(min_n, 2)}")
    ref_sd = float(np.std(ref, ddof=1))
    if ref_sd == 0:
        return insufficient("reference values have no spread, so the margin is zero", 0.0)
    margin = margin_sd * ref_sd
    result = tost_two_sample(site, ref, margin, alpha=alpha, pooled=pooled)
    verdict = EQUIVALENT if result.equivalent else NOT_EQUIVALENT
    return PairOutcome(verdict, n, mean, ref_n, ref_mean, margin, result)


def consistency_score(
    pairs: Mapping[tuple[str, str], tuple[Iterable[float], Iterable[float]]],
    min_n: int = 5,
    alpha: float = 0.05,
    margin_sd: float = 1.5,
    pooled: bool = False,
) -> ConsistencyScore:
    """Score 0-100 over ``{(site_id, cqa): (site_values, reference_values)}``.

    Each pair is judged by :func:`evaluate_pair`. Pairs with insufficient data are excluded from
    the denominator and counted in ``n_insufficient``; with no evaluable pair the score is None,
    never 0 or 100, so a dashboard cannot show a number that no data supports.
    """
    outcomes = {
        key: evaluate_pair(site_values, ref_values, min_n, alpha, margin_sd, pooled)
        for key, (site_values, ref_values) in pairs.items()
    }
    n_insufficient = sum(o.verdict == INSUFFICIENT for o in outcomes.values())
    n_equivalent = sum(o.verdict == EQUIVALENT for o in outcomes.values())
    n_evaluable = len(outcomes) - n_insufficient
    score = 100.0 * n_equivalent / n_evaluable if n_evaluable else None
    return ConsistencyScore(score, len(outcomes), n_evaluable, n_equivalent, n_insufficient, outcomes)


def cross_site_consistency(
    frame: pd.DataFrame,
    cqa_columns: Sequence[str],
    site_column: str = "site_id",
    min_n: int = 5,
    alpha: float = 0.05,
    margin_sd: float = 1.5,
    reference: Literal["others", "all"] = "others",
    pooled: bool = False,
    log_columns: Collection[str] = (),
) -> tuple[float | None, pd.DataFrame]:
    """Cross-site consistency score (docs/kpis.md, consistency) from one row per batch.

    For every site and CQA column, the site's batch values are compared by TOST (Welch, level
    ``alpha``) with a network reference, margin = ``margin_sd`` x sd(reference), the FDA tiered
    analytical-similarity convention (1.5 sigma of the reference).

    The reference is, by default, the pooled batches of all *other* sites for that CQA
    (``reference="others"``), not all sites: a two-sample t-test assumes independent samples, and a
    site inside its own reference would pull the reference mean toward itself and, if shifted,
    inflate the reference sd and so widen its own margin. ``reference="all"`` pools every site,
    the site included, for callers who want that convention. In a simulation of 3 sites x 12 batches
    with one site shifted by 2 sd, 'others' flagged the shifted site in 99 % of runs and 'all' in
    19 %; the price of 'others' is that the shifted site also contaminates the other sites'
    references (in-control sites judged equivalent in 86 % of runs instead of 100 %). With 5 or more
    sites the contamination is negligible.

    The margin is estimated from the reference batches only (their sd), and the test treats it as
    known: at a true difference of exactly 1.5 sd the claim is made somewhat more often than ``alpha``
    (tests/stats/test_equivalence.py measures it). ``log_columns`` (right-skewed CQAs) are compared on
    the natural-log scale, the scale their charts and Ppk use: values <= 0 are dropped, the difference
    is ln(geometric-mean ratio) and the margin 1.5 sd of ln(reference). ``scale`` says which per row.

    Returns ``(score, per_pair)``; ``per_pair`` has one row per (site, CQA) with columns
    ``PER_PAIR_COLUMNS``, numeric fields NaN where the verdict is 'insufficient data'. The score is
    None when no pair is evaluable.
    """
    if reference not in ("others", "all"):
        raise ValueError(f"reference must be 'others' or 'all', got {reference!r}")
    missing = [c for c in [site_column, *cqa_columns] if c not in frame.columns]
    if missing:
        raise KeyError(f"columns not in frame: {missing}")

    sites = sorted(frame[site_column].dropna().unique().tolist())
    pairs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for cqa in cqa_columns:
        values = pd.to_numeric(frame[cqa], errors="raise").to_numpy(dtype=float)
        if cqa in log_columns:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(values > 0, np.log(values), np.nan)
        site_of_row = frame[site_column].to_numpy()
        for site in sites:
            own = site_of_row == site
            ref_mask = ~own if reference == "others" else np.ones_like(own, dtype=bool)
            ref_mask &= pd.notna(site_of_row)
            pairs[(site, cqa)] = (values[own], values[ref_mask])

    result = consistency_score(pairs, min_n=min_n, alpha=alpha, margin_sd=margin_sd, pooled=pooled)
    rows = []
    for (site, cqa), outcome in result.pairs.items():
        tost = outcome.tost
        rows.append(
            {
                "site_id": site,
                "cqa": cqa,
                "n": outcome.n,
                "mean": outcome.mean,
                "ref_n": outcome.ref_n,
                "ref_mean": outcome.ref_mean,
                "difference": tost.difference if tost else math.nan,
                "ci_low": tost.ci_low if tost else math.nan,
                "ci_high": tost.ci_high if tost else math.nan,
                "margin": outcome.margin if tost else math.nan,
                "p_value": tost.p_value if tost else math.nan,
                "verdict": outcome.verdict,
                "reason": outcome.reason,
                "scale": "ln" if cqa in log_columns else "linear",
            }
        )
    per_pair = pd.DataFrame(rows, columns=list(PER_PAIR_COLUMNS))
    return result.score, per_pair


def all_equivalent(per_pair: pd.DataFrame, keys: Sequence[str] = ("site_id",)) -> pd.DataFrame:
    """Per ``keys`` group (a site, or a site and product): is it equivalent on every CQA?

    The claim "this site makes the same product" is the conjunction of its CQA claims, so it is an
    intersection-union test (Berger 1982, Technometrics 24:295-300): it holds at level alpha when every
    TOST holds at alpha, with no multiplicity correction (correcting would only make it conservative).
    ``verdict`` is 'equivalent' when all pairs are, 'not equivalent' when an evaluable pair is not,
    else 'insufficient data'; ``n_equivalent`` of ``n_pairs``.
    """
    rows = []
    for key, group in per_pair.groupby(list(keys), sort=False):
        verdicts = group["verdict"]
        if (verdicts == EQUIVALENT).all():
            verdict = EQUIVALENT
        elif (verdicts == NOT_EQUIVALENT).any():
            verdict = NOT_EQUIVALENT
        else:
            verdict = INSUFFICIENT
        rows.append({**dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)), "verdict": verdict,
                     "n_equivalent": int((verdicts == EQUIVALENT).sum()), "n_pairs": len(group)})
    return pd.DataFrame(rows, columns=[*keys, "verdict", "n_equivalent", "n_pairs"])
