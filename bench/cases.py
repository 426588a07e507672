"""Each page's callbacks as the browser calls them: the requests the benchmark and the load test send."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from dashboard import ids
from queries.engine.warehouse import Warehouse

SITE = "CHI"  # the drill-down site: the drift story lives here
WINDOWS = (30, 90, 180, 365)  # the window selector's choices (dashboard/context.py WINDOW_CHOICES)
TRENDS = ("24h", "7d", "30d", "365d")  # trend windows an analyst picks in the load test


@dataclass(frozen=True)
class Context:
    """Values a real browser would have on the page (chosen from the data, never forged)."""

    site_id: str
    sensor_id: str
    product: str
    end: datetime


@dataclass(frozen=True)
class Case:
    page: str
    name: str
    user: str
    outputs: list[str]
    request: Callable[[Context], tuple[dict, dict]]  # -> (inputs, state)


def context_for(wh: Warehouse, end: datetime) -> Context:
    sensors = wh.query("sql/signals/sensors", scope=_site_scope(wh, end))
    temperature = sensors[sensors["parameter"] == "temperature"]
    sensor = (temperature if not temperature.empty else sensors)["sensor_id"].iloc[0]
    product = wh.query("sql/signals/products")["product"].iloc[0]
    return Context(SITE, str(sensor), str(product), end)


def _site_scope(wh: Warehouse, end: datetime):
    from queries.engine.scope import build_scope

    return build_scope(user_id="bench", role="leadership", own_site=None, all_sites=[SITE], end=end, days=90)


def _w(window_id: str, days: int = 90) -> dict:
    return {f"{window_id}.value": days}


CASES: tuple[Case, ...] = (
    Case("overview", "refresh (tiles, grid)", "bench.leader", list(ids.OV_REFRESH),
         lambda c: (_w(ids.OV_WINDOW), {})),
    Case("overview", "refresh (site manager)", "bench.manager", list(ids.OV_REFRESH),
         lambda c: (_w(ids.OV_WINDOW), {})),
    Case("overview", "live excursion tiles", "bench.display", [ids.OV_EXC_TILES, ids.OV_EXC_AS_OF],
         lambda c: ({f"{ids.OV_EXC_TICK}.n_intervals": 1}, {})),
    Case("site", "refresh (drill-down)", "bench.leader", ["site-title", ids.SITE_BODY, ids.SITE_AS_OF],
         lambda c: (_w(ids.SITE_WINDOW), {f"{ids.SITE_ID_STORE}.data": c.site_id})),
    Case("monitoring", "sites status", "bench.leader", [ids.MON_SITES, ids.MON_NET_AS_OF],
         lambda c: ({f"{ids.MON_NET_TICK}.n_intervals": 1}, {})),
    Case("monitoring site", "live values, excursions", "bench.leader",
         [ids.MON_LIVE, ids.MON_EXCURSIONS, ids.MON_AS_OF, ids.MON_ACK_EXCURSION],
         lambda c: ({f"{ids.MON_TICK}.n_intervals": 1}, {f"{ids.MON_SITE_ID}.data": c.site_id})),
    Case("monitoring site", "trend 30 d", "bench.leader", [ids.MON_TREND],
         lambda c: ({f"{ids.MON_TREND_SENSOR}.value": c.sensor_id, f"{ids.MON_TREND_WINDOW}.value": "30d",
                     f"{ids.MON_TICK}.n_intervals": None}, {f"{ids.MON_SITE_ID}.data": c.site_id})),
    Case("monitoring site", "trend 365 d", "bench.leader", [ids.MON_TREND],
         lambda c: ({f"{ids.MON_TREND_SENSOR}.value": c.sensor_id, f"{ids.MON_TREND_WINDOW}.value": "365d",
                     f"{ids.MON_TICK}.n_intervals": None}, {f"{ids.MON_SITE_ID}.data": c.site_id})),
    Case("signals", "control chart", "bench.leader", [ids.SIG_IMR, ids.SIG_IMR_SUMMARY, ids.SIG_IMR_TABLE],
         lambda c: ({**_w(ids.SIG_WINDOW, 365), f"{ids.SIG_SITE}.value": c.site_id,
                     f"{ids.SIG_PRODUCT}.value": c.product, f"{ids.SIG_CQA}.value": "viability_pct",
                     f"{ids.SIG_RULES}.value": "nelson"}, {})),
    Case("signals", "drift early warning", "bench.leader",
         [ids.SIG_SENSOR, ids.SIG_DRIFT, ids.SIG_DRIFT_SUMMARY, ids.SIG_DRIFT_TABLE],
         lambda c: ({**_w(ids.SIG_WINDOW, 365), f"{ids.SIG_SITE}.value": c.site_id,
                     f"{ids.SIG_SENSOR}.value": None}, {})),
    Case("signals", "systemic clusters", "bench.leader", [ids.SIG_SYSTEMIC],
         lambda c: ({**_w(ids.SIG_WINDOW, 365), f"{ids.SIG_SYSTEMIC_WINDOW}.value": 30,
                     f"{ids.SIG_SYSTEMIC_ALL}.value": []}, {})),
    Case("signals", "risk ranking", "bench.leader", [ids.SIG_RISK, ids.SIG_AS_OF],
         lambda c: (_w(ids.SIG_WINDOW, 365), {})),
    Case("signals", "CAPA proposals", "bench.leader", [ids.SIG_PROPOSALS, ids.SIG_REVIEW_PROPOSAL],
         lambda c: ({**_w(ids.SIG_WINDOW, 365), f"{ids.SIG_SYSTEMIC_WINDOW}.value": 30,
                     f"{ids.SIG_REVIEW_DONE}.data": 0}, {})),
    Case("comparability", "refresh", "bench.leader", [ids.CMP_BODY, ids.CMP_AS_OF],
         lambda c: ({**_w(ids.CMP_WINDOW, 365), f"{ids.CMP_PRODUCT}.value": c.product}, {})),
    Case("people", "survey", "bench.leader", [ids.PPL_SURVEY],
         lambda c: ({f"{ids.PPL_SITE}.value": c.site_id, f"{ids.PPL_TEAMS}.value": [],
                     f"{ids.PPL_WAVE}.value": None}, {})),
    Case("people", "behaviour, training, SOPs", "bench.leader",
         [ids.PPL_BEHAVIOUR, ids.PPL_TRAINING, ids.PPL_SOP, ids.PPL_AS_OF],
         lambda c: ({**_w(ids.PPL_WINDOW, 365), f"{ids.PPL_SITE}.value": c.site_id}, {})),
    Case("audit", "search", "bench.auditor", [ids.AUDIT_TABLE, ids.AUDIT_COUNT],
         lambda c: ({f"{ids.AUDIT_APPLY}.n_clicks": 1},  # the whole trail (bench logins are written now)
                    {f"{ids.AUDIT_SINCE}.value": "2000-01-01", f"{ids.AUDIT_UNTIL}.value": "2100-01-01"})),
    Case("kiosk", "slides refresh", "bench.display", [ids.KIOSK_SLIDES, ids.KIOSK_AS_OF],
         lambda c: ({f"{ids.KIOSK_REFRESH}.n_intervals": 1},
                    {f"{ids.KIOSK_PLAYLIST}.data": {"slides": ["overview", "excursions", f"site:{c.site_id}"],
                                                     "interval": 30}})),
)
