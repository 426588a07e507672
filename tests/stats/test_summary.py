"""Box statistics by hand (Tukey's fences over linearly interpolated quartiles)."""

from __future__ import annotations

import pytest

from queries.stats.summary import box_statistics


def test_box_of_one_to_ten_and_an_outlier():
    # 11 values: quartiles at positions 2.5, 5 and 7.5 (0-based) -> 3.5, 6, 8.5; IQR 5, fences at -4 and 16:
    # the whiskers reach 1 and 10, and 30 is the one outlier.
    box = box_statistics([30, *range(1, 11)])
    assert (box.q1, box.median, box.q3) == (3.5, 6.0, 8.5)
    assert (box.lower_fence, box.upper_fence) == (1.0, 10.0)
    assert box.outliers.tolist() == [30.0]


def test_a_single_value_is_its_own_box_and_no_values_are_refused():
    box = box_statistics([2.0])
    assert (box.q1, box.median, box.q3, box.lower_fence, box.upper_fence) == (2.0,) * 5
    assert box.outliers.size == 0
    with pytest.raises(ValueError, match="at least one value"):
        box_statistics([])
