"""Individuals / moving-range control limits and the Nelson and Western Electric run rules."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

# Control-chart constants for moving ranges of n = 2 consecutive points (Montgomery, Appendix VI;
# NIST/SEMATECH e-Handbook 6.3.2.2): sigma_hat = MRbar / d2 and UCL(MR) = D4 * MRbar.
D2_N2 = 1.128
D4_N2 = 3.267

Values = Sequence[float] | np.ndarray | pd.Series


@dataclass(frozen=True)
class ImrLimits:
    """Individuals (I) and moving-range (MR) chart lines, all computed from the baseline only."""

    center: float
    ucl: float
    lcl: float
    mr_bar: float
    mr_ucl: float  # the MR chart's LCL is 0 for n = 2
    sigma: float  # MRbar / 1.128, the short-term (within) sigma estimate
    n_baseline: int


def as_values(x: Values) -> np.ndarray:
    """x as a flat float array; NaN is refused (charts need every point)."""
    arr = np.asarray(x, dtype=float).ravel()
    if np.isnan(arr).any():
        raise ValueError("x contains NaN: drop or impute missing readings before charting")
    return arr


def index_of(x: Values, n: int) -> pd.Index:
    """The index a chart of x gets: x's own for a Series, positions otherwise."""
    return x.index if isinstance(x, pd.Series) else pd.RangeIndex(n)


def moving_ranges(x: Values) -> np.ndarray:
    """|x_i - x_(i-1)|, with NaN at position 0 (no previous point), aligned with x for plotting."""
    arr = as_values(x)
    out = np.full(arr.shape, np.nan)
    out[1:] = np.abs(np.diff(arr))
    return out


def imr_limits(x: Values, baseline: slice | None = None) -> ImrLimits:
    """I-MR chart limits from a stated baseline: ``center +/- 3 * MRbar / 1.128``; ``UCL(MR) = 3.267 MRbar``.

    ``baseline`` is a positional slice of ``x`` (``None`` = all points), e.g. ``slice(0, 20)`` for the
    first 20 batches. Control limits come from this baseline period, never from specification limits,
    and points after the baseline are judged against them, not folded into them. Moving ranges are
    taken between consecutive baseline points only.
    """
    arr = as_values(x)
    base = arr[baseline] if baseline is not None else arr
    if base.size < 2:
        raise ValueError(f"the baseline needs at least 2 points, got {base.size}")
    return _limits(base, np.ones(base.size, dtype=bool))


def _limits(base: np.ndarray, kept: np.ndarray) -> ImrLimits:
    """Limits from the ``kept`` baseline points; a moving range counts only between two kept neighbours
    (a set-aside point's ranges go with it, as when a Phase I point is omitted from the estimate)."""
    center = float(np.mean(base[kept]))
    mr_bar = float(np.mean(np.abs(np.diff(base))[kept[1:] & kept[:-1]]))
    sigma = mr_bar / D2_N2
    return ImrLimits(center=center, ucl=center + 3 * sigma, lcl=center - 3 * sigma, mr_bar=mr_bar,
                     mr_ucl=D4_N2 * mr_bar, sigma=sigma, n_baseline=int(kept.sum()))


@dataclass(frozen=True)
class PhaseOne:
    """A cleaned Phase I baseline: the limits, and which baseline points were set aside to get them."""

    limits: ImrLimits
    set_aside: np.ndarray  # bool, one per baseline point: beyond the limits of a round, left out after it
    rounds: int  # how many times the limits were computed


def phase_one_limits(x: Values, baseline: slice, min_points: int = 2) -> PhaseOne:
    """Limits from a baseline cleaned as Montgomery describes for Phase I (Introduction to Statistical
    Quality Control, 6th ed., 5.4 and 6.2.1): compute trial limits, set aside the baseline points beyond
    them (treated as having an assignable cause), recompute from the rest, and repeat until no baseline
    point is beyond the limits. A round that would leave fewer than ``min_points`` points (or no moving
    range) is not taken: the previous limits stand. Points after the baseline never enter the limits.
    """
    base = as_values(x)[baseline]
    if base.size < 2:
        raise ValueError(f"the baseline needs at least 2 points, got {base.size}")
    kept = np.ones(base.size, dtype=bool)
    limits, rounds = _limits(base, kept), 1
    while True:
        beyond = kept & ((base > limits.ucl) | (base < limits.lcl))
        remaining = kept & ~beyond
        if not beyond.any() or remaining.sum() < min_points or not (remaining[1:] & remaining[:-1]).any():
            return PhaseOne(limits, ~kept, rounds)
        kept = remaining
        limits, rounds = _limits(base, kept), rounds + 1


