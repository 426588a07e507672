"""Record pages (/deviation/<id>, /batch/<id>) through the app: what each shows, scoped on the server,
with a foreign or forged id answered exactly like an unknown one."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from conftest import TEST_END, dash_call

from queries.engine.scope import build_scope
from queries.records import quality_records as qr

OTHER_SITE_IDS = re.compile(r"\b(ATL|BOS|DEN|HUB|NYC|PHX|SEA|SFO)-")


def page_text(client, app, path: str) -> str:
    response = dash_call(client, app, ["_pages_content", "_pages_store"],
                         {"_pages_location.pathname": path, "_pages_location.search": ""})
    assert response.status_code == 200, response.data[:300]
    return json.dumps(response.get_json()["response"]["_pages_content"], ensure_ascii=False)


def sql(wh, statement: str) -> pd.DataFrame:
    with wh.engine.connect() as conn:
        return pd.read_sql(statement, conn)


@pytest.fixture(scope="module")
def story(sample_warehouse) -> dict:
    """The CHI excursion story's deviation (raised by the grade B temperature excursion) and its batch."""
    row = sql(sample_warehouse, "SELECT deviation_id, batch_id, excursion_id FROM deviations "
                                "WHERE site_id = 'CHI' AND source = 'excursion' ORDER BY detected_at DESC LIMIT 1").iloc[0]
    return row.to_dict()


@pytest.mark.requirement("URS-KPI-010")
def test_deviation_record_shows_what_it_is_and_what_it_touches(make_client, hub_app, sample_warehouse, story):
    text = page_text(make_client("t.leader"), hub_app, f"/deviation/{story['deviation_id']}")
    assert "deviation-record" in text and f"Deviation {story['deviation_id']}" in text
    for label in ("Occurred", "Detected", "Closed", "Severity", "Root cause", "SOP", "Human factors"):
        assert f'"{label}"' in text
    assert "CDT" in text or "CST" in text  # site-local time with the zone (Chicago)
    assert story["excursion_id"] in text and "grade B" in text
    capas = sql(sample_warehouse, "SELECT capa_id, deviation_id FROM capas")
    capas = capas[capas["deviation_id"] == story["deviation_id"]]
    assert len(capas) and all(c in text for c in capas["capa_id"])
    # Its batch, and the batches in the room during the excursion, each a link to its record.
    touched = qr.deviation_record(sample_warehouse, _scope("leadership"), story["deviation_id"]).batches
    assert story["batch_id"] in set(touched["batch_id"]) and len(touched) > 1
    for batch_id in touched["batch_id"]:
        assert f'"href": "/batch/{batch_id}"' in text
    assert "in the room during the excursion" in text and "recorded on the deviation" in text
    assert '"href": "/site/CHI"' in text


def _scope(role: str, site: str | None = None):
    sites = ["ATL", "BOS", "CHI", "DEN", "HUB", "NYC", "PHX", "SEA", "SFO"]
    return build_scope(user_id="t", role=role, own_site=site, all_sites=sites, end=TEST_END, days=90)


@pytest.mark.requirement("URS-KPI-010", "URS-ACC-003")
def test_recurrence_context_lists_own_site_and_counts_the_others_for_a_manager(make_client, hub_app,
                                                                              sample_warehouse):
    """A CHI deviation whose root cause also occurred earlier elsewhere: the leader sees the other sites'
    counts by name; the CHI manager sees the own site's earlier deviations (links) and only a count of
    the others, never an id or a site name."""
    earlier = sql(sample_warehouse, """
        SELECT d.deviation_id, COUNT(DISTINCT e.site_id) AS sites FROM deviations d
        JOIN deviations e ON e.root_cause_code = d.root_cause_code AND e.detected_at < d.detected_at
             AND e.detected_at >= d.detected_at - INTERVAL '365 days' AND e.site_id <> 'CHI'
        JOIN deviations h ON h.root_cause_code = d.root_cause_code AND h.detected_at < d.detected_at
             AND h.detected_at >= d.detected_at - INTERVAL '365 days' AND h.site_id = 'CHI'
        WHERE d.site_id = 'CHI' GROUP BY d.deviation_id ORDER BY sites DESC, d.deviation_id LIMIT 1""")
    deviation_id = earlier["deviation_id"].iloc[0]
    record = qr.deviation_record(sample_warehouse, _scope("site_manager", "CHI"), deviation_id)
    n_elsewhere, n_sites = record.earlier_elsewhere
    assert n_sites == earlier["sites"].iloc[0] >= 2 and len(record.earlier_here) >= 1
    manager = page_text(make_client("t.manager.chi"), hub_app, f"/deviation/{deviation_id}")
    assert f"At other sites of the network: {n_elsewhere} deviation(s) at {n_sites} site(s)." in manager
    for own in record.earlier_here["deviation_id"]:
        assert f'"href": "/deviation/{own}"' in manager
    assert not OTHER_SITE_IDS.search(manager)
    leader = page_text(make_client("t.leader"), hub_app, f"/deviation/{deviation_id}")
    assert "At other sites you may see" in leader and "At other sites of the network" not in leader
    visible = qr.deviation_record(sample_warehouse, _scope("leadership"), deviation_id).earlier_other_visible
    assert len(visible) == n_elsewhere  # the leader sees every one the manager could only count
    for other in visible["deviation_id"]:
        assert f'"href": "/deviation/{other}"' in leader


