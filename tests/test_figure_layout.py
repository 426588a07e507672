"""Chart layouts that collided in screenshots (issue 28): labels on labels, panels touching, an axis read
past its scale's end, titles flush against an exported image's edge. Figures built from small frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.components import figures, kpi_chart, stats_figures
from queries.kpi import catalog
from queries.kpi.catalog import NETWORK


def _imr_chart() -> pd.DataFrame:
    n = 30
    values = 85 + np.sin(np.arange(n))
    return pd.DataFrame({
        "batch_id": [f"B{i}" for i in range(n)], "process_version": "v1",
        "started_at": pd.date_range("2026-01-01", periods=n, freq="3D"), "value": values, "y": values,
        "mr": np.r_[np.nan, np.abs(np.diff(values))], "phase": ["baseline"] * 20 + ["monitoring"] * 10,
        "set_aside": [False] * n, "scale": "linear", "center": 85.0, "ucl": 88.0, "lcl": 82.0, "mr_ucl": 3.7,
        "sigma": 1.0, "rules": "", "flagged": [False] * n})


def test_imr_panels_have_a_clear_gap():
    fig = stats_figures.imr_figure(_imr_chart(), "title", {"lower_limit": 70.0, "upper_limit": None})
    top, bottom = fig.layout.yaxis.domain, fig.layout.yaxis2.domain
    assert top[0] - bottom[1] >= 0.12  # was 0.07: LCL, LSL and the MR UCL read as one band
    assert "UCL" in fig.layout.yaxis2.title.text
    low, high = fig.layout.yaxis.range  # the LSL (70) and the limits inside the panel, not on its edge
    assert low < 70 - 1 and high > 88 + 1


def test_funnel_labels_of_close_points_go_to_different_sides():
    x = np.array([10.0, 10.2, 10.4, 40.0, 80.0])
    y = np.array([0.30, 0.31, 0.305, 0.20, 0.50])
    sides = stats_figures.label_positions(x, y)
    assert len(set(sides[:3])) == 3  # three sites on top of one another: three sides
    assert sides[3] == sides[4] == "top center"  # points on their own keep the default


def test_a_bounded_scale_is_not_read_past_its_end():
    kpi = catalog.get("consistency")
    frame = pd.DataFrame({"kpi_id": "consistency", "site_id": [NETWORK, "A"], "value": [96.0, 100.0],
                          "suppressed": False})
    fig = kpi_chart.kpi_by_site(frame, pd.DataFrame({"site_id": ["A"], "name": ["A"]}), [kpi])
    assert max(fig.layout.xaxis.tickvals) == 100  # the bars' labels get room; the axis still ends at 100
    assert fig.layout.xaxis.range[1] > 100


def test_the_survey_target_is_named_in_the_legend_not_on_the_line():
    waves = pd.DataFrame({"wave": ["2025-Q4", "2026-Q1"], "index_0_100": [70.0, 71.0], "suppressed": [False, False]})
    fig = figures.survey_waves(waves, 70.0)
    assert not [a for a in fig.layout.annotations if "target" in (a.text or "")]
    assert "target 70" in [t.name for t in fig.data]


def test_titles_start_at_the_plot_not_at_the_image_edge():
    waves = pd.DataFrame({"wave": ["2026-Q1"], "index_0_100": [70.0], "suppressed": [False]})
    built = [stats_figures.imr_figure(_imr_chart(), "title"), figures.survey_waves(waves, None),
             stats_figures.empty("nothing")]
    for fig in built:
        assert fig.layout.title.xref == "paper", fig.layout.title
