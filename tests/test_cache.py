"""Data versions and the caches: writes invalidate, keys hold the scope, workers share through Redis."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pandas as pd
import pytest
from cachelib import SimpleCache
from conftest import TEST_END, app_for, dash_call
from sqlalchemy import text

from dashboard import ids
from dashboard.response_cache import CACHEABLE, output_ids
from queries.engine import data_version, result_cache
from queries.engine.scope import build_scope
from queries.engine.warehouse import Warehouse
from queries.records import users

REDIS_URL = "redis://127.0.0.1:6379/15"
SITE = {"site_id": "ZZZ", "name": "Test site", "region": "Nowhere", "timezone": "UTC", "kind": "node",
        "onboarded_at": datetime(2025, 1, 1)}


def add_site(wh: Warehouse, site_id: str) -> None:
    with wh.transaction() as conn:
        wh.bulk_insert(conn, "sites", pd.DataFrame([{**SITE, "site_id": site_id}]))


def scope(role="leadership", sites=("ZZZ",), end=datetime(2026, 5, 1, 12, 0, 10), user="u1"):
    return build_scope(user_id=user, role=role, own_site=sites[0] if role == "site_manager" else None,
                       all_sites=list(sites), end=end, days=30)


# --- data versions -------------------------------------------------------------------------------------
def heartbeat(wh: Warehouse, day: int) -> None:
    with wh.transaction() as conn:  # a statement through SQLAlchemy into a live table, as ingest writes
        conn.execute(text("-- comment first, as in queries/*.sql\nINSERT INTO ingest_heartbeats (source, site_id, ts) "
                          "VALUES ('gw', 'AAA', :ts)"), {"ts": datetime(2026, 1, day)})


def test_writes_change_their_domain_versions_and_logins_do_not(warehouse, monkeypatch):
    start = data_version.current(warehouse)
    assert start == {"live": "0", "measurements": "0", "quality": "0"}

    add_site(warehouse, "AAA")  # bulk insert into a quality table
    after_site = data_version.current(warehouse)
    assert after_site["quality"] != "0" and after_site["live"] == after_site["measurements"] == "0"

    heartbeat(warehouse, 1)
    first = data_version.current(warehouse)
    assert first["live"] != "0" and first["measurements"] != "0"
    assert first["quality"] == after_site["quality"]  # sensors reporting never touch the quality KPIs

    heartbeat(warehouse, 2)
    second = data_version.current(warehouse)
    assert second["live"] != first["live"]  # live tiles follow every batch
    assert second["measurements"] == first["measurements"]  # KPIs that count readings: every 5 minutes

    monkeypatch.setattr(data_version, "MEASUREMENTS_EVERY_S", 0)
    heartbeat(warehouse, 3)
    third = data_version.current(warehouse)
    assert third["measurements"] != second["measurements"] and third["quality"] == first["quality"]

    monkeypatch.setattr(data_version, "MEASUREMENTS_EVERY_S", 3600)
    with warehouse.transaction() as conn:  # a bulk load (import, generation): measurements change at once,
        warehouse.bulk_insert(conn, "ingest_heartbeats", pd.DataFrame(  # and quality (finished days)
            {"source": ["gw"], "site_id": ["AAA"], "sensor_id": [None], "ts": [datetime(2026, 1, 4)]}))
    bulk = data_version.current(warehouse)
    assert bulk["measurements"] != third["measurements"] and bulk["quality"] != first["quality"]

    users.add_user(warehouse, user_id="someone", display_name="x", role="leadership", site_id=None,
                   password="a-long-enough-password")
    assert data_version.current(warehouse) == bulk  # users and the audit trail are not data

    with pytest.raises(RuntimeError), warehouse.transaction() as conn:
        warehouse.bulk_insert(conn, "sites", pd.DataFrame([{**SITE, "site_id": "BBB"}]))
        raise RuntimeError("rolled back")
    assert data_version.current(warehouse) == bulk  # nothing committed, nothing changed


@pytest.mark.requirement("URS-KPI-012")
def test_kpis_assembled_from_cached_entries_equal_kpi_frame(hub_app, sample_warehouse):
    from dashboard import data
    from queries.kpi import catalog
    from queries.kpi.kpis import kpi_frame

    full = build_scope(user_id="u", role="leadership", own_site=None,
                       all_sites=list(sample_warehouse.query("sql/site_ids")["site_id"]), end=TEST_END, days=90)
    with hub_app.server.app_context():
        def rows(frame):  # the KPI SQL has no ORDER BY within a KPI: compare rows, not their order
            return frame.sort_values(["kpi_id", "site_id"], kind="stable").reset_index(drop=True)

        for _ in range(2):  # computed, then from the cache
            assembled = data.kpis(full)
            pd.testing.assert_frame_equal(rows(assembled), rows(kpi_frame(sample_warehouse, full)))
            assert list(dict.fromkeys(assembled["kpi_id"])) == [k.id for k in catalog.CATALOG]


def test_a_warehouse_without_the_version_table_is_served_uncached(tmp_path):
    wh = Warehouse(f"duckdb:///{tmp_path / 'old.duckdb'}")
    try:
        assert data_version.current(wh) is None  # no schema at all: no versions, no caching, no error
        cache = result_cache.ResultCache(SimpleCache(), "t")
        assert cache.call(wh, "f", ("quality",), lambda _wh: 41 + 1) == 42
        assert cache.stats.uncached == 1
    finally:
        wh.dispose()


# --- the result cache ------------------------------------------------------------------------------------
class Counting:
    def __init__(self):
        self.calls, self.scopes = 0, []

    def __call__(self, wh, s, extra=None):
        self.calls += 1
        self.scopes.append(s)
        return int(wh.scalar("sql/site_count"))


@pytest.mark.requirement("URS-KPI-012")
def test_answers_are_cached_until_new_data_lands(warehouse):
    cache = result_cache.ResultCache(SimpleCache(), result_cache.namespace_for(warehouse))
    fn = Counting()
    add_site(warehouse, "ZZZ")
    assert cache.call(warehouse, "count", ("quality",), fn, scope()) == 1
    assert cache.call(warehouse, "count", ("quality",), fn, scope()) == 1
    assert fn.calls == 1
    add_site(warehouse, "YYY")  # new data: a new version, a new key
    cache._forget_versions()
    assert cache.call(warehouse, "count", ("quality",), fn, scope()) == 2
    assert fn.calls == 2


def test_keys_hold_sites_network_window_slot_and_arguments_but_not_the_user_or_role(duckdb_warehouse):
    wh = duckdb_warehouse
    add_site(wh, "ZZZ")
    cache = result_cache.ResultCache(SimpleCache(), "t", window_s=60)
    fn = Counting()
    call = lambda s, extra=None: cache.call(wh, "count", ("quality",), fn, s, extra)  # noqa: E731
    call(scope(user="u1"))
    call(scope(user="u2"))  # another user of the same role and sites: the same answer
    call(scope(role="auditor"))  # another role of the same sites and network row: the same answer
    call(scope(role="site_manager"))  # ZZZ and the network row, as the leader's scope here: the same
    assert fn.calls == 1
    call(scope(end=datetime(2026, 5, 1, 12, 0, 50)))  # same 60 s slot
    assert fn.calls == 1
    assert fn.scopes[0].end == datetime(2026, 5, 1, 12, 0, 0)  # computed for the slot's start
    assert fn.scopes[0].end - fn.scopes[0].start == pd.Timedelta(days=30)  # same window length
    call(scope(end=datetime(2026, 5, 1, 12, 1, 5)))  # next slot
    call(scope(sites=("ZZZ", "YYY")))
    call(scope(role="admin"))  # no sites and no network row
    call(scope(), extra=7)
    assert fn.calls == 5


def test_a_failing_backend_never_fails_the_page(duckdb_warehouse):
    class Broken:
        def get(self, key):
            raise ConnectionError("redis down")

        set = add = delete = get

    cache = result_cache.ResultCache(Broken(), "t")
    fn = Counting()
    assert cache.call(duckdb_warehouse, "count", ("quality",), fn, scope()) == 0
    assert cache.call(duckdb_warehouse, "count", ("quality",), fn, scope()) == 0
    assert fn.calls == 2 and cache.stats.errors > 0


def test_concurrent_misses_compute_once(duckdb_warehouse):
    cache = result_cache.ResultCache(SimpleCache(), "t")
    calls = []

    def slow(wh, s):
        calls.append(1)
        time.sleep(0.3)
        return "answer"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.call(duckdb_warehouse, "slow", ("quality",),
                                                                         slow, scope()))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["answer"] * 8
    assert len(calls) == 1


@pytest.mark.postgres
def test_workers_share_answers_through_redis_and_a_write_anywhere_invalidates(tmp_path):
    """Two 'workers' (their own engines and caches) on one Redis; a third process writes."""
    from cachelib import RedisCache
    from conftest import make_warehouse
    from redis import Redis

    prefix = f"atmp-test-{uuid.uuid4().hex[:8]}:"
    client = Redis.from_url(REDIS_URL)
    with make_warehouse("postgres", tmp_path) as writer:
        add_site(writer, "ZZZ")
        workers = [Warehouse(writer.url) for _ in range(2)]
        try:
            caches = [result_cache.ResultCache(RedisCache(host="127.0.0.1", port=6379, db=15, key_prefix=prefix),
                                               result_cache.namespace_for(w)) for w in workers]
            fns = [Counting(), Counting()]
            assert caches[0].call(workers[0], "count", ("quality",), fns[0], scope()) == 1
            assert caches[1].call(workers[1], "count", ("quality",), fns[1], scope()) == 1
            assert (fns[0].calls, fns[1].calls) == (1, 0)  # the second worker got the first one's answer
            add_site(writer, "YYY")
            for c in caches:
                c._forget_versions()
            assert caches[1].call(workers[1], "count", ("quality",), fns[1], scope()) == 2
            assert caches[0].call(workers[0], "count", ("quality",), fns[0], scope()) == 2
            assert (fns[0].calls, fns[1].calls) == (1, 1)
        finally:
            for w in workers:
                w.dispose()
            for key in client.scan_iter(match=f"{prefix}*"):
                client.delete(key)


# --- cached callback responses on the app ----------------------------------------------------------------
OVERVIEW = list(ids.OV_REFRESH)


@pytest.mark.requirement("URS-KPI-012")
def test_cached_overview_is_the_uncached_answer_and_is_shared_only_within_a_scope(hub_app, make_client,
                                                                                   sample_warehouse):
    stats = hub_app.server.extensions["atmp_response_cache_stats"]
    uncached = app_for(Warehouse(sample_warehouse.url), now=TEST_END.isoformat(), cache_ttl_s=0)
    assert "atmp_response_cache_stats" not in uncached.server.extensions
    inputs = {f"{ids.OV_WINDOW}.value": 180}
    first = dash_call(make_client("t.leader"), hub_app, OVERVIEW, inputs)
    hits = stats.hits
    second = dash_call(make_client("t.leader"), hub_app, OVERVIEW, inputs)  # another session, same scope
    assert stats.hits == hits + 1
    assert first.data == second.data
    from conftest import login

    plain = uncached.server.test_client()
    assert login(plain, "t.leader").status_code == 302
    reference = dash_call(plain, uncached, OVERVIEW, inputs)
    assert reference.status_code == 200 and reference.data == first.data  # the cache changes no answer

    chi = dash_call(make_client("t.manager.chi"), hub_app, OVERVIEW, inputs)
    atl = dash_call(make_client("t.manager.atl"), hub_app, OVERVIEW, inputs)
    assert b"CHI" in chi.data and b"ATL-" not in chi.data and b"ATL" in atl.data and chi.data != atl.data

    hits = stats.hits
    with sample_warehouse.transaction() as conn:  # new data (here: only its version): a new key
        data_version.note_write(conn, "deviations")
    time.sleep(result_cache.VERSION_MEMO_S + 0.1)
    dash_call(make_client("t.leader"), hub_app, OVERVIEW, inputs)
    assert stats.hits == hits


def test_callbacks_that_write_export_or_read_the_audit_trail_are_never_cached():
    cached = set().union(*CACHEABLE)
    for never in (ids.MON_ACK_RESULT, ids.AUDIT_TABLE, ids.AUDIT_DOWNLOAD, ids.AUDIT_VERIFY_RESULT):
        assert never not in cached
    assert output_ids("..a.children...b.figure..") == {"a", "b"}
    assert output_ids("a.children") == {"a"}


def test_while_an_answer_is_recomputed_the_same_request_gets_the_previous_one(hub_app, make_client,
                                                                               sample_warehouse, monkeypatch):
    backend = next(iter(hub_app.server.extensions["cache"].values()))
    stats = hub_app.server.extensions["atmp_response_cache_stats"]
    client = make_client("t.display")
    inputs = {f"{ids.OV_WINDOW}.value": 365}
    before = dash_call(client, hub_app, OVERVIEW, inputs)
    with sample_warehouse.transaction() as conn:  # new data: the cached answer is no longer current
        data_version.note_write(conn, "deviations")
    time.sleep(result_cache.VERSION_MEMO_S + 0.1)
    monkeypatch.setattr(backend, "add", lambda key, *a, **k: False)  # as if another worker were computing
    stale = stats.stale
    during = dash_call(client, hub_app, OVERVIEW, inputs)
    assert during.headers.get("X-Atmp-Cache") == "previous" and during.data == before.data
    assert stats.stale == stale + 1
    monkeypatch.undo()
    after = dash_call(client, hub_app, OVERVIEW, inputs)  # the recomputation: a fresh answer, stored
    assert after.status_code == 200 and after.headers.get("X-Atmp-Cache") is None


# --- refresh behind ------------------------------------------------------------------------------------
@pytest.fixture
def sensor_data(monkeypatch):
    """new readings through the ingest path: live and (unthrottled here) measurements change, quality not."""
    monkeypatch.setattr(data_version, "MEASUREMENTS_EVERY_S", 0)

    def land(wh: Warehouse) -> None:
        before = data_version.current(wh)
        with wh.transaction() as conn:  # written and taken back: versions move, the data stay as they were
            row = {"ts": datetime(2026, 1, 1)}
            conn.execute(text("INSERT INTO ingest_heartbeats (source, site_id, ts) VALUES ('gw', 'AAA', :ts)"), row)
            conn.execute(text("DELETE FROM ingest_heartbeats WHERE source = 'gw' AND site_id = 'AAA' AND ts = :ts"),
                         row)
        after = data_version.current(wh)
        assert after["measurements"] != before["measurements"] and after["quality"] == before["quality"]
    return land


def test_after_sensor_data_or_a_new_slot_the_newest_answer_serves_while_it_refreshes_behind(duckdb_warehouse,
                                                                                             sensor_data):
    wh = duckdb_warehouse
    add_site(wh, "ZZZ")
    cache = result_cache.ResultCache(SimpleCache(), "t", window_s=60, refresh_behind=True)
    fn = Counting()
    measured = ("measurements", "quality")

    def call(s, domains=measured):
        box = result_cache.mark_request()
        return cache.call(wh, "count", domains, fn, s), box.value

    assert call(scope()) == (1, False) and fn.calls == 1
    add_site(wh, "YYY")  # quality data: the first caller computes the new answer, never a previous one
    cache._forget_versions()
    assert call(scope()) == (2, False) and fn.calls == 2

    sensor_data(wh)
    cache._forget_versions()
    assert call(scope()) == (2, True)  # the newest answer at once; the request is marked
    cache.drain()
    assert fn.calls == 3 and cache.stats.refreshed == 1  # recomputed behind
    assert call(scope()) == (2, False) and fn.calls == 3  # now the current answer, from the cache

    assert call(scope(end=datetime(2026, 5, 1, 12, 1, 10))) == (2, True)  # a new slot: the same
    cache.drain()
    assert fn.calls == 4 and fn.scopes[-1].end == datetime(2026, 5, 1, 12, 1, 0)
    assert call(scope(end=datetime(2026, 5, 1, 12, 9, 0)))[1] is False  # more than two slots on: computed
    assert call(scope(end=datetime(2026, 4, 1, 12, 0, 0)))[1] is False  # an earlier window: never another's
    assert call(scope(sites=("ZZZ", "YYY")))[1] is False  # other sites: their own answer
    sensor_data(wh)
    cache._forget_versions()
    assert call(scope(), domains=("live", "measurements", "quality"))[1] is False  # live tiles: always current
    assert cache.stats.previous == 2


def test_a_response_built_from_a_previous_answer_is_not_stored_as_current(hub_app, make_client, sample_warehouse,
                                                                          sensor_data):
    stats = hub_app.server.extensions["atmp_response_cache_stats"]
    results = result_cache.for_warehouse(sample_warehouse)
    assert results is not None and results.refresh_behind
    client = make_client("t.leader")
    inputs = {f"{ids.OV_WINDOW}.value": 180}
    first = dash_call(client, hub_app, OVERVIEW, inputs)
    assert first.status_code == 200
    results.drain()
    sensor_data(sample_warehouse)
    time.sleep(result_cache.VERSION_MEMO_S + 0.1)
    stored, previous = stats.stored, results.stats.previous
    during = dash_call(client, hub_app, OVERVIEW, inputs)  # uptime and completeness: previous answers
    assert during.status_code == 200 and results.stats.previous > previous
    assert stats.stored == stored  # not kept as the answer for the new versions
    results.drain()
    after = dash_call(client, hub_app, OVERVIEW, inputs)  # refreshed: computed from current answers, stored
    assert after.status_code == 200 and stats.stored == stored + 1
    hits = stats.hits
    assert dash_call(client, hub_app, OVERVIEW, inputs).data == after.data and stats.hits == hits + 1


def test_the_drift_and_risk_analyses_are_recomputed_after_new_data(sample_warehouse, tmp_path, monkeypatch):
    """No analysis keeps answers of its own: within an hour they are one result-cache answer, and a write
    to the data they read (a new version) makes them compute again (after sensor data only, the drift
    chart is recomputed behind: the previous answer serves meanwhile, as every cached answer; the risk
    model reads no readings and is not recomputed)."""
    from export_helpers import copied_app

    from queries.analyses import risk, sensor_drift

    runs = {"risk": 0, "drift": 0}

    def counted(name, fn):
        def run(*args, **kwargs):
            runs[name] += 1
            return fn(*args, **kwargs)
        return run

    monkeypatch.setattr(risk, "_compute", counted("risk", risk._compute))
    monkeypatch.setattr(sensor_drift, "daily_means", counted("drift", sensor_drift.daily_means))
    with copied_app(sample_warehouse, tmp_path) as (_app, wh):
        cache = result_cache.for_warehouse(wh)
        leader = build_scope(user_id="t.leader", role="leadership", own_site=None, days=90, end=TEST_END,
                             all_sites=list(wh.query("sql/site_ids")["site_id"]))

        def computed(*, later_in_the_hour: bool = False) -> dict[str, int]:
            """Which analyses ran when both were asked for (a refresh behind included)."""
            s = replace(leader, end=leader.end + timedelta(minutes=20)) if later_in_the_hour else leader
            before = dict(runs)
            risk.network_risk(wh, s)
            sensor_drift.analyse(wh, s)
            cache.drain()
            return {name: runs[name] - before[name] for name in runs}

        both, neither = {"risk": 1, "drift": 1}, {"risk": 0, "drift": 0}
        assert computed() == both
        assert computed() == neither and computed(later_in_the_hour=True) == neither
        with wh.transaction() as conn:
            data_version.note_write(conn, "deviations")  # quality data: both analyses read it
        assert computed() == both
        data_version.bump(wh, data_version.MEASUREMENTS)  # sensor readings: the risk model reads none
        assert computed() == {"risk": 0, "drift": 1}
        assert computed() == neither
        auditor = replace(leader, user_id="t.auditor", role="auditor")  # the same sites: the same charts
        sensor_drift.analyse(wh, auditor)
        assert runs["drift"] == 3


def test_no_query_reads_the_role_so_roles_of_the_same_sites_share_answers(sample_warehouse):
    """The result cache keys a scope by its sites, network row and window, not by role: sound only while
    an answer under a scope never depends on who asks. Every KPI under a leader's and an auditor's scope,
    and under a site manager's and a leader's narrowed to that site, is the same frame; and no module of
    the query layer reads a role except those that manage accounts and the notification rules' check of
    who may change them (none of them answers through the cache)."""
    import re
    from pathlib import Path

    from queries.kpi.kpis import kpi_frame

    sites = list(sample_warehouse.query("sql/site_ids")["site_id"])

    def scope(role, own=None):
        return build_scope(user_id=f"u.{role}", role=role, own_site=own, all_sites=sites, end=TEST_END, days=90)
    pairs = ((scope("leadership"), scope("auditor")),
             (scope("site_manager", "CHI"), scope("leadership").for_site("CHI", with_network=True)))
    for a, b in pairs:
        assert (a.site_ids, a.network, a.start, a.end) == (b.site_ids, b.network, b.start, b.end)
        # Row order within a KPI is the engine's (no ORDER BY after ROLLUP): compared by kpi and site.
        first, second = (kpi_frame(sample_warehouse, s).sort_values(["kpi_id", "site_id"], ignore_index=True)
                         for s in (a, b))
        pd.testing.assert_frame_equal(first, second)
    root = Path(__file__).resolve().parent.parent / "queries"
    readers = sorted(p.name for p in root.rglob("*.py") if re.search(r"\.role\b", p.read_text()))
    assert readers == ["administration.py", "display_tokens.py", "rules.py", "users.py"], readers
    assert result_cache._key_part(pairs[0][0]) == result_cache._key_part(pairs[0][1])


def test_systemic_clusters_are_computed_once_per_signals_visit(sample_warehouse, tmp_path, monkeypatch):
    """The clusters' callback and the CAPA proposals both read systemic_signals: with the result cache on,
    the clustering runs once for the two, and again after quality data (a new version)."""
    from export_helpers import copied_app

    from queries.analyses import proposals, signals
    from queries.stats import systemic

    runs = []
    real = systemic.clusters_for_keys

    def counted(*args, **kwargs):
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(signals, "clusters_for_keys", counted)
    with copied_app(sample_warehouse, tmp_path) as (_app, wh):
        leader = build_scope(user_id="t.leader", role="leadership", own_site=None, days=90, end=TEST_END,
                             all_sites=list(wh.query("sql/site_ids")["site_id"]))
        first = signals.systemic_signals(wh, leader, signals.SYSTEMIC_DEFAULT_WINDOW)
        proposals.for_scope(wh, leader, signals.SYSTEMIC_DEFAULT_WINDOW)
        assert len(runs) == 1
        assert signals.systemic_signals(wh, leader, signals.SYSTEMIC_DEFAULT_WINDOW).clusters.equals(first.clusters)
        assert len(runs) == 1
        with wh.transaction() as conn:
            data_version.note_write(conn, "deviations")
        signals.systemic_signals(wh, leader, signals.SYSTEMIC_DEFAULT_WINDOW)
        assert len(runs) == 2
