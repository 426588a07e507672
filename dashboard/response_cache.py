"""Whole callback responses, cached for read-only callbacks that every screen of a role asks alike.

A hundred wall displays refreshing the overview send byte-identical requests; rebuilding the tiles
and the site x KPI grid for each (about 0.1 s of Python at 21 sites, even with every KPI cached) is
what would saturate two cores. So for the callbacks listed in ``CACHEABLE`` the JSON response itself
is kept, keyed by:

- the callback (its outputs), every input and state value the browser sent, and which input fired;
- the user's role and site: everything the server builds the scope from (context.scope), so one role
  or site never receives another's answer;
- the data versions the answer depends on (queries/engine/data_version.py): new data means a new key;
- the time slot of the page's clock (context.now()): 60 s for KPI pages, the live refresh period for
  live tiles, so a cached "refreshed at" is never older than one slot.

While one request recomputes an answer (new data, a new slot), concurrent identical requests get the
previous answer to the same request (same callback, inputs, role and site) at once instead of queueing
behind it: a wall display is at most one recomputation behind, never seconds late. Requests with no
previous answer compute.

The guard (dashboard/auth.py) runs first: unauthenticated, cross-origin or role-refused requests
never reach this hook. Only 200 responses without side updates (error banners) are stored. Callbacks
that write, export or read the audit trail are not listed and never cached.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from flask import Flask, Response, g, request
from flask_login import current_user

from dashboard import ids
from queries.engine import data_version, result_cache

logger = logging.getLogger(__name__)

PATH = "/_dash-update-component"
LIVE = "live"  # slot: the live refresh period (ATMP_MONITORING_REFRESH_S)
WINDOW = "window"  # slot: ATMP_CACHE_WINDOW_S

# Callback (set of output component ids) -> (slot its answers live in, data domains they depend on).
# Live tiles follow every ingest batch; KPI pages and every "data as of" line follow the measurements
# (at most every 5 minutes); analyses of finished days, batches and surveys only quality data.
_KPI = (data_version.MEASUREMENTS, data_version.QUALITY)
_LIVE = (data_version.LIVE, data_version.QUALITY)
_QUALITY = (data_version.QUALITY,)
CACHEABLE: dict[frozenset[str], tuple[str, tuple[str, ...]]] = {
    frozenset(ids.OV_REFRESH): (WINDOW, _KPI),
    frozenset({ids.OV_EXC_TILES, ids.OV_EXC_AS_OF}): (LIVE, _LIVE),
    frozenset({ids.MON_SITES, ids.MON_NET_AS_OF}): (LIVE, _LIVE),
    frozenset({ids.MON_LIVE, ids.MON_EXCURSIONS, ids.MON_AS_OF, ids.MON_ACK_EXCURSION}): (LIVE, _LIVE),
    frozenset({ids.MON_TREND}): (LIVE, _LIVE),
    frozenset({"site-title", ids.SITE_BODY, ids.SITE_AS_OF}): (WINDOW, _KPI),
    frozenset({ids.SIG_IMR, ids.SIG_IMR_SUMMARY, ids.SIG_IMR_TABLE}): (WINDOW, _QUALITY),
    frozenset({ids.SIG_SENSOR, ids.SIG_DRIFT, ids.SIG_DRIFT_SUMMARY, ids.SIG_DRIFT_TABLE}): (WINDOW, _QUALITY),
    frozenset({ids.SIG_SYSTEMIC}): (WINDOW, _QUALITY),
    frozenset({ids.SIG_RISK, ids.SIG_AS_OF}): (WINDOW, _KPI),
    frozenset({ids.CMP_BODY, ids.CMP_AS_OF}): (WINDOW, _KPI),
    frozenset({ids.PPL_SURVEY}): (WINDOW, _QUALITY),
    frozenset({ids.PPL_BEHAVIOUR, ids.PPL_TRAINING, ids.PPL_SOP, ids.PPL_AS_OF}): (WINDOW, _KPI),
    # Kiosk slides: the slide shown first follows the wall clock, but kiosk.js re-picks the visible
    # slide every second, so a cached answer is at most a second off in that.
    frozenset({ids.KIOSK_SLIDES, ids.KIOSK_AS_OF}): (WINDOW, _KPI),
}
LOCK_S = 30  # a computation that takes longer than this lets the next request compute too
LATEST_S = 3600  # how long the newest answer is kept to bridge a recomputation


@dataclass
class ResponseStats:
    hits: int = 0
    stored: int = 0
    stale: int = 0  # answered with the previous answer while another request recomputed it


def output_ids(output: str) -> frozenset[str]:
    """Component ids in Dash's output spec ('..a.children...b.children..' or 'a.children')."""
    return frozenset(part.rsplit(".", 1)[0] for part in output.strip(".").split("...") if part)


