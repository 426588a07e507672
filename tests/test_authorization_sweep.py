"""Authorization sweep: every callback Dash declares, for every role, with forged inputs.

Reads /_dash-dependencies, so a callback added later is swept too, and fails when a callback
function does not derive the user's scope on the server (structural check below)."""

from __future__ import annotations

import inspect
import itertools
import json
import re

import dash
import pytest
from conftest import PASSWORDS, dash_call

SITES = ("HUB", "BOS", "NYC", "ATL", "CHI", "DEN", "PHX", "SEA", "SFO")
PERSONAL = re.compile(r"\bOP-[0-9A-F]{4}\b|t\.(leader|manager\.\w+|auditor|admin)\b")


def other_site_marks(own: str) -> list[re.Pattern]:
    """What names another site in a response: its id as a prefix of rooms, batches and deviations, or
    in a label. A site manager must see none (the rest of the network appears only as 'Network')."""
    return [re.compile(rf"(?<![A-Z]){s}(-|\)| ·|\\u00b7|\"[,}}])") for s in SITES if s != own]


def forged_values(own: str | None) -> list:
    other = "ATL" if own != "ATL" else "CHI"
    return [None, other, [other, own or "CHI"], {"site": other}, "' OR 1=1 --"]
# Guards a callback must call (directly) so its answer depends on the server-side user.
GUARDS = ("context.scope(", "context.require_page(", "context.user(", "context.require_role(",
          "require_roles(", "guarded_scope(", "context.allowed(")


def _callbacks(client):
    deps = client.get("/_dash-dependencies").get_json()
    return [d for d in deps if not d["output"].startswith("..") or "_pages" not in d["output"]]


def _targets(dep) -> list[str]:
    return [o.rsplit(".", 1)[0] for o in dep["output"].strip(".").split("...")]


def _inputs(dep, value):
    """Every input and state set to the same forged value (pattern ids are sent as declared)."""
    return {f"{i['id']}.{i['property']}": value for i in dep["inputs"] + dep.get("state", [])
            if isinstance(i["id"], str)}


def _call(client, app, dep, value):
    outputs = _targets(dep)
    if any(o.startswith("{") for o in outputs):
        return None  # pattern-matching outputs: swept through their page's own tests
    state = {k: v for k, v in _inputs(dep, value).items()
             if k.split(".")[0] in {s["id"] for s in dep.get("state", [])}}
    inputs = {k: v for k, v in _inputs(dep, value).items() if k not in state}
    return dash_call(client, app, outputs, inputs, state)


@pytest.mark.requirement("URS-ACC-002")
def test_every_callback_function_derives_scope_on_the_server():
    from dash._callback import GLOBAL_CALLBACK_MAP

    unguarded = []
    for output, spec in GLOBAL_CALLBACK_MAP.items():
        func = spec.get("callback")
        original = inspect.unwrap(func) if func else None
        if original is None or original.__module__.startswith("dash."):
            continue
        source = inspect.getsource(original)
        if not any(guard in source for guard in GUARDS):
            unguarded.append(f"{original.__module__}.{original.__name__} ({output})")
    assert not unguarded, "callbacks that never ask the server who the user is:\n" + "\n".join(unguarded)


@pytest.mark.requirement("URS-ACC-001")
def test_anonymous_and_expired_sessions_get_nothing(hub_app):
    anonymous = hub_app.server.test_client()
    assert anonymous.get("/_dash-dependencies").status_code == 401
    forged = hub_app.server.test_client()
    forged.set_cookie("atmp_session", "eyJfdXNlcl9pZCI6InQubGVhZGVyOjEifQ.forged.signature")
    payload = {"output": "overview-tiles.children", "outputs": {"id": "overview-tiles", "property": "children"},
               "inputs": [{"id": "overview-window", "property": "value", "value": 90}],
               "changedPropIds": ["overview-window.value"], "state": []}
    for client in (anonymous, forged):
        response = client.post("/_dash-update-component", json=payload, headers={"Origin": "http://localhost"})
        assert response.status_code == 401
        assert "CHI" not in response.get_data(as_text=True)


@pytest.mark.requirement("URS-KIO-007")
@pytest.mark.parametrize("user_id", sorted(PASSWORDS))
@pytest.mark.requirement("URS-ACC-002", "URS-ACC-003")
def test_sweep_every_callback_with_forged_inputs(make_client, hub_app, user_id):
    role, own_site = PASSWORDS[user_id]
    client = make_client(user_id)
    checked = 0
    marks = other_site_marks(own_site) if role == "site_manager" else []
    for dep, value in itertools.product(_callbacks(client), forged_values(own_site)):
        if "_pages" in dep["output"] or dep.get("clientside_function"):
            continue
        response = _call(client, hub_app, dep, value)
        if response is None:
            continue
        checked += 1
        body = response.get_data(as_text=True)
        where = f"{user_id} -> {dep['output']} with {value!r}"
        assert response.status_code in (200, 204, 403, 404), f"{where}: {response.status_code} {body[:300]}"
        assert "Traceback" not in body and "sqlalchemy" not in body.lower(), where
        if response.status_code != 200:
            continue
        if role == "site_manager":
            leaks = [m.pattern for m in marks if m.search(body)]
            assert not leaks, f"{where}: other sites' data {leaks}: {body[:500]}"
        if role in ("admin",):
            assert not re.search(r"CHI-|\"CHI\"|CHI ·", body), f"{where}: admin received quality data"
        if role == "display":
            assert not PERSONAL.search(body), f"{where}: personal data on a wall display"
    assert checked > 0


@pytest.mark.requirement("URS-KIO-006")
@pytest.mark.requirement("URS-ACC-002")
def test_every_page_layout_is_refused_to_roles_without_it(make_client, hub_app):
    from dashboard.context import PAGE_ROLES

    for user_id, (role, _site) in PASSWORDS.items():
        client = make_client(user_id)
        for page in dash.page_registry.values():
            template = page.get("path_template") or page["path"]
            allowed = PAGE_ROLES.get(template)
            if allowed is None or role in allowed:
                continue
            path = re.sub(r"<[^>]+>", "CHI", template)
            response = dash_call(client, hub_app, ["_pages_content", "_pages_store"],
                                 {"_pages_location.pathname": path, "_pages_location.search": ""})
            body = json.dumps(response.get_json()) if response.status_code == 200 else ""
            assert response.status_code in (200, 403), f"{user_id} {path}: {response.status_code}"
            if response.status_code == 200:
                assert "page-denied" in body, f"{user_id} opened {path}"
