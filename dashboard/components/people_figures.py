"""Figures of the people page: protected frames in, figures out (no queries, no statistics here).

Suppressed survey groups arrive with their keys only; they are drawn as a labelled gap with no
hover value, so neither the figure nor its JSON holds anything about them but their name."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.components.figures import FONT
from queries.kpi.catalog import NETWORK

# Okabe-Ito, with distinct dashes and markers so no series depends on colour alone.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star", "hexagon", "cross", "pentagon")
HUMAN_FACTOR_STYLE = {  # tag -> (label, colour, pattern)
    "cognitive_load": ("Cognitive load", "#D55E00", "/"),
    "communication": ("Communication", "#0072B2", "."),
    "environment": ("Environment", "#009E73", "x"),
    "none": ("No human factor", "#BBBBBB", ""),
}
ITEM_TEXT = {  # Edmondson (1999) items, abridged; (R) = negatively worded, reverse-scored
    "q1": "1 (R) Mistakes are held against you",
    "q2": "2 Members can bring up problems",
    "q3": "3 (R) People are rejected for being different",
    "q4": "4 It is safe to take a risk",
    "q5": "5 (R) It is difficult to ask for help",
    "q6": "6 No one would undermine my efforts",
    "q7": "7 My skills and talents are valued",
}
SCORE_COLOURS = ("#B2182B", "#D6604D", "#F4A582", "#E0E0E0", "#92C5DE", "#4393C3", "#2166AC")


def _base(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, xref="paper", font=dict(size=17)), height=height, font=FONT,
                      margin=dict(l=70, r=30, t=60, b=60), template="plotly_white",
                      legend=dict(orientation="h", y=-0.22, x=0), hoverlabel=dict(font_size=14))
    return fig


def empty(title: str, message: str, height: int = 260) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=15, color="#444"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base(fig, title, height)


def _label(site_id: str, team: str | None) -> str:
    """Legend labels stay short (site codes, team names); the full site name is in the hover."""
    if site_id == NETWORK:
        return "Network"
    return team if team else site_id


def index_by_wave(groups: pd.DataFrame, series_level: str, names: dict[str, str], target: float | None,
                  title: str, highlight: str | None = None) -> go.Figure:
    """One line per group (network, sites or teams) over waves; suppressed waves are marked, not valued.

    With `highlight` (a site id) that site is drawn strong and the other sites thin and grey."""
    fig = go.Figure()
    waves = sorted(groups["wave"].unique())
    keys = list(groups[["site_id", "team"]].drop_duplicates().itertuples(index=False))
    hidden: dict[str, list[str]] = {}
    for k, (site_id, team) in enumerate(keys):
        rows = groups[(groups["site_id"] == site_id) & (groups["team"].fillna("") == (team or ""))]
        rows = rows.set_index("wave").reindex(waves)
        label = _label(site_id, team)
        full_name = "Network" if site_id == NETWORK else (team or names.get(site_id, site_id))
        is_network = site_id == NETWORK and series_level != "team"
        muted = highlight is not None and not is_network and site_id != highlight and series_level != "team"
        if is_network:
            colour, width, dash = "#222222", 4, "dash"
        elif muted:
            colour, width, dash = "#B8B8B8", 1.5, "solid"
        elif highlight is not None and series_level != "team":
            colour, width, dash = "#0072B2", 4.5, "solid"
        else:
            colour, width, dash = PALETTE[k % len(PALETTE)], 2.5, DASHES[k % len(DASHES)]
        suppressed = rows["suppressed"].fillna(False).astype(bool)
        fig.add_trace(go.Scatter(
            x=waves, y=rows["index_0_100"].where(~suppressed), mode="lines+markers", name=label,
            connectgaps=False, line=dict(color=colour, width=width, dash=dash),
            # earlier series get bigger markers, so equal values stay visible one behind the other
            marker=dict(size=5 if muted else max(7, 13 - 2 * k), symbol=SYMBOLS[k % len(SYMBOLS)]),
            customdata=rows[["respondents"]].to_numpy(),
            hovertemplate=f"{full_name} · %{{x}}<br>index %{{y:.0f}} · n = %{{customdata[0]:.0f}}<extra></extra>",
        ))
        if not muted:
            for wave in rows.index[suppressed]:
                hidden.setdefault(wave, []).append(label)
    if hidden:  # one label per wave naming every suppressed series, so labels never overlap
        fig.add_trace(go.Scatter(
            x=list(hidden), y=[2] * len(hidden), mode="markers+text", showlegend=False, hoverinfo="skip",
            text=["suppressed:<br>" + "<br>".join(labels) for labels in hidden.values()],
            textposition="top center", textfont=dict(size=12, color="#333"),
            marker=dict(symbol="x-thin-open", size=12, color="#555", line=dict(width=2)), name="suppressed"))
    if target is not None:
        fig.add_hline(y=target, line_dash="dot", line_color="#555",
                      annotation_text=f"target {target:.0f}", annotation_position="top left")
    fig.update_yaxes(range=[0, 100], title="index (0-100)", dtick=20)
    fig.update_xaxes(type="category", title="survey wave")
    return _base(fig, title, height=400)


def item_distribution(items: pd.DataFrame, title: str) -> go.Figure:
    """Stacked shares of scored answers 1-7 per item (reversed items already turned round)."""
    if items.empty:
        return empty(title, "No distribution to show: the group is suppressed or has no answers.")
    fig = go.Figure()
    order = list(reversed(list(ITEM_TEXT)))
    for score in range(1, 8):
        part = items[items["score"] == score].set_index("item").reindex(order)
        fig.add_trace(go.Bar(
            y=[ITEM_TEXT[i] for i in order], x=part["share_pct"].fillna(0), orientation="h",
            name=f"{score}", marker=dict(color=SCORE_COLOURS[score - 1], line=dict(color="#fff", width=1)),
            text=[f"{v:.0f}%" if v >= 8 else "" for v in part["share_pct"].fillna(0)], textposition="inside",
            insidetextanchor="middle", textfont=dict(size=12, color="#111" if 3 <= score <= 5 else "#fff"),
            hovertemplate="%{y}<br>scored " + str(score) + ": %{x:.0f}% of answers<extra></extra>",
        ))
    fig.update_layout(barmode="stack", legend_title_text="scored answer (7 = safest)",
                      legend=dict(traceorder="normal"))
    fig.update_xaxes(range=[0, 100], title="share of answers (%)", ticksuffix="%")
    fig.update_yaxes(automargin=True)
    fig = _base(fig, title, height=400)
    fig.update_layout(margin=dict(l=20, r=30, t=60, b=60))
    return fig


def human_factors(frame: pd.DataFrame, names: dict[str, str]) -> go.Figure:
    title = "Human-factor tags on deviations"
    if frame.empty:
        return empty(title, "No deviations in this window.")
    sites = [s for s in frame["site_id"].unique() if s != NETWORK] + ([NETWORK] if NETWORK in set(frame["site_id"])
                                                                        else [])
    labels = [_label(s, None) for s in sites]
    fig = go.Figure()
    for tag, (label, colour, pattern) in HUMAN_FACTOR_STYLE.items():
        part = frame[frame["human_factors"] == tag].set_index("site_id").reindex(sites)
        fig.add_trace(go.Bar(
            y=labels, x=part["share_pct"].fillna(0), orientation="h", name=label,
            marker=dict(color=colour, pattern=dict(shape=pattern, fgcolor="#222", size=6)),
            customdata=part[["deviations"]].fillna(0).to_numpy(),
            hovertemplate="%{y}<br>" + label + ": %{x:.0f}% (%{customdata[0]:.0f} deviations)<extra></extra>",
        ))
    fig.update_xaxes(range=[0, 100], ticksuffix="%", title="share of deviations detected in the window")
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig = _base(fig, title, height=max(320, 150 + 34 * len(sites)))
    fig.update_layout(barmode="stack", legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0),
                      margin=dict(t=100))
    return fig


def near_miss_and_deviation_rate(quarters: pd.DataFrame, label: str, programmes: pd.DataFrame) -> go.Figure:
    title = f"Near-miss reporting beside deviation rate · {label} (per quarter)"
    if quarters.empty:
        return empty(title, "No batches in this period.")
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=quarters["quarter_label"], y=quarters["near_misses_per_100_batches"], name="near misses per 100 batches",
        mode="lines+markers", line=dict(color="#009E73", width=3), marker=dict(symbol="triangle-up", size=10),
        customdata=quarters[["near_misses", "batches"]].to_numpy(),
        hovertemplate="%{x}: %{y:.0f} near misses per 100 batches (%{customdata[0]} / %{customdata[1]})"
                      "<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=quarters["quarter_label"], y=quarters["deviations_per_batch"] * 100, name="deviations per 100 batches",
        mode="lines+markers", line=dict(color="#D55E00", width=3, dash="dash"), marker=dict(symbol="x", size=10),
        customdata=quarters[["batch_deviations", "batches"]].to_numpy(),
        hovertemplate="%{x}: %{y:.0f} deviations per 100 batches (%{customdata[0]} / %{customdata[1]})"
                      "<extra></extra>"))
    _mark_programmes(fig, quarters, programmes)
    fig.update_yaxes(title="per 100 batches", rangemode="tozero")
    fig.update_xaxes(type="category", title="quarter (UTC; the last one may be partial)")
    return _base(fig, title, height=360)


def recurrence_by_quarter(quarters: pd.DataFrame, label: str, programmes: pd.DataFrame) -> go.Figure:
    title = f"Deviation recurrence · {label} (per quarter)"
    if quarters.empty:
        return empty(title, "No deviations in this period.")
    fig = go.Figure(go.Bar(
        x=quarters["quarter_label"], y=quarters["recurrence_pct"], marker=dict(color="#0072B2"),
        text=[f"{v:.0f}%" if pd.notna(v) else "" for v in quarters["recurrence_pct"]], textposition="outside",
        customdata=quarters[["recurred", "deviations"]].to_numpy(), name="recurrence",
        hovertemplate="%{x}: %{y:.0f}% recurred (%{customdata[0]} of %{customdata[1]})<extra></extra>"))
    _mark_programmes(fig, quarters, programmes)
    fig.update_yaxes(range=[0, 110], title="deviations that recurred (%)", ticksuffix="%")
    fig.update_xaxes(type="category", title="quarter (UTC)")
    return _base(fig, title, height=340)


def _mark_programmes(fig: go.Figure, quarters: pd.DataFrame, programmes: pd.DataFrame) -> None:
    """A dashed line where each programme starts, placed inside its quarter's slot by date."""
    labels = list(quarters["quarter_label"])
    for row in programmes.itertuples(index=False):
        start = pd.Timestamp(row.started_at)
        period = start.to_period("Q")
        if str(period) not in labels:
            continue
        elapsed = (start - period.start_time) / (period.end_time - period.start_time)
        x = labels.index(str(period)) - 0.5 + float(elapsed)
        fig.add_vline(x=x, line_dash="dash", line_color="#006B50", line_width=2)
        fig.add_annotation(x=x, y=1.0, yref="paper", xanchor="left", yanchor="bottom",
                           text=f" {row.kind.replace('_', ' ')} starts {start:%Y-%m-%d}", showarrow=False,
                           font=dict(color="#006B50", size=13), bgcolor="rgba(255,255,255,.85)")


