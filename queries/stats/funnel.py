"""Exact funnel-plot limits for counts per exposure (Poisson) and proportions (binomial)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

logger = logging.getLogger(__name__)

Numbers = Sequence[float] | np.ndarray | pd.Series
DEFAULT_COVERAGE = (0.95, 0.998)  # Spiegelhalter's "2 sigma" and "3 sigma" funnels


def _interpolated_limit(cdf, ppf, p: float) -> float:
    """Spiegelhalter (2005), appendix A.1.1: the p-quantile of a discrete count, made continuous.

    ``r_p`` is the smallest count with ``P(R <= r_p) >= p``; the limit is ``r_p - alpha`` with
    ``alpha = (P(R <= r_p) - p) / (P(R <= r_p) - P(R <= r_p - 1))``, so the funnel is a smooth line
    instead of a staircase. Clipped at 0 (a count is never negative).
    """
    r = float(ppf(p))
    upper, lower = float(cdf(r)), float(cdf(r - 1))
    alpha = (upper - p) / (upper - lower) if upper > lower else 0.0
    return max(r - alpha, 0.0)


def _coverage_probabilities(coverage: float | Sequence[float]) -> list[tuple[str, float, float]]:
    values = [float(coverage)] if isinstance(coverage, int | float) else [float(c) for c in coverage]
    if any(not 0 < c < 1 for c in values):
        raise ValueError(f"coverage must be in (0, 1), got {values!r}")
    return [(f"{100 * c:g}", (1 - c) / 2, 1 - (1 - c) / 2) for c in values]


def _frame(exposures: Numbers, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    index = exposures.index if isinstance(exposures, pd.Series) else pd.RangeIndex(len(columns["n"]))
    return pd.DataFrame(columns, index=index)


def poisson_funnel_limits(
    exposures: Numbers, rate: float, coverage: float | Sequence[float] = DEFAULT_COVERAGE
) -> pd.DataFrame:
    """Exact Poisson funnel limits for a rate = count / exposure (e.g. deviations per batch).

    Under the null the count at a unit with exposure ``n`` is Poisson with mean ``rate * n``, where
    ``rate`` is the network rate ``sum(counts) / sum(exposures)``. Limits are the interpolated
    quantiles of Spiegelhalter (2005, *Statistics in Medicine* 24:1185-1202, appendix A.1.1)
    divided by ``n``. A count per batch can exceed one (a batch may have several deviations), so it
    is Poisson, not binomial; the normal approximation of :func:`queries.stats.capability.
    funnel_limits` is poor for the small counts of small sites, which is why this exists.

    Returns columns ``n``, ``expected`` and per coverage ``lower_<pct>``/``upper_<pct>`` (rates),
    e.g. ``lower_95``, ``upper_99.8``. Exposures of 0 or less give NaN limits.
    """
    if not (rate >= 0 and np.isfinite(rate)):
        raise ValueError(f"rate must be a non-negative finite number, got {rate!r}")
    n = np.asarray(exposures, dtype=float).ravel()
    columns: dict[str, np.ndarray] = {"n": n, "expected": rate * n}
    for label, p_low, p_high in _coverage_probabilities(coverage):
        low, high = np.full(n.shape, np.nan), np.full(n.shape, np.nan)
        for i, exposure in enumerate(n):
            if not exposure > 0:
                continue
            mu = rate * exposure
            dist = stats.poisson(mu)
            low[i] = _interpolated_limit(dist.cdf, dist.ppf, p_low) / exposure if mu > 0 else 0.0
            high[i] = _interpolated_limit(dist.cdf, dist.ppf, p_high) / exposure if mu > 0 else 0.0
        columns[f"lower_{label}"], columns[f"upper_{label}"] = low, high
    return _frame(exposures, columns)


def binomial_funnel_limits(
    denominators: Numbers, proportion: float, coverage: float | Sequence[float] = DEFAULT_COVERAGE
) -> pd.DataFrame:
    """Exact binomial funnel limits for a proportion (e.g. share of batches with any deviation).

    Same construction as :func:`poisson_funnel_limits` with ``R ~ Binomial(n, proportion)``, the
    limits being ``(r_p - alpha) / n`` (Spiegelhalter 2005, appendix A.1.1). Denominators must be whole
    numbers of units; 0 or less gives NaN limits.
    """
    if not 0 <= proportion <= 1:
        raise ValueError(f"proportion must be in [0, 1], got {proportion!r}")
    n = np.asarray(denominators, dtype=float).ravel()
    columns: dict[str, np.ndarray] = {"n": n, "expected": proportion * n}
    for label, p_low, p_high in _coverage_probabilities(coverage):
        low, high = np.full(n.shape, np.nan), np.full(n.shape, np.nan)
        for i, size in enumerate(n):
            if not size > 0:
                continue
            if proportion in (0.0, 1.0):  # degenerate: every unit has the same outcome
                low[i] = high[i] = proportion
                continue
            dist = stats.binom(int(round(size)), proportion)
            low[i] = _interpolated_limit(dist.cdf, dist.ppf, p_low) / size
            high[i] = min(_interpolated_limit(dist.cdf, dist.ppf, p_high) / size, 1.0)
        columns[f"lower_{label}"], columns[f"upper_{label}"] = low, high
    return _frame(denominators, columns)


def poisson_position(count: float, expected: float, coverage: Sequence[float] = DEFAULT_COVERAGE) -> str:
    """Where one unit's count sits against Poisson(``expected``), judged by its exact tail probability:
    'above 99.8 %', 'above 95 %', 'within 95 %', 'below 95 %', 'below 99.8 %'.

    "Above c %" means P(R >= count) < (1 - c) / 2, "below" P(R <= count) < (1 - c) / 2. The interpolated
    funnel line (:func:`poisson_funnel_limits`) is for drawing only: at small expected counts a count
    just over it can have a tail probability above the nominal level (a site with 12 deviations where
    6.92 were expected has P = 0.0497, not under 0.025), and classifying by the line flagged 8-18 %
    of in-control units instead of at most 2.5 % per side. The exact test never exceeds its level.
    """
    if count is None or expected is None or not (np.isfinite(count) and np.isfinite(expected)) or expected < 0:
        return "no data"
    upper = float(stats.poisson.sf(count - 1, expected))  # P(R >= count)
    lower = float(stats.poisson.cdf(count, expected))  # P(R <= count)
    labels = [label for label, _, _ in _coverage_probabilities(coverage)]
    for label in sorted(labels, key=float, reverse=True):
        tail = (1 - float(label) / 100) / 2
        if upper < tail:
            return f"above {label} %"
        if lower < tail:
            return f"below {label} %"
    return f"within {min(labels, key=float)} %"
