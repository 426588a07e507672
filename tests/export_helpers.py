"""Crafted requests for the pattern-matching export callbacks (what a browser, or a forger, sends)."""

from __future__ import annotations

import base64
import json
import shutil
from contextlib import contextmanager

from dashboard import ids
from dashboard.exports.sources import ITEMS

PAGE_STATES = {"overview": ["overview-window"], "site": ["site-window", "site-id"], "people": ["people-window"]}


def _sid(component_id) -> str:
    return json.dumps(component_id, sort_keys=True, separators=(",", ":"))


def export_call(client, page: str, item: str, fmt: str, *, days=90, site_id=None, formats=None, states=None):
    """POST the export callback as the browser would after a click on the item's `fmt` button.

    states: other State values the page's export callback takes (component id -> value), e.g. the
    product and CQA on /signals; a State not given is sent as None."""
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if f'"page":"{page}","type":"{ids.EXPORT_DOWNLOAD}"' in d["output"])
    formats = formats or (ITEMS[(page, item)].formats if (page, item) in ITEMS else (fmt,))
    buttons = [{"id": ids.export_button(page, item, f), "property": "n_clicks", "value": 1 if f == fmt else None}
               for f in formats]
    state_values = {"overview-window": days, "site-window": days, "site-id": site_id, "people-window": days,
                    **(states or {})}
    state = [{"id": s["id"], "property": s["property"], "value": state_values.get(s["id"])} for s in dep["state"]]
    payload = {
        "output": dep["output"],
        "outputs": [{"id": ids.export_download(page, item), "property": "data"},
                    {"id": ids.export_status(page, item), "property": "children"}],
        "inputs": [buttons],
        "state": state,
        "changedPropIds": [_sid(ids.export_button(page, item, fmt)) + ".n_clicks"],
    }
    return client.post("/_dash-update-component", json=payload, headers={"Origin": "http://localhost"})


def downloaded(response, page: str, item: str) -> tuple[bytes, str]:
    """(file bytes, file name) from a successful export response."""
    assert response.status_code == 200, response.data[:500]
    body = response.get_json()["response"]
    data = body[_sid(ids.export_download(page, item))]["data"]
    assert data and data.get("base64"), body
    return base64.b64decode(data["content"]), data["filename"]


@contextmanager
def copied_app(sample_warehouse, directory, prepare=None):
    """An app over a copy of the sample warehouse, for tests that change data (the shared one stays as
    it is). prepare(wh) runs on the copy before the app is built."""
    from conftest import TEST_END, app_for

    from queries.engine.warehouse import Warehouse

    with sample_warehouse.engine.connect() as conn:
        conn.exec_driver_sql("CHECKPOINT")
    path = directory / "hub.duckdb"
    shutil.copy(sample_warehouse.url.removeprefix("duckdb:///"), path)
    wh = Warehouse(f"duckdb:///{path}")
    wh.create_schema()
    if prepare:
        prepare(wh)
    app = app_for(wh, now=TEST_END.isoformat())
    try:
        yield app, wh
    finally:
        wh.dispose()
