"""The catalogue is the one declaration of a KPI: what it reads, the options it takes, what its texts say,
and (for ratio KPIs) how its value follows from its numerator and denominator."""

from __future__ import annotations

import math
import string

import pandas as pd
import pytest
from conftest import TEST_END

from queries.engine.scope import build_scope
from queries.engine.settings import Settings
from queries.engine.warehouse import Warehouse
from queries.kpi import catalog
from queries.kpi.catalog import CATALOG, NETWORK, OPTION_SETTINGS, OPTIONS
from queries.kpi.kpis import kpi_frame


@pytest.fixture(scope="module")
def network(sample_warehouse):
    """A warehouse object of its own on the sample network: no app's result cache answers for it."""
    wh = Warehouse(sample_warehouse.url)
    yield wh
    wh.dispose()


def leadership(wh: Warehouse, days: int = 90):
    sites = list(wh.query("sql/site_ids")["site_id"])
    return build_scope(user_id="t.leader", role="leadership", own_site=None, all_sites=sites, end=TEST_END,
                       days=days)


@pytest.mark.requirement("URS-KPI-001")
def test_every_kpi_reads_exactly_the_queries_the_catalogue_lists(network, monkeypatch):
    """The definitions page lists kpi.queries as what a KPI reads: the queries its computation runs."""
    ran: list[str] = []
    query = network.query

    def recording(name, *args, **kwargs):
        ran.append(name)
        return query(name, *args, **kwargs)

    monkeypatch.setattr(network, "query", recording)
    scope = leadership(network)
    for kpi in CATALOG:
        ran.clear()
        kpi_frame(network, scope, [kpi.id])
        assert set(ran) == set(kpi.queries), f"{kpi.id}: runs {sorted(set(ran))}, declares {sorted(kpi.queries)}"


@pytest.mark.requirement("URS-KPI-001", "URS-KPI-006")
def test_a_kpi_gets_the_options_it_declares_and_no_other(network):
    """A setting reaches the KPIs that declare it: the recurrence window changes recurrence, and an
    option no KPI knows is refused rather than ignored."""
    scope = leadership(network, 365)
    short, long = (kpi_frame(network, scope, ["recurrence"], recurrence_days=days) for days in (7, 180))
    assert short["value"].iloc[0] < long["value"].iloc[0]
    with pytest.raises(TypeError, match="unknown KPI options"):
        kpi_frame(network, scope, ["recurrence"], recurrence_window=30)
    for kpi in CATALOG:
        assert {option for _param, option in kpi.params} <= OPTIONS.keys(), kpi.id
        assert bool(kpi.query) != bool(kpi.compute), f"{kpi.id}: computed by its SQL or by a function, not both"
        if kpi.compute:
            assert callable(kpi.computation()), kpi.id


@pytest.mark.requirement("URS-KPI-002", "URS-KPI-006")
def test_texts_state_the_settings_in_force():
    """Texts are templates over the options; rendered, they name the values of the settings."""
    settings = Settings()
    for option, name in OPTION_SETTINGS.items():
        assert getattr(settings, name) == OPTIONS[option] > 0, f"{name}: the catalogue's default is the setting's"
    for kpi in CATALOG:
        for text in (kpi.definition, kpi.formula):
            names = {field for _, field, _, _ in string.Formatter().parse(text) if field}
            assert names <= OPTIONS.keys(), f"{kpi.id}: unknown placeholders {names - OPTIONS.keys()}"
    chosen = {"recurrence_days": 60, "min_respondents": 8, "min_batches": 12}
    shown = {k.id: k.rendered(chosen) for k in CATALOG}
    assert "previous 60 days" in shown["recurrence"].definition and "within 60 days" in shown["recurrence"].formula
    assert "under 8 respondents" in shown["psych_safety"].definition
    assert "fewer than 8 operators" in shown["cert_pass_rate"].definition
    assert "< 12 batches" in shown["consistency"].definition
    assert not any("{" in k.definition + k.formula for k in shown.values())


@pytest.mark.parametrize("kpi", [k for k in CATALOG if k.kind == "ratio"], ids=lambda k: k.id)
@pytest.mark.requirement("URS-KPI-003")
def test_a_ratio_kpi_is_its_scaled_pooled_ratio(network, kpi):
    """Every site row: value = scale x numerator / denominator; the network row pools the sites' numerators
    and denominators (a site suppressed for its size enters no aggregate)."""
    frame = kpi_frame(network, leadership(network, 365), [kpi.id])
    sites = frame[frame["site_id"] != NETWORK]
    shown = sites[~sites["suppressed"].astype(bool)]
    checked = 0
    for row in frame.itertuples(index=False):
        if row.suppressed or pd.isna(row.denominator) or row.denominator == 0:
            assert row.suppressed or pd.isna(row.value), f"{kpi.id} {row.site_id}: a value without a denominator"
            continue
        assert row.value == pytest.approx(kpi.scale * row.numerator / row.denominator, rel=1e-9), (kpi.id, row.site_id)
        checked += 1
    assert checked >= 2, f"{kpi.id}: the sample network gives too few rows to check"
    network_row = frame[frame["site_id"] == NETWORK].iloc[0]
    assert network_row["numerator"] == pytest.approx(shown["numerator"].fillna(0).sum())
    assert network_row["denominator"] == pytest.approx(shown["denominator"].fillna(0).sum())
    assert not math.isnan(network_row["value"])


@pytest.mark.requirement("URS-KPI-001")
def test_the_catalogue_declares_each_kpi_once():
    assert len({k.id for k in CATALOG}) == len(CATALOG)
    assert catalog.HEADLINE == tuple(k for k in CATALOG if k.headline)
    # Every KPI in exactly one theme of at most eight (the overview's tables fit a screen's width).
    themed = [kpi_id for _, ids in catalog.THEMES for kpi_id in ids]
    assert sorted(themed) == sorted(k.id for k in CATALOG)
    assert all(len(ids) <= 8 for _, ids in catalog.THEMES)