@pytest.mark.requirement("URS-KPI-010")
def test_batch_record_shows_cqas_room_excursions_and_vein_to_vein(make_client, hub_app, sample_warehouse, story):
    text = page_text(make_client("t.manager.chi"), hub_app, f"/batch/{story['batch_id']}")
    assert f"Batch {story['batch_id']}" in text and "batch-record" in text
    record = qr.batch_record(sample_warehouse, _scope("site_manager", "CHI"), story["batch_id"])
    assert len(record.cqas) == 6 and "within specification" in text
    assert story["excursion_id"] in text and f'"href": "/deviation/{story["deviation_id"]}"' in text
    # Collection to infusion: five stages, the days between them adding up to the whole.
    assert list(record.stages["stage"]) == [s for _, s in qr.VEIN_TO_VEIN_STAGES]
    total = (record.stages["at"].iloc[-1] - record.stages["at"].iloc[0]).total_seconds() / 86400
    assert record.stages["days"].sum() == pytest.approx(total)
    assert f"{total:.1f} days from apheresis (collection) to infused." in text


@pytest.mark.requirement("URS-EXP-007")
def test_an_untested_batch_is_pending_never_within_specification(make_client, hub_app, sample_warehouse):
    batch_id = sql(sample_warehouse, "SELECT batch_id FROM batches WHERE site_id = 'CHI' AND viability_pct IS NULL "
                                     "AND transduction_pct IS NULL ORDER BY started_at DESC LIMIT 1")["batch_id"].iloc[0]
    text = page_text(make_client("t.leader"), hub_app, f"/batch/{batch_id}")
    assert "not tested yet" in text and "within specification" not in text
    assert "testing pending" in text


@pytest.mark.requirement("URS-EXP-007")
def test_batch_page_verdict_is_the_site_tables_for_every_batch(sample_warehouse):
    """One rule, two readers: the record's verdict equals queries/sql/site_batches.sql's for every CHI batch."""
    scope = _scope("site_manager", "CHI")
    table = sample_warehouse.query("sql/site_batches", scope=scope.with_window(pd.Timestamp("2000-01-01"), TEST_END))
    assert len(table) > 100 and set(table["cqa_verdict"]) >= {"within_spec", "pending"}
    for batch_id, verdict in zip(table["batch_id"], table["cqa_verdict"], strict=True):
        assert qr.batch_record(sample_warehouse, scope, batch_id).verdict == verdict, batch_id