# ---------------------------------------------------------------------------------------------------
# Run-rule building blocks. Each returns, for every point i, a fact about the points ending at i, so
# a rule is True exactly at the point that completes its pattern (and at each later point that
# completes it again, e.g. the 10th point of a 10-long run on one side completes a run of 9 anew).
# ---------------------------------------------------------------------------------------------------


def _run_lengths(condition: np.ndarray) -> np.ndarray:
    """Length of the run of consecutive True values ending at each position (0 where False)."""
    runs, count = [], 0
    for flag in condition.tolist():  # Python values: iterating a numpy array yields slow scalars
        count = count + 1 if flag else 0
        runs.append(count)
    return np.array(runs, dtype=int)


def _same_side_runs(x: np.ndarray, center: float) -> np.ndarray:
    """Run length of points strictly on one side of the center line; a point on the line breaks it."""
    side = np.sign(x - center).tolist()
    runs = [0] * len(side)
    for i, s in enumerate(side):
        if s == 0:
            runs[i] = 0
        elif i > 0 and side[i - 1] == s:
            runs[i] = runs[i - 1] + 1
        else:
            runs[i] = 1
    return np.array(runs, dtype=int)


def _k_of_last_m(beyond: np.ndarray, k: int, m: int) -> np.ndarray:
    """True at i when point i is beyond and at least k of the last m points (i included) are.

    Requiring point i itself makes the rule fire at the point that completes the pattern. Near the
    start fewer than m points exist; k of them beyond already fulfils 'k of m'.
    """
    counts = np.convolve(beyond.astype(int), np.ones(m, dtype=int))[: beyond.size]
    return beyond & (counts >= k)


def _trend_points(x: np.ndarray) -> np.ndarray:
    """Number of points in the strictly monotone run ending at i (1 = no trend); ties break a run."""
    d = np.sign(np.diff(x)).tolist()
    points = [1] * x.size
    for i in range(1, x.size):
        step = d[i - 1]
        if step != 0 and i > 1 and d[i - 2] == step:
            points[i] = points[i - 1] + 1
        elif step != 0:
            points[i] = 2
    return np.array(points, dtype=int)


def _alternating_points(x: np.ndarray) -> np.ndarray:
    """Number of points in the up-down-up... (or down-up-down...) run ending at i; ties break it."""
    d = np.sign(np.diff(x)).tolist()
    points = [1] * x.size
    for i in range(1, x.size):
        step = d[i - 1]
        if step != 0 and i > 1 and d[i - 2] == -step:
            points[i] = points[i - 1] + 1
        elif step != 0:
            points[i] = 2
    return np.array(points, dtype=int)


def _check_sigma(sigma: float) -> None:
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")


