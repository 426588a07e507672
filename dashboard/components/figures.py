"""Plotly figures of the pages: data in, figure out (no queries here)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

# Okabe-Ito colours plus distinct marker symbols, so severity never depends on colour alone.
SEVERITY_STYLE = {
    "minor": ("#0072B2", "circle"),
    "major": ("#E69F00", "diamond"),
    "critical": ("#D55E00", "x"),
}
FONT = dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=14)


def _base(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, xref="paper", font=dict(size=16)), height=height, font=FONT,
                      margin=dict(l=60, r=20, t=50, b=50), template="plotly_white",
                      legend=dict(orientation="h", y=-0.2))
    return fig


def deviation_timeline(devs: pd.DataFrame, timezone: str, programmes: pd.DataFrame | None = None) -> go.Figure:
    """Deviations by detection time (site local) and 6M category; marker = severity."""
    fig = go.Figure()
    local = devs.assign(detected_local=pd.to_datetime(devs["detected_at"]).dt.tz_localize("UTC")
                        .dt.tz_convert(timezone).dt.tz_localize(None))
    for severity, (colour, symbol) in SEVERITY_STYLE.items():
        part = local[local["severity"] == severity]
        fig.add_trace(go.Scatter(
            x=part["detected_local"], y=part["category"], mode="markers", name=severity,
            marker=dict(color=colour, symbol=symbol, size=11, line=dict(width=1, color="#222")),
            customdata=part[["deviation_id", "root_cause_code"]].to_numpy(),
            hovertemplate="%{customdata[0]}<br>%{x|%Y-%m-%d %H:%M}<br>%{y} · %{customdata[1]}<extra>"
                          + severity + "</extra>",
        ))
    for row in (programmes.itertuples() if programmes is not None else []):
        start = pd.Timestamp(row.started_at).tz_localize("UTC").tz_convert(timezone).tz_localize(None)
        fig.add_vline(x=start, line_dash="dash", line_color="#009E73")
        fig.add_annotation(x=start, y=1.02, yref="paper", text=f"{row.kind} starts", showarrow=False,
                           font=dict(color="#006B50"))
    fig.update_yaxes(categoryorder="array", categoryarray=[
        "people", "method", "machine", "material", "environment", "measurement"])
    fig.update_xaxes(title=f"detected ({timezone})")
    return _base(fig, "Deviation timeline")


def survey_waves(waves: pd.DataFrame, target: float | None) -> go.Figure:
    """Psychological safety index per survey wave; suppressed waves are gaps, labelled as such."""
    fig = go.Figure()
    suppressed = waves["suppressed"].astype(bool)
    shown = waves[~suppressed]
    fig.add_trace(go.Scatter(x=shown["wave"], y=shown["index_0_100"], mode="lines+markers+text",
                             text=[f"{v:.0f}" for v in shown["index_0_100"]], textposition="top center",
                             name="index (0-100)", line=dict(color="#0072B2", width=3),
                             marker=dict(size=10), hovertemplate="%{x}: %{y:.0f}<extra></extra>"))
    hidden = waves[suppressed]
    if not hidden.empty:
        fig.add_trace(go.Scatter(x=hidden["wave"], y=[2] * len(hidden), mode="markers+text",
                                 text=["suppressed"] * len(hidden), textposition="top center",
                                 marker=dict(symbol="line-ew-open", size=14, color="#777"),
                                 name="suppressed (< 5 respondents)", hoverinfo="skip"))
    if target is not None:  # named in the legend, not on the line, where it met the wave labels
        fig.add_hline(y=target, line_dash="dot", line_color="#444444")
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"target {target:.0f}",
                                 line=dict(dash="dot", color="#444444"), hoverinfo="skip"))
    fig.update_yaxes(range=[0, 105], title="index (0-100)")
    fig.update_xaxes(type="category", title="survey wave")
    return _base(fig, "Psychological safety by survey wave", height=320)