@pytest.mark.requirement("URS-KPI-010")
def test_capa_record_and_what_recurred_after_it(make_client, hub_app, sample_warehouse):
    """A CHI CAPA whose root cause came back at CHI after it was opened: the page lists those deviations
    (links), the deviation it answers, and its effectiveness."""
    capa = sql(sample_warehouse, """
        SELECT c.capa_id, c.deviation_id, COUNT(e.deviation_id) AS after FROM capas c
        JOIN deviations d ON d.deviation_id = c.deviation_id
        JOIN deviations e ON e.root_cause_code = d.root_cause_code AND e.site_id = c.site_id
             AND e.detected_at > c.opened_at AND e.deviation_id <> d.deviation_id
        WHERE c.site_id = 'CHI' GROUP BY c.capa_id, c.deviation_id ORDER BY after DESC, c.capa_id LIMIT 1""").iloc[0]
    record = qr.capa_record(sample_warehouse, _scope("site_manager", "CHI"), capa["capa_id"])
    assert len(record.recurred_after) == capa["after"] >= 1
    text = page_text(make_client("t.manager.chi"), hub_app, f"/capa/{capa['capa_id']}")
    assert f"CAPA {capa['capa_id']}" in text and f'"href": "/deviation/{capa["deviation_id"]}"' in text
    for deviation_id in record.recurred_after["deviation_id"]:
        assert f'"href": "/deviation/{deviation_id}"' in text
    assert "Effectiveness" in text and ("not checked yet" in text or "effective" in text)


@pytest.mark.requirement("URS-MON-009")
@pytest.mark.requirement("URS-KPI-010")
def test_excursion_record_with_its_product_impact(make_client, hub_app, sample_warehouse, story):
    text = page_text(make_client("t.auditor"), hub_app, f"/excursion/{story['excursion_id']}")
    record = qr.excursion_record(sample_warehouse, _scope("auditor"), story["excursion_id"])
    assert f"Excursion {story['excursion_id']}" in text and "action" in text and "°C" in text
    assert f'"href": "/deviation/{story["deviation_id"]}"' in text
    assert len(record.batches) >= 2 and story["batch_id"] in set(record.batches["batch_id"])
    for batch_id in record.batches["batch_id"]:
        assert f'"href": "/batch/{batch_id}"' in text
    # The deviation page links to it, and its batches are the excursion's plus the recorded one.
    deviation = qr.deviation_record(sample_warehouse, _scope("auditor"), story["deviation_id"])
    assert set(deviation.batches["batch_id"]) == set(record.batches["batch_id"]) | {story["batch_id"]}


@pytest.mark.parametrize("path", ["/capa/CAPA-ATL-0001", "/excursion/EXC-ATL-20250112080000-296600"])
@pytest.mark.requirement("URS-ACC-003")
def test_foreign_capa_and_excursion_are_not_found(make_client, hub_app, path):
    text = page_text(make_client("t.manager.chi"), hub_app, path)
    assert "record-not-found" in text and "ATL" not in text.replace(path.rsplit("/", 1)[1], "")


@pytest.mark.parametrize("path", ["/deviation/DEV-ATL-0038", "/batch/ATL-B0001", "/deviation/NOPE",
                                  "/batch/' OR 1=1 --", "/deviation/" + "X" * 500, "/batch/%2e%2e%2fsite"])
@pytest.mark.requirement("URS-ACC-003")
def test_foreign_and_forged_ids_are_not_found(make_client, hub_app, path):
    """A CHI manager gets the same "not found" for another site's record as for an id that does not exist
    (the id typed is echoed, cut to 120 characters; nothing of the record)."""
    client = make_client("t.manager.chi")
    kind, record_id = path.strip("/").split("/", 1)
    text = page_text(client, hub_app, path)
    unknown = page_text(client, hub_app, f"/{kind}/UNKNOWN-ID")
    assert "record-not-found" in text and "Traceback" not in text
    sentence = re.compile(r"There is no \w+ (.{1,400}?) you may open\.")
    echoed = sentence.search(text).group(1)
    assert len(json.loads(f'"{echoed}"')) <= 122  # the id's repr, cut to 120 characters
    assert sentence.sub("-", text) == sentence.sub("-", unknown)


@pytest.mark.requirement("URS-KIO-006")
@pytest.mark.parametrize("user_id", ["t.display", "t.admin"])
@pytest.mark.requirement("URS-ACC-002")
def test_roles_without_records_are_refused(make_client, hub_app, story, user_id):
    text = page_text(make_client(user_id), hub_app, f"/deviation/{story['deviation_id']}")
    assert "page-denied" in text and story["deviation_id"] not in text


