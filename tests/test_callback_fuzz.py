"""Type-confused input fuzz: every callback Dash declares, every input and state in turn, with values of
the wrong type, out of range or missing, as a forged browser could send them (issue 26.5).

The callbacks come from /_dash-dependencies, so a callback added later is fuzzed too. Each request
starts from the values the page's own layout holds for the role (so the callback gets past its site and
scope checks and reaches the value under test), then replaces one value. An answer may be a refusal
(400/403/404), no update (204) or a user-facing message; it may never be an HTTP 500, and no request may
log an exception: dashboard/errors.py logs every unhandled callback exception at ERROR ("callback
failed", behind the user's generic banner) and Flask logs an unhandled one ("Exception on ...") before
its 500. Both are caught by a handler on the root logger (``Failures``), request by request.

Affordable: a fixed list of values (no random draws), and each value reaches each input once, through one
of the roles that may use the callback (t.leader and t.manager.chi share the quality pages' callbacks,
in turns that rotate with the input; t.admin has the administration and audit pages to itself). A role
a callback refuses gets three values, to show the refusal holds whatever is sent."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

import dash
import pytest
from conftest import PASSWORDS, login

from dashboard import ids, inputs
from dashboard.exports.sources import ITEMS

ROLES = ("t.leader", "t.manager.chi", "t.admin")
MISSING = object()  # the input's entry is sent without its "value" key
LONG = "x" * 5000
# Every input gets each of these (None is sent as MISSING: Dash reads an absent value key as None,
# dash._utils.inputs_to_vals)...
TYPE_CONFUSED: tuple = (
    MISSING, "", ["CHI", "ATL"], [["CHI"], {"x": 1}], {"site": "ATL"}, 10**30, -1, "NaN", LONG,
    "0001-01-01", "9999-12-31", "not-a-date",
)
# ...and one of these, in turn: each callback with three or more inputs sees all three.
EXTRAS: tuple = (True, float("inf"), "a\x00b\ud800")  # a bool for a number, JSON's Infinity, NUL + a lone surrogate
# A role the callback refuses (403) gets these only, in every input at once: the refusal must hold.
REFUSED_VALUES: tuple = (["CHI", "ATL"], {"site": "ATL"}, MISSING)
# The pattern-matching export callbacks build a file per accepted request: their page's states get the
# values above that are most often mishandled, and their button's clicks a few of their own.
EXPORT_VALUES: tuple = (["CHI", "ATL"], {"site": "ATL"}, 10**30, "9999-12-31", MISSING)
CLICK_VALUES: tuple = ("1", [1], 10**30, MISSING)
# The item each page's export is fuzzed through: one reading the page's selections, in a data format.
EXPORT_ITEMS = {"overview": "kpis", "site": "capas", "people": "survey", "signals": "imr",
                "comparability": "tost", "monitoring_site": "trend"}
ORIGIN = {"Origin": "http://localhost"}
SITE = "CHI"  # the site in path templates: t.manager.chi's own, one every other role may open
URL = "/_dash-update-component"


def _show(value) -> str:
    if value is MISSING:
        return "<no value key>"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- what a browser would send ---------------------------------------------------------------------
def _collect(node, found: dict[str, dict]) -> None:
    """Component id -> its node, for every string id in a layout."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and isinstance(props.get("id"), str):
            found.setdefault(props["id"], node)
        for value in node.values():
            _collect(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect(value, found)


def layout_nodes(client) -> dict[str, dict]:
    """The components of the shell and of every page's layout, as this user gets them."""
    found: dict[str, dict] = {}
    _collect(client.get("/_dash-layout").get_json(), found)
    deps = client.get("/_dash-dependencies").get_json()
    router = next(d for d in deps if d["output"].startswith(".._pages_content"))
    for page in dash.page_registry.values():
        path = re.sub(r"<[^>]+>", SITE, page.get("path_template") or page["path"])
        payload = _payload(router, {"_pages_location.pathname": path, "_pages_location.search": ""})
        response = client.post(URL, json=payload, headers=ORIGIN)
        if response.status_code == 200:
            _collect(response.get_json(), found)
    return found


def baseline(item: dict, nodes: dict[str, dict]):
    """The value the page would send for one input or state."""
    props = nodes.get(item["id"], {}).get("props", {}) if isinstance(item["id"], str) else {}
    value = props.get(item["property"])
    if item["property"] in ("n_clicks", "n_intervals"):
        # one more click or tick than the layout's: the callback runs past its 'not clicked' check
        return (value if isinstance(value, int) else 0) + 1
    if item["id"] == "_pages_location":
        return {"pathname": "/", "search": ""}.get(item["property"])
    return value


def _entry(item: dict, value) -> dict:
    entry = {"id": item["id"], "property": item["property"]}
    if value is not MISSING:
        entry["value"] = value
    return entry


def _outputs(dep: dict, item_id: str | None = None) -> list[dict]:
    outputs = []
    for out in dep["output"].strip(".").split("..."):
        component, prop = out.rsplit(".", 1)
        if component.startswith("{"):  # MATCH: the clicked item's component
            pattern = json.loads(component)
            component = {k: (item_id if v == ["MATCH"] else v) for k, v in pattern.items()}
        outputs.append({"id": component, "property": prop})
    return outputs


def _export_target(dep: dict) -> tuple[str, str, str] | None:
    match = re.search(r'"page":"(\w+)","type":"export-download"', dep["output"])
    if not match:
        return None
    page = match.group(1)
    item = EXPORT_ITEMS[page]
    return page, item, "csv" if "csv" in ITEMS[(page, item)].formats else ITEMS[(page, item)].formats[0]


def _payload(dep: dict, values: dict, *, clicks=1) -> dict:
    """The request a browser sends: values maps 'id.property' to a value (MISSING: no value key); an
    export callback's button pattern is the fuzzed item's buttons, with `clicks` on its data format."""
    export = _export_target(dep)

    def entries(items):
        out = []
        for item in items:
            if item["id"].startswith("{"):
                page, item_id, fmt = export
                out.append([_entry({"id": ids.export_button(page, item_id, f), "property": item["property"]},
                                   clicks if f == fmt else None) for f in ITEMS[(page, item_id)].formats])
            else:
                out.append(_entry(item, values.get(f"{item['id']}.{item['property']}")))
        return out
    outputs = _outputs(dep, export[1] if export else None)
    changed = [f"{i['id']}.{i['property']}" for i in dep["inputs"] if not i["id"].startswith("{")]
    if export:
        changed.append(json.dumps(ids.export_button(*export), sort_keys=True, separators=(",", ":")) + ".n_clicks")
    return {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": entries(dep["inputs"]), "state": entries(dep.get("state", [])), "changedPropIds": changed}


def _items(dep: dict) -> list[dict]:
    return [i for i in dep["inputs"] + dep.get("state", []) if not i["id"].startswith("{")]


def baseline_payload(dep: dict, nodes: dict[str, dict]) -> dict:
    return _payload(dep, {f"{i['id']}.{i['property']}": baseline(i, nodes) for i in _items(dep)})


def requests_for(dep: dict, nodes: dict[str, dict], pick):
    """(what, payload): each input and state of the callback in turn (then an export's click), with the
    values pick(position, candidates) chooses, the others as the page sends them."""
    export = _export_target(dep)
    base = {f"{i['id']}.{i['property']}": baseline(i, nodes) for i in _items(dep)}
    for position, item in enumerate(_items(dep)):
        key = f"{item['id']}.{item['property']}"
        values = EXPORT_VALUES if export else (*TYPE_CONFUSED, EXTRAS[position % len(EXTRAS)])
        for value in pick(position, values):
            yield f"{key} = {_show(value)}", _payload(dep, {**base, key: value})
    if export:
        for clicks in pick(len(_items(dep)), CLICK_VALUES):
            yield f"{export[0]} export click = {_show(clicks)}", _payload(dep, base, clicks=clicks)


# --- the answers, and the plan: who may use which callback ------------------------------------------
class Failures(logging.Handler):
    """Requests that logged an exception (any logger, ERROR and above) or answered 500, with what was sent."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.sent = 0
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> Failures:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *_exc) -> None:
        logging.getLogger().removeHandler(self)

    def send(self, client, payload, where: str):
        self.records.clear()
        response = client.post(URL, json=payload, headers=ORIGIN)
        self.sent += 1
        problems = []
        if response.status_code >= 500:
            problems.append(f"HTTP {response.status_code}")
        for record in self.records[-1:]:
            exc = record.exc_info[1] if record.exc_info else None
            problems.append(f"logged {record.getMessage()[:60]!r}"
                            + (f" {type(exc).__name__}: {str(exc)[:120]}" if exc else ""))
        if "Traceback" in response.get_data(as_text=True):
            problems.append("traceback in the response")
        if problems:
            self.found.append(f"{where}: {'; '.join(problems)}")
        return response

    def report(self) -> str:
        return f"{len(self.found)} of {self.sent} requests failed:\n" + "\n".join(self.found[:80])


@dataclass
class Plan:
    clients: dict
    nodes: dict[str, dict[str, dict]]
    deps: list[dict]
    permitted: dict[str, tuple[str, ...]]  # callback -> the roles (of ROLES) it answers
    baseline: dict[str, Failures]  # role -> its requests as the pages send them, and what they logged


@pytest.fixture(scope="module")
def plan(hub_app) -> Plan:
    """Each role's client and page layouts, and which roles each callback answers (sending it as the
    page would: those requests are checked like the fuzzed ones)."""
    clients, nodes, baseline = {}, {}, {}
    for user_id in ROLES:
        clients[user_id] = hub_app.server.test_client()
        assert login(clients[user_id], user_id).status_code == 302
        nodes[user_id] = layout_nodes(clients[user_id])
    # Every server-side callback (clientside ones never reach the server).
    deps = [d for d in clients[ROLES[0]].get("/_dash-dependencies").get_json() if not d.get("clientside_function")]
    permitted = {}
    for user_id in ROLES:
        with Failures() as baseline[user_id]:
            for dep in deps:
                response = baseline[user_id].send(clients[user_id], baseline_payload(dep, nodes[user_id]),
                                                  f"{user_id} -> {dep['output'][:70]} as the page sends it")
                if response.status_code not in (401, 403):
                    permitted.setdefault(dep["output"], []).append(user_id)
    return Plan(clients, nodes, deps, {d["output"]: tuple(permitted.get(d["output"], ())) for d in deps}, baseline)


@pytest.mark.parametrize("user_id", ROLES)
def test_type_confused_values_never_raise(plan, user_id):
    assert user_id in PASSWORDS
    client, nodes = plan.clients[user_id], plan.nodes[user_id]
    with Failures() as failures:
        failures.sent, failures.found = plan.baseline[user_id].sent, list(plan.baseline[user_id].found)
        fuzz_role(plan, user_id, client, nodes, failures)
    assert failures.sent > 100
    assert not failures.found, failures.report()


def fuzz_role(plan: Plan, user_id: str, client, nodes: dict, failures: Failures) -> None:
    for dep in plan.deps:
        where = f"{user_id} -> {dep['output'][:70]}"
        sharing = plan.permitted[dep["output"]]
        if user_id not in sharing:
            for value in REFUSED_VALUES:
                payload = _payload(dep, {f"{i['id']}.{i['property']}": value for i in _items(dep)}, clicks=value)
                failures.send(client, payload, f"{where} with {_show(value)} everywhere")
            continue

        def pick(position, values, sharing=sharing):
            """Value i of position p goes to role (i + p) mod n of the roles the callback answers."""
            return [v for i, v in enumerate(values) if sharing[(i + position) % len(sharing)] == user_id]
        for what, payload in requests_for(dep, nodes, pick):
            failures.send(client, payload, f"{where} with {what}")


def test_every_callback_is_fuzzed_by_a_role_that_may_use_it(plan):
    """Else the fuzz would only see refusals: the callback needs a role here (or a page layout that
    gives its inputs values the callback accepts)."""
    unused = [d["output"] for d in plan.deps if not plan.permitted[d["output"]]]
    assert not unused, f"callbacks no fuzzing role may use: {unused}"


def test_list_valued_inputs_are_declared_at_the_boundary(plan):
    """An input whose component holds a list (a checklist, a multi-select) or a structure (a store of a
    dict) must say so in dashboard/inputs.py: undeclared, the boundary reads it as one scalar and the
    callback would only ever get None."""
    undeclared = set()
    declared = inputs.declared_kinds()
    for dep in plan.deps:
        for item in _items(dep):
            key = (item["id"], item["property"])
            for nodes in plan.nodes.values():
                node = nodes.get(item["id"])
                if node is None or key in declared:
                    continue
                props = node.get("props", {})
                holds_list = (node.get("type") == "Checklist" or (node.get("type") == "Dropdown" and props.get("multi"))
                              or isinstance(props.get(item["property"]), list | dict))
                if holds_list and item["property"] != "data":  # a store's JSON is bounded, kept as it is
                    undeclared.add(key)
    assert not undeclared, f"list-valued inputs without a kind in dashboard/inputs.py: {sorted(undeclared)}"


# --- requests no renderer sends ------------------------------------------------------------------
MALFORMED = {
    "no inputs": lambda p: {k: v for k, v in p.items() if k != "inputs"},
    "no state": lambda p: {k: v for k, v in p.items() if k != "state"},
    "inputs not a list": lambda p: {**p, "inputs": {"id": "x"}},
    "one input short": lambda p: {**p, "inputs": p["inputs"][:-1]},
    "an extra input": lambda p: {**p, "inputs": [*p["inputs"], {"id": "x", "property": "value", "value": 1}]},
    "input without id": lambda p: {**p, "inputs": [{"property": "value", "value": 1} for _ in p["inputs"]]},
    "input not an object": lambda p: {**p, "inputs": ["x" for _ in p["inputs"]]},
    "no outputs": lambda p: {k: v for k, v in p.items() if k != "outputs"},
    "no changedPropIds": lambda p: {k: v for k, v in p.items() if k != "changedPropIds"},
    "changedPropIds not a list": lambda p: {**p, "changedPropIds": 5},
    "changed id not an input": lambda p: {**p, "changedPropIds": ["{broken.n_clicks"]},
    "unknown output": lambda p: {**p, "output": "no-such-component.children"},
    "output not a string": lambda p: {**p, "output": ["x"]},
}


def test_malformed_requests_never_raise(plan):
    """Keys missing, lists cut short, wrong shapes: refused (4xx) or answered, never an exception."""
    user_id = "t.leader"
    client, nodes = plan.clients[user_id], plan.nodes[user_id]
    with Failures() as failures:
        for dep in plan.deps:
            base = baseline_payload(dep, nodes)
            for name, mutate in MALFORMED.items():
                changed = mutate(base)
                if changed != base:  # ('no state' of a callback without any is the page's own request)
                    failures.send(client, changed, f"{dep['output'][:70]} with {name}")
        for body in ([], "x", 5, None, {"output": None}, {"output": base["output"], "inputs": [[{"id": 1}]]}):
            failures.send(client, body, f"body {body!r}")
    assert not failures.found, failures.report()


# --- the helpers themselves ------------------------------------------------------------------------
def test_boundary_helpers():
    from datetime import date

    assert inputs.one_of(["nelson"], ("nelson",), "x") == "x" and inputs.one_of(True, (1, 7)) is None
    assert inputs.one_of("nelson", {"nelson": 1}) == "nelson"
    assert inputs.as_date("9999-12-31", date(2026, 1, 1)) == inputs.MAX_DATE
    assert inputs.as_date("0001-01-01", date(2026, 1, 1)) == inputs.MIN_DATE
    assert inputs.as_date("not-a-date", date(2026, 1, 1)) == date(2026, 1, 1)
    assert inputs.as_date(["2026-01-01"], date(2026, 1, 2)) == date(2026, 1, 2)
    assert inputs.date_clamped("9999-12-31") and not inputs.date_clamped("2026-05-01")
    assert inputs.as_str_list(["a", 1, ["b"], "c"]) == ["a", "c"] and inputs.as_str_list(5) == []
    assert inputs.as_text("a\x00b\ud800") == "ab?" and inputs.as_text(LONG, 100) is None
    assert [inputs.scalar(v) for v in (10**30, float("inf"), [1], {"a": 1}, "x", 2.5, True)] == \
        [None, None, None, None, "x", 2.5, True]
    assert inputs.as_count(-1) is None and inputs.as_count(True) is None and inputs.as_count(3) == 3
    assert inputs.json_value({"slides": ["a", float("nan")], "deep": [[[[[[[1]]]]]]]}) == \
        {"slides": ["a", None], "deep": [[[[[None]]]]]}
    with pytest.raises(inputs.Refused):
        inputs.path("")
    assert inputs.query_string(["?a=1"]) == "" and inputs.query_string("?a=1") == "?a=1"


def test_audit_dates_out_of_range_are_clamped_and_said(plan):
    """The sweep's 0001-01-01 and 9999-12-31 (the latter raised OverflowError): moved to 2000-01-01 and
    2100-12-31, and the count line says so."""
    dep = next(d for d in plan.deps if d["output"].startswith(f"..{ids.AUDIT_TABLE}."))
    payload = _payload(dep, {f"{ids.AUDIT_APPLY}.n_clicks": 1, f"{ids.AUDIT_SINCE}.value": "0001-01-01",
                             f"{ids.AUDIT_UNTIL}.value": "9999-12-31"})
    response = plan.clients["t.admin"].post(URL, json=payload, headers=ORIGIN)
    assert response.status_code == 200
    count = response.get_json()["response"][ids.AUDIT_COUNT]["children"]
    assert "entries, newest first" in count and "were moved to that limit" in count, count
