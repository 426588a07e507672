"""The network overview computed at start-up, before anyone asks (issue 30): the first leader to sign in,
and every wall display after a restart, would otherwise wait for the whole KPI catalogue, the risk
model's KPIs among them (seconds on a large network), on their first request.

A background thread fills the result cache (queries/engine/result_cache.py) with what the overview reads
for the network scope (quality leadership, auditors and wall displays see every site): each KPI for the
default window and the headline KPIs for the window before it, the sites and the data's age. The cache
keys on the scope's sites and window, never on who asks, so those requests then find every answer. Site
managers' scopes (one site each) are left to their first request. Nothing is prewarmed when the result
cache is off (ATMP_CACHE_TTL_S=0) or ATMP_PREWARM is false."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

logger = logging.getLogger(__name__)


def start(server: Flask) -> threading.Thread | None:
    settings = server.extensions["atmp_settings"]
    if not settings.prewarm or settings.cache_ttl_s <= 0:
        return None
    thread = threading.Thread(target=_run, args=(server,), name="atmp-prewarm", daemon=True)
    thread.start()
    return thread


def _run(server: Flask) -> None:
    from dashboard import context, data
    from queries.engine.scope import build_scope
    from queries.kpi import catalog

    started = time.perf_counter()
    try:
        with server.app_context():
            wh = context.warehouse()
            scope = build_scope(user_id="prewarm", role="leadership", own_site=None,
                                all_sites=list(wh.query("sql/site_ids")["site_id"]), end=context.now(),
                                days=context.window_days(None))
            data.kpis(scope)
            data.kpis(scope.previous_window(), [k.id for k in catalog.HEADLINE])
            data.sites(scope)
            data.data_as_of()
    except Exception as exc:  # no schema yet, warehouse away: the first request computes it instead
        logger.warning("prewarm: the network overview was not computed ahead (%s)", exc)
        return
    logger.info("prewarm: the network overview is computed (%.1f s after the start)", time.perf_counter() - started)
