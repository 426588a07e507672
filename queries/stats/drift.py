"""Small-shift drift detection: EWMA and tabular CUSUM charts."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from queries.stats.spc import Values, as_values, index_of

logger = logging.getLogger(__name__)


def _check_positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def ewma_asymptotic_limits(
    target: float, sigma: float, lam: float = 0.2, L: float = 3.0
) -> tuple[float, float]:
    """Steady-state EWMA limits ``target -/+ L * sigma * sqrt(lam / (2 - lam))`` as ``(lcl, ucl)``."""
    _check_positive("sigma", sigma)
    if not 0 < lam <= 1:
        raise ValueError(f"lam must be in (0, 1], got {lam!r}")
    half = L * sigma * math.sqrt(lam / (2 - lam))
    return target - half, target + half


def ewma_chart(x: Values, target: float, sigma: float, lam: float = 0.2, L: float = 3.0) -> pd.DataFrame:
    """EWMA control chart for individual values (Roberts 1959; Montgomery, *Introduction to SQC*, ch. 9).

    ``z_i = lam * x_i + (1 - lam) * z_(i-1)`` with ``z_0 = target``. The limits are the exact,
    time-varying ones, ``target +/- L * sigma * sqrt(lam / (2 - lam) * (1 - (1 - lam)**(2 i)))``, which
    are narrower for the first points and converge to :func:`ewma_asymptotic_limits`. ``signal`` is
    True where z is strictly outside its limits.

    ``target`` and ``sigma`` must come from a stated in-control baseline (or a target and a known
    sigma), never from the data being monitored. Textbook designs (Montgomery, ch. 9, from Lucas and
    Saccucci 1990): ``lam = 0.2, L = 3`` (the default here) or ``lam = 0.1, L = 2.7``, each with an
    in-control ARL of roughly 500; ``lam`` between 0.05 and 0.25 works well in practice. Smaller
    ``lam`` reacts to smaller shifts and more slowly to large ones.

    Returns a frame indexed like ``x`` (positions 0..n-1 for arrays) with columns
    ``z, ucl, lcl, signal``.
    """
    lcl_inf, ucl_inf = ewma_asymptotic_limits(target, sigma, lam, L)  # validates sigma and lam
    arr = as_values(x)
    logger.debug("EWMA lam=%s L=%s asymptotic limits %.6g / %.6g", lam, L, lcl_inf, ucl_inf)
    return pd.DataFrame(ewma_arrays(arr, target, sigma, lam, L), index=index_of(x, arr.size))


def ewma_arrays(arr: np.ndarray, target: float, sigma: float, lam: float, L: float) -> dict[str, np.ndarray]:
    """:func:`ewma_chart`'s columns as arrays (no checks): for callers that chart many series."""
    z = np.empty(arr.shape)
    previous = float(target)
    for i, value in enumerate(arr.tolist()):
        previous = lam * value + (1 - lam) * previous
        z[i] = previous
    periods = np.arange(1, arr.size + 1)
    half = L * sigma * np.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * periods)))
    ucl, lcl = target + half, target - half
    return {"z": z, "ucl": ucl, "lcl": lcl, "signal": (z > ucl) | (z < lcl)}


def cusum_tabular(x: Values, target: float, sigma: float, k: float = 0.5, h: float = 5.0) -> pd.DataFrame:
    """Two-sided tabular (algorithmic) CUSUM (Page 1954; Montgomery, *Introduction to SQC*, ch. 9).

    With ``K = k * sigma`` (reference value) and ``H = h * sigma`` (decision interval)::

        C+_i = max(0, x_i - (target + K) + C+_(i-1))
        C-_i = max(0, (target - K) - x_i + C-_(i-1)),   C+_0 = C-_0 = 0

    and a signal where ``C+`` or ``C-`` exceeds ``H`` (strictly). ``k`` and ``h`` are in sigma units;
    pass ``sigma=1`` to give them in measurement units. Montgomery's recommended design: ``k = 0.5``
    (tuned to a 1-sigma shift) with ``h = 4`` or ``h = 5`` (in-control ARL about 168 and 465).
    The sums are not reset after a signal (they keep the size of the excursion visible).

    ``n_plus``/``n_minus`` count consecutive periods with a non-zero ``C+``/``C-``: at a signal, the
    shift most likely began after period ``i - n_plus`` and the new mean is about
    ``target + K + C+_i / n_plus`` (Montgomery, ch. 9).

    Returns a frame indexed like ``x`` with columns
    ``c_plus, c_minus, signal_upper, signal_lower, n_plus, n_minus``.
    """
    _check_positive("sigma", sigma)
    if k < 0 or not h > 0:
        raise ValueError(f"need k >= 0 and h > 0, got k={k!r}, h={h!r}")
    arr = as_values(x)
    return pd.DataFrame(cusum_arrays(arr, target, sigma, k, h), index=index_of(x, arr.size))


def cusum_arrays(arr: np.ndarray, target: float, sigma: float, k: float, h: float) -> dict[str, np.ndarray]:
    """:func:`cusum_tabular`'s columns as arrays (no checks): for callers that chart many series."""
    big_k, big_h = k * sigma, h * sigma
    c_plus, c_minus = np.zeros(arr.shape), np.zeros(arr.shape)
    n_plus, n_minus = np.zeros(arr.shape, dtype=int), np.zeros(arr.shape, dtype=int)
    up = down = 0.0
    run_up = run_down = 0
    for i, value in enumerate(arr.tolist()):
        up = max(0.0, value - (target + big_k) + up)
        down = max(0.0, (target - big_k) - value + down)
        run_up = run_up + 1 if up > 0 else 0
        run_down = run_down + 1 if down > 0 else 0
        c_plus[i], c_minus[i], n_plus[i], n_minus[i] = up, down, run_up, run_down
    return {"c_plus": c_plus, "c_minus": c_minus, "signal_upper": c_plus > big_h, "signal_lower": c_minus > big_h,
            "n_plus": n_plus, "n_minus": n_minus}


