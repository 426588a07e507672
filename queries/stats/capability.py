"""Process performance (Ppk, with its confidence interval) against specification limits, and binomial
funnel-plot limits."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

Values = Sequence[float] | np.ndarray | pd.Series


PPK_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Capability:
    """Performance indices from the overall (sample) standard deviation; None where undefined."""

    n: int
    mean: float
    sd: float  # sample sd, ddof = 1, of all values
    ppu: float | None  # (usl - mean) / 3 sd
    ppl: float | None  # (mean - lsl) / 3 sd
    ppk: float | None  # min of the available one-sided indices
    pp: float | None  # (usl - lsl) / 6 sd, two-sided specifications only
    ppk_low: float | None  # two-sided PPK_CONFIDENCE interval on ppk (Bissell 1990)
    ppk_high: float | None


def capability(x: Values, lsl: float | None = None, usl: float | None = None,
               confidence: float = PPK_CONFIDENCE) -> Capability:
    """Performance of ``x`` against specification limits (one-sided when one limit is None).

    sigma is the *overall* sample standard deviation (ddof = 1) of every value, so in AIAG terms this
    is Ppk (performance), not the within-subgroup Cpk, which would use MRbar/1.128 or Rbar/d2; it is
    labelled Ppk wherever it is shown. For batch-level CQAs of autologous products, where each batch is
    its own subgroup and between-batch variation is exactly what matters, the overall sd is the honest
    choice; it is also never smaller than the short-term sigma, so the index errs on the side of caution.

    The interval is Bissell's normal approximation (Bissell 1990, Applied Statistics 39:331-340;
    Montgomery, Introduction to Statistical Quality Control, section 8.3.5):
    ``Ppk +/- z * sqrt(1 / (9 n) + Ppk^2 / (2 (n - 1)))``. From 10 batches a point estimate of 1.33 has
    the 95 % interval 0.68 to 1.98: it says little, and the page shows the interval beside it.

    ``lsl``/``usl`` are the product specification, never limits computed from the data. NaN values
    are dropped. With fewer than 2 values or no spread the indices are None: undefined, not infinite.
    """
    if lsl is None and usl is None:
        raise ValueError("give at least one specification limit (lsl or usl)")
    if lsl is not None and usl is not None and not lsl < usl:
        raise ValueError(f"lsl must be below usl, got lsl={lsl!r}, usl={usl!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    arr = np.asarray(x, dtype=float).ravel()
    arr = arr[~np.isnan(arr)]
    n = int(arr.size)
    mean = float(np.mean(arr)) if n else math.nan
    sd = float(np.std(arr, ddof=1)) if n >= 2 else math.nan
    if not sd > 0:  # n < 2 (NaN) or constant values
        return Capability(n, mean, sd, None, None, None, None, None, None)
    ppu = (usl - mean) / (3 * sd) if usl is not None else None
    ppl = (mean - lsl) / (3 * sd) if lsl is not None else None
    pp = (usl - lsl) / (6 * sd) if usl is not None and lsl is not None else None
    ppk = min(v for v in (ppu, ppl) if v is not None)
    half = NormalDist().inv_cdf(0.5 + confidence / 2) * math.sqrt(1 / (9 * n) + ppk**2 / (2 * (n - 1)))
    return Capability(n, mean, sd, ppu, ppl, ppk, pp, ppk - half, ppk + half)


def ppk(x: Values, lsl: float | None = None, usl: float | None = None) -> float | None:
    """Performance index ``min((usl - mean), (mean - lsl)) / 3 sd`` with the overall sample sd.

    One-sided when one limit is None. See :func:`capability` for the choice of sigma and the None cases.
    """
    return capability(x, lsl=lsl, usl=usl).ppk


