"""An in-process, logged-in client of the app that calls Dash callbacks the way the browser does."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from queries.engine.warehouse import Warehouse
from queries.records import users

logger = logging.getLogger(__name__)

BENCH_PASSWORD = "bench-only-password-not-for-production"
# (user id, role, site): the benchmark's own logins, added to a warehouse when missing.
BENCH_USERS = (
    ("bench.leader", "leadership", None),
    ("bench.manager", "site_manager", "CHI"),
    ("bench.auditor", "auditor", None),
    ("bench.display", "display", None),
)
ORIGIN = {"Origin": "http://localhost"}


def ensure_users(wh: Warehouse) -> None:
    for user_id, role, site in BENCH_USERS:
        if users.get_user(wh, user_id) is None:
            users.add_user(wh, user_id=user_id, display_name=user_id, role=role, site_id=site,
                           password=BENCH_PASSWORD)


@dataclass
class CallResult:
    seconds: float
    status: int
    payload_bytes: int
    body: dict | None


class DashClient:
    """A Flask test client logged in as one user; `call` posts to /_dash-update-component."""

    def __init__(self, app, user_id: str):
        self.app = app
        self.client = app.server.test_client()
        response = self.client.post("/login", data={"username": user_id, "password": BENCH_PASSWORD},
                                    headers=ORIGIN)
        if response.status_code != 302:
            raise RuntimeError(f"bench login as {user_id} failed: {response.status_code}")
        self._deps = self.client.get("/_dash-dependencies").get_json()

    def get(self, path: str) -> CallResult:
        start = time.perf_counter()
        response = self.client.get(path)
        return CallResult(time.perf_counter() - start, response.status_code, len(response.data), None)

    def payload(self, outputs: list[str], inputs: dict, state: dict | None = None) -> dict:
        return callback_payload(self._deps, outputs, inputs, state)

    def call(self, outputs: list[str], inputs: dict, state: dict | None = None) -> CallResult:
        body = json.dumps(self.payload(outputs, inputs, state))
        start = time.perf_counter()
        response = self.client.post("/_dash-update-component", data=body, content_type="application/json",
                                    headers=ORIGIN)
        seconds = time.perf_counter() - start
        parsed = response.get_json(silent=True) if response.status_code == 200 else None
        return CallResult(seconds, response.status_code, len(response.data), parsed)


def trace_points(body) -> int:
    """Most points in any one plotly trace of a callback response (x/y/lat/values arrays)."""
    most = 0

    def walk(node):
        nonlocal most
        if isinstance(node, dict):
            if "data" in node and isinstance(node["data"], list) and "layout" in node:
                for trace in node["data"]:
                    if isinstance(trace, dict):
                        sizes = [_length(trace.get(k)) for k in ("x", "y", "z", "values", "lat")]
                        most = max(most, *sizes)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body)
    return most


def _length(value) -> int:
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict) and "bdata" in value:  # plotly's typed-array encoding
        shape = value.get("shape")
        if shape:
            count = 1
            for part in str(shape).split(","):
                count *= int(part)
            return count
        dtype_size = {"f8": 8, "f4": 4, "i4": 4, "u4": 4, "i2": 2, "u2": 2, "i1": 1, "u1": 1}.get(value.get("dtype"), 8)
        return (len(value["bdata"]) * 3 // 4) // dtype_size
    return 0


def callback_payload(deps: list[dict], outputs: list[str], inputs: dict, state: dict | None = None) -> dict:
    """The /_dash-update-component body the browser sends for the callback with exactly these output ids.
    inputs/state map "component-id.property" to the value sent (None for any left out)."""
    wanted = set(outputs)
    for dep in deps:
        outs = [o.rsplit(".", 1)[0] for o in dep["output"].strip(".").split("...")]
        if set(outs) == wanted:
            break
    else:
        raise KeyError(f"no callback outputs {outputs}")

    def spec(items, values):
        return [{"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
                for i in items]
    out = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in dep["output"].strip(".").split("...")]
    return {"output": dep["output"], "outputs": out if len(out) > 1 else out[0],
            "inputs": spec(dep["inputs"], inputs), "state": spec(dep.get("state", []), state or {}),
            "changedPropIds": [f"{i['id']}.{i['property']}" for i in dep["inputs"]]}
