"""What each page can export, each rebuilt on the server from the server-side scope.

Nothing here trusts the browser: the page, item and format are looked up in this registry, the site
only ever narrows the user's own scope, and the data is queried again (never taken from the figure
JSON the browser holds)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from dashboard import context, data
from dashboard.components import figures
from dashboard.components.formatting import STATUS, SUPPRESSED_TEXT, format_target, is_missing
from dashboard.components.kpi_chart import kpi_by_site
from dashboard.exports.files import DATA_FORMATS, IMAGE_FORMATS
from queries import catalog
from queries.kpis import NETWORK
from queries.scope import Scope

# Which roles may export from which page. Site managers only reach their own site: the scope does
# that. Display never exports; admin sees no quality data.
EXPORT_ROLES = {
    "overview": frozenset({"leadership", "auditor"}),
    "site": frozenset({"leadership", "auditor", "site_manager"}),
    "people": frozenset({"leadership", "auditor", "site_manager"}),
}
PAGE_TEMPLATES = {"overview": "/", "site": "/site/<site_id>", "people": "/people"}
PAGE_NAMES = {"overview": "Network overview", "site": "Site drill-down", "people": "People"}
REPORT = "report"


@dataclass(frozen=True)
class PageData:
    """The server-built scope of one export and what every item of the page needs."""
    page: str
    scope: Scope  # narrowed to the site on the site page
    days: int
    site_id: str | None
    site_name: str | None
    timezone: str | None
    sites: pd.DataFrame

    def filters(self) -> dict[str, str]:
        out = {"Page": PAGE_NAMES[self.page]}
        if self.site_id:
            out["Site"] = f"{self.site_name} ({self.site_id}), times in {self.timezone}"
        else:
            out["Sites"] = ", ".join(self.sites["site_id"]) or "none"
        out["Window"] = f"last {self.days} days"
        out["Scope"] = f"role {self.scope.role}" + (", network aggregate included" if self.scope.network else "")
        return out


@dataclass(frozen=True)
class Export:
    frame: pd.DataFrame
    figure: go.Figure | None = None


@dataclass(frozen=True)
class ExportItem:
    page: str
    item: str
    title: str
    formats: tuple[str, ...]
    kpi_ids: tuple[str, ...]
    build: Callable[[PageData], Export] | None  # None for the whole-page report

    @property
    def kpis(self) -> tuple[catalog.Kpi, ...]:
        return tuple(catalog.get(k) for k in self.kpi_ids)


def page_data(page: str, days, site_id=None) -> PageData:
    """Scope from the logged-in user (403 for a role without the page; NotFound for a foreign site)."""
    full = context.scope(days, PAGE_TEMPLATES[page])
    days = context.window_days(days)
    if page == "site":
        scope = full.for_site(site_id)
        sites = data.sites(scope)
        site = sites.iloc[0]
        return PageData(page, scope, days, site_id, str(site["name"]), str(site["timezone"]), sites)
    return PageData(page, full, days, None, None, None, data.sites(full))


# --- builders -------------------------------------------------------------------------------------
def _status_text(kpi: catalog.Kpi, value, suppressed: bool) -> str:
    status = "none" if suppressed or is_missing(value) else kpi.status(value)
    symbol, word, _ = STATUS[status]
    return f"{symbol} {word}"


def _long_kpis(frame: pd.DataFrame, pd_: PageData) -> pd.DataFrame:
    """One row per (site, KPI): value, unit, n, numerator, denominator, target, status; suppression kept."""
    names = dict(zip(pd_.sites["site_id"], pd_.sites["name"], strict=True))
    rows = []
    for r in frame.itertuples(index=False):
        kpi = catalog.get(r.kpi_id)
        suppressed = bool(r.suppressed)
        value = None if suppressed or is_missing(r.value) else round(float(r.value), 6)
        rows.append({
            "site_id": "NETWORK" if r.site_id == NETWORK else r.site_id,
            "site": "Network" if r.site_id == NETWORK else names.get(r.site_id, r.site_id),
            "kpi_id": kpi.id, "kpi": kpi.title, "value": value,
            "unit": kpi.unit,
            "n": None if suppressed or is_missing(r.n) else r.n,
            "numerator": None if suppressed or is_missing(r.numerator) else r.numerator,
            "denominator": None if suppressed or is_missing(r.denominator) else r.denominator,
            "target": format_target(kpi),
            "status": _status_text(kpi, value, suppressed),
            "note": SUPPRESSED_TEXT if suppressed else "",
        })
    return pd.DataFrame(rows)


def overview_kpis(pd_: PageData) -> Export:
    return Export(_long_kpis(data.kpis(pd_.scope), pd_))


def overview_headline(pd_: PageData) -> Export:
    ids = [k.id for k in catalog.HEADLINE]
    frame = data.kpis(pd_.scope, ids)
    return Export(_long_kpis(frame, pd_), kpi_by_site(frame, pd_.sites, list(catalog.HEADLINE)))


def _site_scope_with_network(pd_: PageData) -> Scope:
    full = context.scope(pd_.days, PAGE_TEMPLATES["site"])
    return full.for_site(pd_.site_id, with_network=True)


def site_kpis(pd_: PageData) -> Export:
    frame = data.kpis(_site_scope_with_network(pd_))
    long = _long_kpis(frame, pd_)
    site = long[long.site_id == pd_.site_id].set_index("kpi_id")
    net = long[long.site_id == "NETWORK"].set_index("kpi_id")
    rows = []
    for kpi in catalog.CATALOG:
        s = site.loc[kpi.id] if kpi.id in site.index else None
        n = net.loc[kpi.id] if kpi.id in net.index else None
        rows.append({"kpi_id": kpi.id, "kpi": kpi.title, "unit": kpi.unit,
                     "site_value": None if s is None else s["value"],
                     "network_value": None if n is None else n["value"],
                     "target": format_target(kpi),
                     "status": _status_text(kpi, None, True) if s is None else s["status"],
                     "n": None if s is None else s["n"],
                     "note": "" if s is None else s["note"]})
    return Export(pd.DataFrame(rows))


def site_deviations(pd_: PageData) -> Export:
    wh = context.warehouse()
    devs = wh.query("sql/site_deviations", scope=pd_.scope)
    programmes = wh.query("sql/site_programmes", scope=pd_.scope)
    return Export(devs, figures.deviation_timeline(devs, pd_.timezone, programmes))


def site_survey(pd_: PageData) -> Export:
    waves = context.warehouse().query("sql/site_survey_waves",
                                      {"min_n": context.settings().min_survey_respondents}, scope=pd_.scope)
    frame = waves.assign(note=waves["suppressed"].map(lambda s: SUPPRESSED_TEXT if s else ""))
    return Export(frame, figures.survey_waves(waves, catalog.get("psych_safety").target))


def people_survey(pd_: PageData) -> Export:
    """Psychological safety by wave for the network, sites and teams, already protected against small
    groups and subtraction (queries.people); suppressed rows keep their keys and a note only."""
    from dashboard.components.people_figures import index_by_wave
    from queries import people

    groups = people.survey_groups(context.warehouse(), pd_.scope,
                                  min_n=context.settings().min_survey_respondents)
    names = dict(zip(pd_.sites["site_id"], pd_.sites["name"], strict=True))
    figure = index_by_wave(groups[groups["level"] != "team"], "site", names,
                           catalog.get("psych_safety").target, "Psychological safety by survey wave")
    return Export(people.survey_export(groups), figure)


def _table(query: str) -> Callable[[PageData], Export]:
    def build(pd_: PageData) -> Export:
        return Export(context.warehouse().query(query, scope=pd_.scope))
    return build


ALL = tuple(k.id for k in catalog.CATALOG)
HEADLINE = tuple(k.id for k in catalog.HEADLINE)
CHART = IMAGE_FORMATS + DATA_FORMATS
ITEMS: dict[tuple[str, str], ExportItem] = {(i.page, i.item): i for i in (
    ExportItem("overview", REPORT, "Network overview report", ("pdf",), ALL, None),
    ExportItem("overview", "headline", "Headline KPIs by site", CHART, HEADLINE, overview_headline),
    ExportItem("overview", "kpis", "Site × KPI table", DATA_FORMATS, ALL, overview_kpis),
    ExportItem("site", REPORT, "Inspection binder", ("pdf",), ALL, None),
    ExportItem("site", "kpis", "KPIs: this site beside the network", DATA_FORMATS, ALL, site_kpis),
    ExportItem("site", "deviations", "Deviation timeline", CHART, (), site_deviations),
    ExportItem("site", "survey", "Psychological safety by survey wave", CHART, ("psych_safety",), site_survey),
    ExportItem("site", "capas", "Open CAPAs", DATA_FORMATS, ("capa_on_time",), _table("sql/site_open_capas")),
    ExportItem("site", "drift", "Master-document drift", DATA_FORMATS, (), _table("sql/site_document_drift")),
    ExportItem("site", "batches", "Batches started in the window", DATA_FORMATS,
               ("oos_rate", "right_first_time"), _table("sql/site_batches")),
    ExportItem("people", "survey", "Psychological safety by site, team and wave", CHART, ("psych_safety",),
               people_survey),
)}


def items_for(page: str) -> list[ExportItem]:
    return [i for (p, _), i in ITEMS.items() if p == page]