def operator_scatter(operators: pd.DataFrame, title: str,
                     message: str = "No operators with training before this window.") -> go.Figure:
    if operators.empty:
        return empty(title, message)
    fig = go.Figure(go.Scatter(
        x=operators["mean_first_score"], y=operators["deviations"], mode="markers",
        marker=dict(size=11, color="#0072B2", opacity=0.75, line=dict(width=1, color="#123")),
        customdata=operators[["operator_ref", "site_id"]].to_numpy(),
        hovertemplate="%{customdata[0]} (%{customdata[1]})<br>mean first-attempt score %{x:.1f}<br>"
                      "deviations involved: %{y}<extra></extra>"))
    fig.update_xaxes(title="mean first-attempt certification score")
    fig.update_yaxes(title="deviations involved in (window)", rangemode="tozero", dtick=1)
    return _base(fig, title, height=340)


def sop_load(frame: pd.DataFrame, title: str) -> go.Figure:
    if frame.empty:
        return empty(title, "No SOP deviations with enough executions in this window.")
    shown = frame.iloc[::-1]
    fig = go.Figure(go.Bar(
        y=[f"{s} {t if len(t) <= 42 else t[:41] + '…'}" for s, t in zip(shown["sop_id"], shown["title"].fillna(""),
                                                                      strict=True)],
        x=shown["per_1000_executions"], orientation="h", marker=dict(color="#CC79A7"),
        text=[f"{d} dev. / {e:,} runs" + (f" · {c} cognitive load" if c else "")
              for d, e, c in zip(shown["deviations"], shown["executions"], shown["cognitive_load"], strict=True)],
        textposition="outside", cliponaxis=False,
        hovertemplate="%{y}<br>%{x:.1f} deviations per 1,000 executions<extra></extra>"))
    fig.update_xaxes(title="deviations per 1,000 executions", rangemode="tozero")
    fig.update_yaxes(automargin=True)
    fig = _base(fig, title, height=max(320, 70 + 32 * len(frame)))
    fig.update_layout(margin=dict(l=20, r=230, t=60, b=60))
    return fig
