"""Figures of the signals and comparability pages: frames in, plotly figures out (no queries here).

Okabe-Ito colours, and every status also carried by a marker symbol or a line dash, never colour alone.
Traces are capped at MAX_POINTS points (the frames are daily or per batch, so this is a guard).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.components.figures import FONT
from queries.stats.summary import box_statistics

BLUE, ORANGE, VERMILLION, GREEN, SKY, PURPLE, GREY = ("#0072B2", "#E69F00", "#D55E00", "#009E73", "#56B4E9",
                                                       "#CC79A7", "#6b6b6b")
MAX_POINTS = 3000
REFERENCE_NAME = "reference"


def _cap(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[-MAX_POINTS:] if len(frame) > MAX_POINTS else frame


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, xref="paper", y=0.99, yanchor="top", font=dict(size=16)), height=height,
                      font=FONT, margin=dict(l=70, r=30, t=84, b=40), template="plotly_white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=1, xanchor="right", font=dict(size=12)),
                      hovermode="closest")
    return fig


def empty(message: str, height: int = 220) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=15, color=GREY))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, "", height)


def imr_figure(chart: pd.DataFrame, title: str, spec: dict | None = None) -> go.Figure:
    """Individuals chart (top) and moving-range chart (bottom); flagged points as red crosses."""
    if chart.empty:
        return empty("No batches with this CQA in the window")
    chart = _cap(chart)
    log_scale = bool((chart["scale"] == "log").any())
    # A clear gap between the panels: the I chart's lowest line (LCL or LSL) and the MR chart's UCL were
    # read as one band at 0.07.
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.66, 0.34], vertical_spacing=0.14)
    x = pd.to_datetime(chart["started_at"])
    fig.add_trace(go.Scatter(x=x, y=chart["value"], mode="lines", line=dict(color=SKY, width=1), showlegend=False,
                             hoverinfo="skip"), row=1, col=1)
    set_aside = chart["set_aside"].astype(bool)
    for part, name, symbol in ((chart[(chart["phase"] == "baseline") & ~set_aside], "Phase I baseline batch", "circle-open"),
                               (chart[set_aside], "baseline batch set aside (beyond trial limits)", "diamond-open"),
                               (chart[chart["phase"] == "monitoring"], "batch result", "circle")):
        if part.empty:
            continue
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(part["started_at"]), y=part["value"], mode="markers", name=name,
            marker=dict(color=BLUE, size=8, symbol=symbol, line=dict(width=1.5, color=BLUE)),
            customdata=part[["batch_id", "process_version"]].to_numpy(),
            hovertemplate="%{customdata[0]} (%{customdata[1]})<br>%{x|%Y-%m-%d}: %{y:.3g}<extra>" + name + "</extra>"),
            row=1, col=1)
    for name, column, dash, colour in (("centre", "center", "solid", GREEN), ("UCL / LCL", "ucl", "dash", VERMILLION),
                                       (None, "lcl", "dash", VERMILLION)):
        fig.add_trace(go.Scatter(x=x, y=chart[column], mode="lines", name=name, showlegend=name is not None,
                                 legendgroup=column if name else "ucl", line=dict(color=colour, dash=dash, width=2,
                                                                                  shape="hv"),
                                 hoverinfo="skip"), row=1, col=1)
    flagged = chart[chart["flagged"]]
    if len(flagged):
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(flagged["started_at"]), y=flagged["value"], mode="markers", name="rule violated",
            marker=dict(symbol="x", size=13, color=VERMILLION, line=dict(width=2, color="#7a2900")),
            customdata=flagged[["batch_id", "rules"]].to_numpy(),
            hovertemplate="%{customdata[0]}<br>%{customdata[1]}<extra>rule violated</extra>"), row=1, col=1)
    for label, key in (("LSL", "lower_limit"), ("USL", "upper_limit")):
        limit = (spec or {}).get(key)
        if limit is not None and not (isinstance(limit, float) and math.isnan(limit)):
            fig.add_hline(y=limit, line=dict(color=GREY, dash="dot", width=2), row=1, col=1,
                          annotation_text=f"spec {label} {limit:g}", annotation_position="top left",
                          annotation_font=dict(color="#333"))
    fig.add_trace(go.Scatter(x=x, y=chart["mr"], mode="lines+markers", name="moving range", showlegend=False,
                             line=dict(color=GREY, width=1), marker=dict(size=5, color=GREY),
                             hovertemplate="MR %{y:.3g}<extra></extra>"), row=2, col=1)
    fig.add_trace(go.Scatter(x=x, y=chart["mr_ucl"], mode="lines", showlegend=False, hoverinfo="skip",
                             line=dict(color=VERMILLION, dash="dash", shape="hv")), row=2, col=1)
    fig.update_yaxes(title_text="result (log axis)" if log_scale else "result", type="log" if log_scale else "linear",
                     row=1, col=1)
    if not log_scale:  # every line of the I chart inside its panel with a margin, none on the panel's edge
        lines = [chart["value"], chart["ucl"], chart["lcl"]] + [
            pd.Series([v]) for v in ((spec or {}).get("lower_limit"), (spec or {}).get("upper_limit"))
            if v is not None and not (isinstance(v, float) and math.isnan(v))]
        values = pd.concat(lines).dropna()
        lo, hi = float(values.min()), float(values.max())
        pad = 0.08 * (hi - lo or abs(hi) or 1.0)
        fig.update_yaxes(range=[lo - pad, hi + pad], row=1, col=1)
    fig.update_yaxes(title_text="MR of ln(x), dashed: UCL" if log_scale else "moving range, dashed: UCL", row=2, col=1)
    fig.update_xaxes(title_text="batch start", row=2, col=1)
    return _layout(fig, title, 520)


def drift_figure(chart, excursions: pd.DataFrame, title: str, unit: str, adjusted: bool, h: float) -> go.Figure:
    """Adjusted daily mean with its EWMA and limits (top), tabular CUSUM (bottom), excursions as lines."""
    if chart is None:
        return empty("No baseline for this sensor (fewer than 20 days of data before the window)")
    frame = _cap(chart.frame)
    x = frame.index
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38], vertical_spacing=0.08)
    label = "daily mean, site-adjusted" if adjusted else "daily mean"
    fig.add_trace(go.Scatter(x=x, y=frame["value"], mode="markers", name=label,
                             marker=dict(color=SKY, size=5), hovertemplate="%{x|%Y-%m-%d}: %{y:.3f}<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=frame["z"], mode="lines", name="EWMA", line=dict(color=BLUE, width=3),
                             hovertemplate="EWMA %{y:.3f}<extra></extra>"), row=1, col=1)
    for column, name in (("ucl", "EWMA limits"), ("lcl", None)):
        fig.add_trace(go.Scatter(x=x, y=frame[column], mode="lines", name=name, showlegend=name is not None,
                                 line=dict(color=VERMILLION, dash="dash", width=2), hoverinfo="skip"), row=1, col=1)
    fig.add_hline(y=chart.target, line=dict(color=GREEN, width=1.5), row=1, col=1)
    warn = frame[frame["warning"]]
    if len(warn):
        fig.add_trace(go.Scatter(x=warn.index, y=warn["z"], mode="markers", name="warning (3 days beyond)",
                                 marker=dict(symbol="triangle-up", size=10, color=ORANGE,
                                             line=dict(width=1, color="#6b4a00")),
                                 hovertemplate="warning %{x|%Y-%m-%d}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=frame["c_plus"], mode="lines", name="CUSUM C+", line=dict(color=PURPLE, width=2),
                             hovertemplate="C+ %{y:.2f}<extra></extra>"), row=2, col=1)
    fig.add_trace(go.Scatter(x=x, y=frame["c_minus"], mode="lines", name="CUSUM C−",
                             line=dict(color=GREEN, width=2, dash="dot"), hovertemplate="C− %{y:.2f}<extra></extra>"),
                  row=2, col=1)
    fig.add_hline(y=h * chart.sigma, line=dict(color=VERMILLION, dash="dash"), row=2, col=1,
                  annotation_text=f"H = {h:g} σ", annotation_position="top left")
    for name, colour, dash in (("action excursion", VERMILLION, "solid"), ("alert excursion", ORANGE, "dot")):
        if excursions is not None and (excursions["level"] == name.split()[0]).any():
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=name,
                                     line=dict(color=colour, dash=dash, width=2)), row=1, col=1)
    for exc in (excursions.itertuples(index=False) if excursions is not None else []):
        action = exc.level == "action"
        fig.add_vline(x=pd.Timestamp(exc.started_at), line=dict(color=VERMILLION if action else ORANGE,
                                                                dash="solid" if action else "dot", width=2 if action else 1))
    if excursions is not None and len(excursions):
        first_action = excursions[excursions["level"] == "action"]["started_at"].min()
        if pd.notna(first_action):
            fig.add_annotation(x=pd.Timestamp(first_action), y=1, yref="paper", text="action excursion",
                               showarrow=False, xanchor="left", font=dict(color="#8a2a00", size=13),
                               bgcolor="rgba(255,255,255,0.8)")
    fig.update_yaxes(title_text=unit, row=1, col=1)
    fig.update_yaxes(title_text=f"CUSUM ({unit})", row=2, col=1)
    return _layout(fig, title, 520)


def risk_figure(ranking: pd.DataFrame, median: float | None) -> go.Figure:
    if ranking.empty or ranking["risk"].isna().all():
        return empty("No risk scores (the model needs both outcomes in its training months)")
    frame = ranking.sort_values("risk")
    symbols = np.where(frame["tier"] == "enhanced", "▲ enhanced", "● routine")
    fig = go.Figure(go.Bar(
        x=frame["risk"] * 100, y=frame["site_id"], orientation="h",
        marker=dict(color=np.where(frame["tier"] == "enhanced", VERMILLION, BLUE),
                    pattern=dict(shape=np.where(frame["tier"] == "enhanced", "/", ""))),
        text=[f"{r * 100:.0f} % · {s}" for r, s in zip(frame["risk"], symbols, strict=True)], textposition="outside",
        hovertemplate="%{y}: %{x:.0f} %<extra></extra>", name="risk"))
    if median is not None:
        fig.add_vline(x=median * 100, line=dict(color=GREY, dash="dash"), annotation_text="network median",
                      annotation_position="top")
    fig.update_xaxes(title_text="risk of a major deviation or action excursion in 30 days (%)", range=[0, 115])
    return _layout(fig, "Risk ranking", max(260, 60 + 38 * len(frame)))


def calibration_figure(cal: pd.DataFrame) -> go.Figure:
    """Reliability of the backtest: mean predicted risk against the observed share with an event per
    group of site-months (95 % Wilson interval); a calibrated model lies on the diagonal."""
    if cal.empty:
        return empty("No backtest predictions yet")
    fig = go.Figure([
        go.Scatter(x=[0, 100], y=[0, 100], mode="lines", line=dict(color=GREY, dash="dash"),
                   name="perfect calibration", hoverinfo="skip"),
        go.Scatter(x=cal["mean_risk"] * 100, y=cal["observed"] * 100, mode="markers+lines",
                   marker=dict(color=BLUE, size=10), line=dict(color=BLUE),
                   error_y=dict(type="data", symmetric=False, array=(cal["high"] - cal["observed"]) * 100,
                                arrayminus=(cal["observed"] - cal["low"]) * 100, color=BLUE),
                   text=[f"{n} site-months" for n in cal["n"]],
                   hovertemplate="predicted %{x:.0f} %, observed %{y:.0f} % (%{text})<extra></extra>",
                   name="backtest"),
    ])
    fig.update_xaxes(title_text="mean predicted risk (%)", range=[0, 100])
    fig.update_yaxes(title_text="site-months with an event (%)", range=[0, 100])
    return _layout(fig, "Calibration of the backtest", 320)


def _box(values: pd.Series) -> dict:
    """One box drawn from its statistics (queries/stats/summary.py) with at most MAX_POINTS outliers: the same
    picture as sending every batch value, in a few numbers (at 21 sites the comparability page shrank by ~150 KB)."""
    box = box_statistics(values.to_numpy(dtype=float))
    drawn = {"q1": [box.q1], "median": [box.median], "q3": [box.q3], "lowerfence": [box.lower_fence],
             "upperfence": [box.upper_fence]}
    # Outliers only where there are some: plotly.js draws no box at all for an empty sample list (a site
    # whose batches all lie within the whiskers vanished from the page).
    return {**drawn, "y": [box.outliers[-MAX_POINTS:].tolist()]} if box.outliers.size else drawn


def box_figure(distributions: pd.DataFrame, cqas: list[str], labels: dict[str, str], reference_label: str,
               specs: pd.DataFrame, site_order: list[str]) -> go.Figure:
    """One box per site and the pooled reference for each CQA (2 x 3 grid); spec limits dotted."""
    if distributions.empty:
        return empty("No batches in this window")
    rows, cols = 2, math.ceil(len(cqas) / 2)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[labels.get(c, c) for c in cqas],
                        horizontal_spacing=0.06, vertical_spacing=0.16)
    order = [*site_order, REFERENCE_NAME]
    reference_short = reference_label.split(" (")[0]  # 'Network' or 'Other sites': fits under a box
    # Traces and limit lines collected, then added at once: one add_trace per box took most of the time.
    traces, trace_rows, trace_cols = [], [], []
    by_cqa = dict(tuple(distributions.groupby("cqa", sort=False)))
    for i, cqa in enumerate(cqas):
        r, c = i // cols + 1, i % cols + 1
        part = by_cqa.get(cqa)
        by_site = dict(tuple(part.groupby("site_id", sort=False))) if part is not None else {}
        for site in order:
            if site not in by_site:
                continue
            is_ref = site == REFERENCE_NAME
            label = reference_short if is_ref else site
            traces.append(go.Box(**_box(by_site[site]["value"]), x=[label], name=label,
                                 marker=dict(color=ORANGE if is_ref else BLUE), boxpoints="outliers",
                                 line=dict(width=2 if is_ref else 1.5), fillcolor="rgba(230,159,0,0.35)" if is_ref
                                 else "rgba(0,114,178,0.2)", showlegend=False))
            trace_rows.append(r)
            trace_cols.append(c)
    if traces:
        fig.add_traces(traces, rows=trace_rows, cols=trace_cols)
    # Specification limits: a dotted line across each subplot (what add_hline draws, written directly:
    # add_hline per line re-laid the whole figure each time). Subplot i's axes are x<i+1>/y<i+1>.
    shapes = []
    for i, cqa in enumerate(cqas):
        spec = specs[specs["cqa"] == cqa]
        axis = "" if i == 0 else str(i + 1)
        for key in ("lower_limit", "upper_limit"):
            value = spec[key].iloc[0] if len(spec) else None
            if value is not None and pd.notna(value):
                shapes.append(dict(type="line", x0=0, x1=1, xref=f"x{axis} domain", y0=float(value),
                                   y1=float(value), yref=f"y{axis}",
                                   line=dict(color=VERMILLION, dash="dot", width=2)))
    fig.update_layout(shapes=shapes)
    fig.update_xaxes(tickangle=-35, tickfont=dict(size=11))
    fig.update_annotations(font=dict(size=14))
    return _layout(fig, f"Distributions per site against the {reference_label.lower()} "
                        "(orange; red dotted = specification)", 640)


LABEL_SIDES = ("top center", "bottom center", "middle right", "middle left")


def label_positions(x: np.ndarray, y: np.ndarray, near: float = 0.1) -> list[str]:
    """A text position per point such that points closer than ``near`` of both axes' spans (their labels
    would overlap) put their labels on different sides: above, below, right, left, in turn."""
    span_x = float(np.ptp(x)) or 1.0
    span_y = float(np.ptp(y)) or 1.0
    sides = [""] * len(x)
    for i in np.argsort(x, kind="stable"):
        taken = {sides[j] for j in range(len(x)) if sides[j] and abs(x[j] - x[i]) < near * span_x
                 and abs(y[j] - y[i]) < near * span_y}
        sides[i] = next((side for side in LABEL_SIDES if side not in taken), LABEL_SIDES[0])
    return sides


def funnel_figure(funnel: pd.DataFrame, curve: pd.DataFrame, rate: float | None) -> go.Figure:
    """Deviations per batch against batches, with exact Poisson 95 % and 99.8 % limits."""
    if funnel.empty or rate is None:
        return empty("No batches in this window")
    fig = go.Figure()
    for column, name, dash in (("upper_99.8", "99.8 % limits", "dash"), ("lower_99.8", None, "dash"),
                               ("upper_95", "95 % limits", "dot"), ("lower_95", None, "dot")):
        fig.add_trace(go.Scatter(x=curve["n"], y=curve[column], mode="lines", name=name, showlegend=name is not None,
                                 line=dict(color=VERMILLION if "99.8" in column else ORANGE, dash=dash, width=2),
                                 hoverinfo="skip"))
    fig.add_hline(y=rate, line=dict(color=GREEN, width=2), annotation_text=f"network {rate:.2f} per batch",
                  annotation_position="bottom right")
    outside = funnel["position"].str.startswith(("above", "below"))
    fig.add_trace(go.Scatter(
        x=funnel["batches"], y=funnel["rate"], mode="markers+text", text=funnel["site_id"],
        textposition=label_positions(funnel["batches"].to_numpy(float), funnel["rate"].to_numpy(float)),
        marker=dict(size=13, color=np.where(outside, VERMILLION, BLUE), symbol=np.where(outside, "diamond", "circle"),
                    line=dict(width=1, color="#222")),
        customdata=funnel[["deviations", "position"]].to_numpy(), name="site",
        hovertemplate="%{text}: %{y:.2f} per batch (%{customdata[0]:.0f} deviations / %{x:.0f} batches)"
                      "<br>%{customdata[1]}<extra></extra>"))
    x_max = max(10.0, 1.3 * float(funnel["batches"].max()))
    y_max = max(float(funnel["rate"].max()), float(curve.loc[curve["n"] >= x_max / 8, "upper_99.8"].max())) * 1.15
    fig.update_xaxes(title_text="batches started in the window", range=[0, x_max])
    fig.update_yaxes(title_text="deviations per batch", range=[0, y_max])
    return _layout(fig, "Deviation rate funnel (exact Poisson limits)", 440)


def trajectory_figure(summary: pd.DataFrame, site_id: str) -> go.Figure:
    if summary.empty:
        return empty("Not enough time since onboarding for a first period")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    labels = [f"days {60 * (p - 1)}-{60 * p}" for p in summary["period"]]
    fig.add_trace(go.Bar(x=labels, y=summary["equivalent_pct"], name="CQA pairs equivalent (%)",
                         marker=dict(color="rgba(0,158,115,0.45)", line=dict(color=GREEN, width=1.5)),
                         text=[f"{e}/{n}" for e, n in zip(summary["equivalent"], summary["evaluable"], strict=True)],
                         textposition="inside"), secondary_y=True)
    fig.add_trace(go.Scatter(x=labels, y=summary["mean_abs_difference"], mode="lines+markers+text",
                             name="mean |standardised difference|", line=dict(color=BLUE, width=3),
                             marker=dict(size=10), text=[f"{v:.2f}" for v in summary["mean_abs_difference"]],
                             textposition="top center"), secondary_y=False)
    fig.update_yaxes(title_text="mean |difference| (sd of reference)", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(title_text="equivalent (%)", range=[0, 105], dtick=25, secondary_y=True, showgrid=False)
    fig.update_xaxes(title_text="since onboarding")
    return _layout(fig, f"{site_id}: convergence to the network after onboarding", 380)
