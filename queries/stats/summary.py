"""Summaries of a distribution drawn without sending every value."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BoxStatistics:
    q1: float
    median: float
    q3: float
    lower_fence: float  # the smallest value within 1.5 IQR below the box
    upper_fence: float  # the largest value within 1.5 IQR above it
    outliers: np.ndarray  # the values beyond the fences, in ascending order


def box_statistics(values: np.ndarray) -> BoxStatistics:
    """Tukey's box plot (Tukey 1977, Exploratory Data Analysis): quartiles by linear interpolation between
    order statistics, whiskers to the furthest values within 1.5 IQR of the box, the rest as outliers."""
    v = np.sort(np.asarray(values, dtype=float))
    if not len(v):
        raise ValueError("a box needs at least one value")
    q1, median, q3 = np.percentile(v, [25, 50, 75])
    reach = 1.5 * (q3 - q1)
    inside = v[(v >= q1 - reach) & (v <= q3 + reach)]
    lower, upper = (inside.min(), inside.max()) if len(inside) else (q1, q3)
    return BoxStatistics(float(q1), float(median), float(q3), float(lower), float(upper),
                         v[(v < lower) | (v > upper)])
