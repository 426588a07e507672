"""Every callback's ids exist in some page's layout, or in the content a page's own callback renders into
it (the check Dash skips for multi-page apps)."""

from __future__ import annotations

import json
import re

import dash
from conftest import dash_call


def _ids(node, found: set[str]) -> None:
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and "id" in props:
            ident = props["id"]
            found.add(ident if isinstance(ident, str) else json.dumps(ident, sort_keys=True))
        for value in node.values():
            _ids(value, found)
    elif isinstance(node, list):
        for value in node:
            _ids(value, found)


def _callback_ids(dep: dict) -> set[str]:
    names = {o.rsplit(".", 1)[0] for o in dep["output"].strip(".").split("...")}
    names |= {i["id"] for i in dep["inputs"] + dep.get("state", [])}
    return {n for n in names if not n.startswith("{")}  # pattern-matching ids are checked by type below


def test_every_callback_id_is_in_some_layout(make_client, hub_app, tmp_path):
    found: set[str] = set()
    for user_id in ("t.leader", "t.admin", "t.display"):
        client = make_client(user_id)
        _ids(client.get("/_dash-layout").get_json(), found)
        for page in dash.page_registry.values():
            path = re.sub(r"<[^>]+>", "CHI", page.get("path_template") or page["path"])
            response = dash_call(client, hub_app, ["_pages_content", "_pages_store"],
                                 {"_pages_location.pathname": path, "_pages_location.search": ""})
            if response.status_code == 200:
                _ids(response.get_json(), found)
    # Content rendered by a page's callback: the site page's body holds the deviation timeline, whose
    # clicks open a record.
    leader = make_client("t.leader")
    site = dash_call(leader, hub_app, ["site-title", "site-body", "site-as-of"], {"site-window.value": 90},
                     {"site-id.data": "CHI"})
    assert site.status_code == 200
    _ids(site.get_json(), found)
    # The remote acknowledgement form shows only for a valid link to an open excursion (none in the sample).
    from conftest import app_for, login
    from live_support import PASSWORD, open_excursion_with_link

    wh, _excursion, token = open_excursion_with_link(tmp_path / "ack.duckdb")
    try:
        ack_app = app_for(wh, simulator=False)
        manager = ack_app.server.test_client()
        assert login(manager, "mgr.chi", PASSWORD).status_code == 302
        ack = dash_call(manager, ack_app, ["_pages_content", "_pages_store"],
                        {"_pages_location.pathname": f"/ack/{token}", "_pages_location.search": ""})
        assert ack.status_code == 200 and "ack-link-submit" in json.dumps(ack.get_json())
        _ids(ack.get_json(), found)
    finally:
        wh.dispose()
    deps = leader.get("/_dash-dependencies").get_json()
    missing = {}
    for dep in deps:
        if dep.get("clientside_function") and dep["output"].startswith("_pages"):
            continue
        absent = _callback_ids(dep) - found - {"_pages_location", "_pages_content", "_pages_store",
                                                "_pages_dummy"}
        if absent:
            missing[dep["output"]] = sorted(absent)
    assert not missing, f"callbacks name components no page layout holds: {missing}"


def test_a_second_app_in_the_same_process_gets_every_callback(hub_app, sample_warehouse):
    """Page modules run once per app, helper modules import once per process: callbacks defined at a
    helper's import time reach only the first app (the bench and gunicorn's preload build more than one)."""
    from conftest import login, ready

    from dashboard.app import create_app

    second = ready(create_app(hub_app.server.extensions["atmp_settings"], sample_warehouse))

    def outputs(app):
        client = app.server.test_client()
        login(client, "t.leader")
        return {dep["output"] for dep in client.get("/_dash-dependencies").get_json()}

    first_outputs = outputs(hub_app)
    assert "..signals-risk.children...signals-as-of.children.." in first_outputs
    assert outputs(second) == first_outputs
