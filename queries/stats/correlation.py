"""Spearman rank correlation with a Fisher-z confidence interval and its n (pure; no database, no Dash)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spearman:
    rho: float  # NaN when undefined (n < 3 or a constant variable)
    low: float  # confidence interval; NaN when n < 4 (Fisher z needs n - 3 > 0)
    high: float
    n: int  # pairs with both values present
    p_value: float
    confidence: float

    def text(self) -> str:
        if math.isnan(self.rho):
            return f"not computable (n = {self.n})"
        if math.isnan(self.low):
            return f"ρ = {self.rho:+.2f} (n = {self.n}; too few pairs for an interval)"
        return (f"ρ = {self.rho:+.2f} ({self.confidence:.0%} CI {self.low:+.2f} to {self.high:+.2f}; "
                f"n = {self.n})")


def spearman(x, y, *, confidence: float = 0.95) -> Spearman:
    """Spearman's rho of paired values (pairs with a missing value are dropped; ties get mean ranks).

    The interval is Fisher's: z = atanh(rho), z ± z_(1-α/2) / sqrt(n - 3), back through tanh. That
    standard error is the one for Pearson's r; for rho it is slightly narrow when |rho| is large
    (Bonett & Wright 2000 widen it by sqrt(1 + rho²/2)); the page says which interval it shows."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.shape != ys.shape:
        raise ValueError(f"x and y differ in length ({xs.size} and {ys.size})")
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    n = int(xs.size)
    nan = float("nan")
    if n < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return Spearman(nan, nan, nan, n, nan, confidence)
    result = stats.spearmanr(xs, ys)
    rho, p_value = float(result.statistic), float(result.pvalue)
    low, high = fisher_interval(rho, n, confidence)
    return Spearman(rho, low, high, n, p_value, confidence)


def fisher_interval(r: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Confidence interval of a correlation by Fisher's z transformation; (NaN, NaN) when n < 4."""
    if n < 4 or not math.isfinite(r):
        return float("nan"), float("nan")
    if abs(r) >= 1.0:
        return r, r
    z = math.atanh(r)
    half = stats.norm.ppf(0.5 + confidence / 2) / math.sqrt(n - 3)
    return math.tanh(z - half), math.tanh(z + half)