def nelson_rules(x: Values, center: float, sigma: float) -> pd.DataFrame:
    """The eight Nelson (1984) tests; one boolean column ``rule_1`` .. ``rule_8``, one row per point.

    Zones are measured from ``center`` in units of ``sigma`` (for an I chart: the ``ImrLimits``
    center and sigma). "Beyond" is strict: a point exactly on a zone boundary is not beyond it.

    1. one point beyond 3 sigma (either side);
    2. nine points in a row on the same side of the center line (a point on the line breaks the run);
    3. six points in a row steadily increasing or decreasing (5 strict steps; a tie breaks the run);
    4. fourteen points in a row alternating up and down (13 alternating strict steps);
    5. two of three points in a row beyond 2 sigma, on the same side;
    6. four of five points in a row beyond 1 sigma, on the same side;
    7. fifteen points in a row within 1 sigma, either side (|z| <= 1: "within" is "not beyond");
    8. eight points in a row beyond 1 sigma, either side (none within 1 sigma).

    A row is True at the point that completes the pattern; for rules 5 and 6 that point must itself be
    beyond the zone, so one pattern is not reported twice.
    """
    _check_sigma(sigma)
    arr = as_values(x)
    z = (arr - center) / sigma
    rules = {
        "rule_1": np.abs(z) > 3,
        "rule_2": _same_side_runs(arr, center) >= 9,
        "rule_3": _trend_points(arr) >= 6,
        "rule_4": _alternating_points(arr) >= 14,
        "rule_5": _k_of_last_m(z > 2, 2, 3) | _k_of_last_m(z < -2, 2, 3),
        "rule_6": _k_of_last_m(z > 1, 4, 5) | _k_of_last_m(z < -1, 4, 5),
        "rule_7": _run_lengths(np.abs(z) <= 1) >= 15,
        "rule_8": _run_lengths(np.abs(z) > 1) >= 8,
    }
    return pd.DataFrame(rules, index=index_of(x, arr.size))


def beyond_three_sigma(x: Values, center: float, sigma: float) -> pd.DataFrame:
    """Shewhart's rule alone: ``rule_1`` = one point beyond 3 sigma (strict, as in :func:`nelson_rules`)."""
    _check_sigma(sigma)
    arr = as_values(x)
    return pd.DataFrame({"rule_1": np.abs((arr - center) / sigma) > 3}, index=index_of(x, arr.size))


def western_electric_rules(x: Values, center: float, sigma: float) -> pd.DataFrame:
    """The four Western Electric (1956) zone rules; boolean columns ``rule_1`` .. ``rule_4``.

    1. one point beyond 3 sigma;
    2. two of three points in a row beyond 2 sigma, same side;
    3. four of five points in a row beyond 1 sigma, same side;
    4. eight points in a row on the same side of the center line.

    Same conventions as :func:`nelson_rules` (strict "beyond", True at the completing point).
    """
    _check_sigma(sigma)
    arr = as_values(x)
    z = (arr - center) / sigma
    rules = {
        "rule_1": np.abs(z) > 3,
        "rule_2": _k_of_last_m(z > 2, 2, 3) | _k_of_last_m(z < -2, 2, 3),
        "rule_3": _k_of_last_m(z > 1, 4, 5) | _k_of_last_m(z < -1, 4, 5),
        "rule_4": _same_side_runs(arr, center) >= 8,
    }
    return pd.DataFrame(rules, index=index_of(x, arr.size))


@dataclass(frozen=True)
class FlagRates:
    """Shares of in-control points flagged (with their standard errors over the simulated series)."""

    known: float  # with the true limits
    estimated: float  # with limits from a cleaned Phase I baseline, over the points after it
    known_se: float
    estimated_se: float


def in_control_flag_rates(rules: Callable[[Values, float, float], pd.DataFrame], seed: int, n_series: int = 1000,
                          baseline: int = 20, length: int = 100, min_points: int = 2) -> FlagRates:
    """How often ``rules`` flag a point of a process that never changes (independent standard normal
    values), by seeded simulation: with the true limits, and after a cleaned ``baseline``-point Phase I
    over the monitoring points that follow it. The second is what a chart with estimated limits shows:
    limits from few points sit too close now and then, and every later point of that chart pays for it."""
    rng = np.random.default_rng(seed)
    known, estimated = np.empty(n_series), np.empty(n_series)
    for i in range(n_series):
        y = rng.standard_normal(length)
        known[i] = rules(y, 0.0, 1.0).any(axis=1).to_numpy().mean()
        limits = phase_one_limits(y, slice(0, baseline), min_points=min_points).limits
        estimated[i] = rules(y, limits.center, limits.sigma).any(axis=1).to_numpy()[baseline:].mean()
    return FlagRates(float(known.mean()), float(estimated.mean()), float(known.std(ddof=1) / np.sqrt(n_series)),
                     float(estimated.std(ddof=1) / np.sqrt(n_series)))
