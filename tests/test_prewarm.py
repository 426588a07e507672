"""The network overview computed at start-up (dashboard/prewarm.py): once the app's prewarm has run, the
first overview a leader or a wall display asks for reads nothing but the user and the list of sites (every
answer is in the result cache); without the prewarm, the same request runs the KPI catalogue's queries. The real app and warehouse
answer; a spy only records which named queries Warehouse.query runs."""

from __future__ import annotations

import threading

import pytest
from conftest import TEST_END, app_for, dash_call, login

from dashboard import ids
from queries.engine.warehouse import Warehouse
from queries.kpi import catalog

KPI_QUERIES = {k.query for k in catalog.CATALOG if k.query}  # (computed KPIs have none)


# The app's background workers, which poll the warehouse on their own clock, whoever asks for a page.
BACKGROUND_THREADS = {"notify-dispatcher", "drop-folder", "ingest-writer"}


class QueriesRun(list):
    """(thread name, query name) of each query Warehouse.query runs, in any thread: the prewarm runs in its
    own, the overview computes its KPIs on a pool, and the background workers poll when they like."""

    def names(self) -> set[str]:
        return {name for _, name in self}

    def for_requests(self) -> set[str]:
        """What was read on behalf of a request (its own thread and the KPI pool), not by a background poll."""
        return {name for thread, name in self if thread not in BACKGROUND_THREADS}


@pytest.fixture
def queries_run(monkeypatch) -> QueriesRun:
    """The queries Warehouse.query runs from now on (each still runs for real)."""
    seen = QueriesRun()
    real = Warehouse.query

    def recording(self, name, *args, **kwargs):
        seen.append((threading.current_thread().name, name))
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(Warehouse, "query", recording)
    return seen


def first_overview(app, user_id: str):
    client = app.server.test_client()
    assert login(client, user_id).status_code == 302
    response = dash_call(client, app, list(ids.OV_REFRESH), {f"{ids.OV_WINDOW}.value": 90})
    assert response.status_code == 200, response.data[:300]
    return response.get_json()


@pytest.mark.parametrize("user_id", ["t.leader", "t.display"])
def test_the_first_overview_after_a_start_finds_every_kpi_computed(sample_warehouse, queries_run, user_id):
    app = app_for(sample_warehouse, now=TEST_END.isoformat(), prewarm=True, default_window_days=90)
    prewarm = app.server.extensions["atmp_prewarm"]
    assert prewarm is not None
    prewarm.join(timeout=300)
    assert not prewarm.is_alive()
    assert KPI_QUERIES <= queries_run.names(), "the prewarm ran the catalogue's queries"
    queries_run.clear()
    body = first_overview(app, user_id)
    assert body["response"][ids.OV_TILES]["children"], "the overview drew its tiles"
    # Only who is asking and the list of sites (the scope is built per request) are read: no KPI, not even
    # the computed ones (prediction accuracy, prevented failures: the risk model's reads). A background worker's
    # poll in the meantime (the notification outbox's next-due) is not the request's.
    read = queries_run.for_requests()
    assert read <= {"sql/user_get", "sql/site_ids"}, sorted(read)


def test_without_the_prewarm_the_first_overview_computes_the_catalogue(sample_warehouse, queries_run):
    """Negative control: the spy sees what the test above says is absent."""
    app = app_for(sample_warehouse, now=TEST_END.isoformat(), prewarm=False, default_window_days=90)
    assert app.server.extensions["atmp_prewarm"] is None
    first_overview(app, "t.leader")
    assert KPI_QUERIES <= queries_run.for_requests()


def test_no_prewarm_when_the_result_cache_is_off(sample_warehouse):
    app = app_for(sample_warehouse, now=TEST_END.isoformat(), prewarm=True, cache_ttl_s=0)
    assert app.server.extensions["atmp_prewarm"] is None


def test_a_freshly_started_server_computes_the_overview_before_anyone_asks(sample_network, tmp_path):
    """`atmp-hub serve` as its own process, on a copy of the sample network, with the settings' defaults:
    before any request, it says it has computed the network overview."""
    import os
    import shutil
    import subprocess
    import sys
    import threading
    import urllib.request
    from pathlib import Path

    from live_support import free_port, wait_for

    shutil.copy(sample_network[0], tmp_path / "hub.duckdb")
    port = free_port()
    env = {**os.environ, "ATMP_DATABASE_URL": f"duckdb:///{tmp_path / 'hub.duckdb'}", "ATMP_PORT": str(port),
           "ATMP_HOST": "127.0.0.1", "ATMP_NOW": TEST_END.isoformat(), "ATMP_SIMULATOR": "false",
           "PYTHONUNBUFFERED": "1"}
    env.pop("ATMP_PREWARM", None)
    server = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve"], env=env, text=True,
                              cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    said: list[str] = []
    threading.Thread(target=lambda: said.extend(server.stderr), daemon=True).start()
    try:
        wait_for(lambda: any("prewarm: the network overview is computed" in line for line in said), 120,
                 message="the prewarm's line")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as response:
            assert response.status == 200
        assert not any("not computed ahead" in line for line in said), said
    finally:
        server.terminate()
        server.wait(timeout=30)