def init_response_cache(server: Flask, backend, namespace: str, *, window_s: int, live_s: int, ttl_s: int) -> None:
    """Register the hooks; call after the auth guard is registered (it must run first)."""
    stats = ResponseStats()
    server.extensions["atmp_response_cache_stats"] = stats

    def slot_seconds(kind: str) -> int:
        return max(1, live_s if kind == LIVE else window_s)

    @server.before_request
    def _answer_from_cache():
        if request.path != PATH or request.method != "POST" or not current_user.is_authenticated:
            return None
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("output"), str):
            return None
        entry = CACHEABLE.get(output_ids(body["output"]))
        if entry is None:
            return None
        kind, domains = entry
        from dashboard import context

        wh = context.warehouse()
        results = result_cache.for_warehouse(wh)
        versions = results.versions(wh) if results is not None else data_version.current(wh)
        if versions is None:
            return None
        slot = int(context.now().timestamp() // slot_seconds(kind))
        request_part = {"output": body["output"], "inputs": body.get("inputs"), "state": body.get("state"),
                        "changed": body.get("changedPropIds"), "role": current_user.role,
                        "site": current_user.site_id}
        key = _key(namespace, "response", {**request_part, "versions": {d: versions[d] for d in domains},
                                           "slot": slot})
        latest = _key(namespace, "latest", request_part)  # the newest answer to the same request, any version
        try:
            cached = backend.get(key)
            if cached is not None:
                stats.hits += 1
                return Response(cached, status=200, mimetype="application/json")
            owner = bool(backend.add(f"{key}:lock", 1, timeout=LOCK_S))
            if not owner:  # another request computes this answer now: the previous one meanwhile
                previous = backend.get(latest)
                if previous is not None:
                    stats.stale += 1
                    return Response(previous, status=200, mimetype="application/json",
                                    headers={"X-Atmp-Cache": "previous"})
        except Exception as exc:
            logger.warning("response cache failed (%s); answering uncached", exc)
            return None
        g.atmp_response_key = (key, latest, owner, result_cache.mark_request())
        return None

    @server.after_request
    def _store(response: Response) -> Response:
        pending = g.pop("atmp_response_key", None)
        if pending is None:
            return response
        key, latest, owner, previous = pending
        try:
            payload = response.get_data()
            if (response.status_code == 200 and response.mimetype == "application/json"
                    and not response.headers.get("Content-Encoding")
                    and b'"sideUpdate"' not in payload):  # an error banner (dashboard/errors.py) is no answer
                # Built from an answer refreshed behind (queries/engine/result_cache.py): the newest answer to
                # bridge with, but not the answer for these data versions.
                if not previous.value:
                    backend.set(key, payload, timeout=ttl_s)
                    stats.stored += 1
                backend.set(latest, payload, timeout=max(ttl_s, LATEST_S))
            if owner:
                backend.delete(f"{key}:lock")
        except Exception as exc:
            logger.warning("response cache set failed (%s)", exc)
        return response


def _key(namespace: str, kind: str, material: dict) -> str:
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:40]
    return f"atmp:{namespace}:{kind}:{digest}"