@pytest.mark.requirement("URS-KPI-010")
def test_site_page_links_every_id_to_its_record(make_client, hub_app):
    response = dash_call(make_client("t.leader"), hub_app, ["site-title", "site-body", "site-as-of"],
                         {"site-window.value": 90}, {"site-id.data": "CHI"})
    body = json.dumps(response.get_json()["response"]["site-body"])
    deviations = re.findall(r'"href": "/deviation/(DEV-CHI-\d+)"', body)
    batches = re.findall(r'"href": "/batch/(CHI-B\d+)"', body)
    assert len(set(deviations)) >= 10 and len(set(batches)) >= 10


def test_a_timeline_click_opens_the_deviation_and_a_forged_click_goes_nowhere(make_client, hub_app):
    client = make_client("t.manager.chi")
    click = {"points": [{"customdata": ["DEV-CHI-0001", "X"]}]}
    response = dash_call(client, hub_app, ["site-record-nav"], {"site-deviation-timeline.clickData": click})
    assert response.get_json()["response"]["site-record-nav"]["href"] == "/deviation/DEV-CHI-0001"
    for forged in (None, {"points": []}, {"points": [{"customdata": [{"x": 1}]}]}, "text"):
        response = dash_call(client, hub_app, ["site-record-nav"], {"site-deviation-timeline.clickData": forged})
        assert response.status_code in (200, 204)
        if response.status_code == 200:
            assert "href" not in json.dumps(response.get_json())
    refused = dash_call(make_client("t.display"), hub_app, ["site-record-nav"],
                        {"site-deviation-timeline.clickData": click})
    assert refused.status_code == 403


@pytest.mark.postgres
def test_postgres_gives_the_same_records(sample_warehouse, sample_postgres_template, story):
    """The record queries on the PostgreSQL copy of the sample network answer as on DuckDB."""
    from queries.engine.warehouse import Warehouse

    pg = Warehouse(sample_postgres_template)
    try:
        for role, site in (("leadership", None), ("site_manager", "CHI")):
            scope = _scope(role, site)
            a = qr.deviation_record(sample_warehouse, scope, story["deviation_id"])
            b = qr.deviation_record(pg, scope, story["deviation_id"])
            assert a.deviation.to_dict() == b.deviation.to_dict()
            assert a.earlier_elsewhere == b.earlier_elsewhere
            for part in ("capas", "batches", "earlier_here", "earlier_other_visible"):
                pd.testing.assert_frame_equal(getattr(a, part), getattr(b, part), check_dtype=False)
            x, y = qr.batch_record(sample_warehouse, scope, story["batch_id"]), qr.batch_record(pg, scope, story["batch_id"])
            assert x.verdict == y.verdict and x.batch.to_dict() == y.batch.to_dict()
            for part in ("cqas", "excursions", "deviations", "stages"):
                pd.testing.assert_frame_equal(getattr(x, part), getattr(y, part), check_dtype=False)
            e, f = (qr.excursion_record(w, scope, story["excursion_id"]) for w in (sample_warehouse, pg))
            assert e.excursion.to_dict() == f.excursion.to_dict()
            pd.testing.assert_frame_equal(e.batches, f.batches, check_dtype=False)
            capa_id = a.capas["capa_id"].iloc[0]
            c, d = (qr.capa_record(w, scope, capa_id) for w in (sample_warehouse, pg))
            assert c.capa.to_dict() == d.capa.to_dict()
            pd.testing.assert_frame_equal(c.recurred_after, d.recurred_after, check_dtype=False)
    finally:
        pg.dispose()


@pytest.mark.requirement("URS-MON-009")
def test_a_batch_and_an_excursion_agree_on_their_overlap(sample_warehouse):
    """One product-impact rule from both sides: every batch an excursion's record lists (the monitoring
    list's rule) lists that excursion, and every excursion a batch lists lists the batch (all CHI)."""
    scope = _scope("site_manager", "CHI")
    excursions = sql(sample_warehouse, "SELECT excursion_id FROM excursions WHERE site_id = 'CHI'")["excursion_id"]
    pairs_from_excursions = {(x, b) for x in excursions
                             for b in qr.excursion_record(sample_warehouse, scope, x).batches["batch_id"]}
    batches = {b for _, b in pairs_from_excursions}
    pairs_from_batches = {(x, b) for b in batches
                          for x in qr.batch_record(sample_warehouse, scope, b).excursions["excursion_id"]}
    assert len(pairs_from_excursions) > 10
    assert pairs_from_excursions == pairs_from_batches
