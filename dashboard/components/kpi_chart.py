"""Headline KPIs by site as bar charts (for exports and the inspection binder): data in, figure out."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.components.formatting import STATUS, format_number, is_missing, kpi_status
from queries.kpi.catalog import NETWORK, Kpi

# Okabe-Ito; the bar label always carries the status symbol, so colour is never alone.
STATUS_COLOURS = {"ok": "#0072B2", "near": "#E69F00", "off": "#D55E00", "none": "#999999", "no_target": "#999999"}
FONT = dict(family="DejaVu Sans, system-ui, sans-serif", size=13)
BOUNDED_UNITS = ("%", "/100")  # scales that end at 100


def kpi_by_site(frame: pd.DataFrame, sites: pd.DataFrame, kpis: list[Kpi]) -> go.Figure:
    """One horizontal bar panel per KPI: network first, then each site; dashed line at the target."""
    order = [NETWORK, *sites["site_id"]]
    labels = ["Network" if s == NETWORK else str(s) for s in order]  # site ids: names are in the provenance
    cols = 2 if len(kpis) > 1 else 1
    rows = (len(kpis) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"{k.title} ({k.unit})" for k in kpis],
                        horizontal_spacing=0.12, vertical_spacing=0.16)
    for i, kpi in enumerate(kpis):
        r, c = i // cols + 1, i % cols + 1
        part = frame[frame["kpi_id"] == kpi.id].set_index("site_id")
        values, texts, colours = [], [], []
        for site_id in order:
            row = part.loc[site_id] if site_id in part.index else None
            suppressed = row is not None and bool(row.get("suppressed", False))
            value = None if row is None or suppressed else row["value"]
            status = kpi_status(kpi, value)
            symbol, word, _ = STATUS[status]
            values.append(None if is_missing(value) else value)
            colours.append(STATUS_COLOURS[status])
            texts.append("suppressed" if suppressed else
                         f"{symbol} {format_number(kpi, value)} · {word}" if not is_missing(value) else "no data")
        fig.add_trace(go.Bar(y=labels, x=[0 if v is None else v for v in values], orientation="h",
                             marker=dict(color=colours, line=dict(color="#222222", width=0.5)),
                             text=texts, textposition="outside", cliponaxis=False, showlegend=False,
                             name=kpi.title), row=r, col=c)
        if kpi.target is not None:
            fig.add_vline(x=kpi.target, line_dash="dash", line_color="#222222", row=r, col=c)
        top = max([v for v in values if v is not None] + [kpi.target or 0, 1])
        # Room beyond the longest bar for its label; a bounded scale's ticks still end at its bound (a
        # consistency axis read to 140 for a /100 score).
        ticks = dict(tickvals=[0, 25, 50, 75, 100]) if kpi.unit in BOUNDED_UNITS else {}
        fig.update_xaxes(range=[0, top * 1.45], row=r, col=c, **ticks)
        fig.update_yaxes(autorange="reversed", row=r, col=c)
    fig.update_layout(height=max(420, rows * (90 + 26 * len(order))), font=FONT, template="plotly_white",
                      title=dict(text="Headline KPIs by site (dashed line: target)", x=0, xref="paper"),
                      margin=dict(l=80, r=40, t=80, b=40))
    return fig
