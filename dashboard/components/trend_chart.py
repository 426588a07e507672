"""The sensor trend: rollup mean with its min-max envelope, alert/action limit lines and the
excursions as shaded, labelled spans. Data in, figure out (the points are already reduced)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.components.figures import FONT
from queries.analyses.monitoring import GRAIN_SECONDS, PARAMETER_LABELS, UNIT_LABELS

# Okabe-Ito; limit lines differ in dash pattern too, excursion spans carry their level as text.
MEAN_COLOUR = "#0072B2"
ENVELOPE_COLOUR = "rgba(0, 114, 178, 0.18)"
LIMIT_STYLE = {"alert": ("#E69F00", "dash"), "action": ("#D55E00", "solid")}
SPAN_COLOUR = {"alert": "rgba(230, 159, 0, 0.15)", "action": "rgba(213, 94, 0, 0.18)"}


def _local(series: pd.Series, tz: str) -> pd.Series:
    return pd.to_datetime(series).dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)


def _local_one(ts, tz: str):
    return pd.Timestamp(ts).tz_localize("UTC").tz_convert(tz).tz_localize(None)


def with_gaps(points: pd.DataFrame, grain: str) -> pd.DataFrame:
    """An empty row after every bucket whose successor is more than one bucket later: the line breaks
    where no reading arrived instead of joining points across the silence. Each row's own grain counts
    (``queries.analyses.monitoring.trend`` completes a minute window with hourly buckets before live data)."""
    if len(points) < 2:
        return points
    buckets = pd.to_datetime(points["bucket"])
    grains = points["grain"] if "grain" in points else pd.Series(grain, index=points.index)
    step = pd.to_timedelta(grains.map(GRAIN_SECONDS), unit="s")
    gap_after = (buckets.shift(-1) - buckets) > step
    if not gap_after.any():
        return points
    blanks = pd.DataFrame({"bucket": (buckets + step)[gap_after].to_numpy()}, index=points.index[gap_after] + 0.5)
    return pd.concat([points.set_axis(points.index.astype(float)), blanks]).sort_index().reset_index(drop=True)


def trend_figure(points: pd.DataFrame, grain: str, limits: dict, excursions: pd.DataFrame, tz: str,
                 title: str, since=None, until=None) -> go.Figure:
    unit = UNIT_LABELS.get(limits.get("unit", ""), limits.get("unit", ""))
    fig = go.Figure()
    if not points.empty:
        points = with_gaps(points.reset_index(drop=True), grain)
        x = _local(points["bucket"], tz)
        fig.add_trace(go.Scatter(x=x, y=points["value_max"], mode="lines", line=dict(width=0),
                                 showlegend=False, hoverinfo="skip", name="max"))
        fig.add_trace(go.Scatter(x=x, y=points["value_min"], mode="lines", line=dict(width=0), fill="tonexty",
                                 fillcolor=ENVELOPE_COLOUR, name="min-max per bucket", hoverinfo="skip"))
        fig.add_trace(go.Scatter(
            x=x, y=points["value_mean"], mode="lines", name=f"mean per {grain}", line=dict(color=MEAN_COLOUR, width=2),
            customdata=points[["value_min", "value_max", "n"]].to_numpy(),
            hovertemplate="%{x|%Y-%m-%d %H:%M}<br>mean %{y:.2f}<br>min %{customdata[0]:.2f} · "
                          "max %{customdata[1]:.2f}<br>n = %{customdata[2]}<extra></extra>"))
    else:
        fig.add_annotation(text="No readings in this window", showarrow=False, xref="paper", yref="paper",
                           x=0.5, y=0.5, font=dict(size=16))
    for level, (colour, dash) in LIMIT_STYLE.items():
        for side in ("high", "low"):
            bound = limits.get(f"{level}_{side}")
            if bound is None or bound != bound:
                continue
            fig.add_hline(y=bound, line_color=colour, line_dash=dash, line_width=2,
                          annotation_text=f"{level} {'>' if side == 'high' else '<'} {bound:g} {unit}",
                          annotation_position="top left" if side == "high" else "bottom left",
                          annotation_font_color="#333")
    for row in excursions.itertuples(index=False):
        end = row.ended_at if row.ended_at is not None and row.ended_at == row.ended_at else until
        fig.add_vrect(x0=_local_one(row.started_at, tz), x1=_local_one(end, tz), fillcolor=SPAN_COLOUR[row.level],
                      line_width=0, layer="below", annotation_text=f"{row.level} excursion",
                      annotation_position="top left", annotation_font_size=12)
    fig.update_layout(title=dict(text=title, x=0, xref="paper", font=dict(size=16)), height=380, font=FONT,
                      margin=dict(l=60, r=20, t=50, b=50), template="plotly_white",
                      legend=dict(orientation="h", y=-0.2), uirevision=title)
    # The axis always spans the limit lines: a trend is read against its limits.
    bounds = [b for b in (limits.get(f"{lv}_{sd}") for lv in LIMIT_STYLE for sd in ("high", "low"))
              if b is not None and b == b]
    if bounds:
        values = list(points["value_min"]) + list(points["value_max"]) if not points.empty else []
        low, high = min(bounds + values), max(bounds + values)
        pad = (high - low) * 0.08 or 1.0
        fig.update_yaxes(range=[low - pad, high + pad])
    if since is not None and until is not None:
        fig.update_xaxes(range=[_local_one(since, tz), _local_one(until, tz)])
    fig.update_xaxes(title=f"time ({tz})")
    fig.update_yaxes(title=f"{PARAMETER_LABELS.get(limits.get('parameter', ''), '')} ({unit})")
    return fig
