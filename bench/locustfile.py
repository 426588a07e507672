"""Locust scenario: wall displays refreshing the overview, and analysts drilling down (loopback only).

Run by `python -m bench load` (which starts the server, prepares users and tokens, and bounds the run);
LOAD_PLAN names the JSON file with the tokens, logins, sites and sensors it prepared.

- WallDisplay (LOAD_DISPLAYS, default 100): signs in with its own display token, opens the overview,
  then every LOAD_REFRESH_S (5) seconds asks for the KPI tiles and grid and for the live excursion tiles:
  a full refresh each time (the real page refreshes only the live tiles on its timer), a worst case.
- Analyst (LOAD_USERS, default 20): signs in with a password, then drills down with 1-3 s of thought
  between steps: overview with another window, a site's drill-down, its live monitoring and a sensor
  trend, a site's drift chart.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import random
import threading
import time

import gevent
from locust import HttpUser, between, constant_pacing, events, task
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

from bench.cases import TRENDS, WINDOWS
from bench.client import callback_payload
from dashboard import ids

PLAN = json.loads(open(os.environ["LOAD_PLAN"]).read()) if os.environ.get("LOAD_PLAN") else {
    "tokens": [], "users": [], "password": "", "sites": {}}
_lock = threading.Lock()
_tokens = itertools.cycle(PLAN["tokens"] or [""])
_users = itertools.cycle(PLAN["users"] or [""])


@events.init.add_listener
def _write_final_stats_on_quit(environment, **_):
    # locust's --csv file is rewritten every second by a timer and not at shutdown, so it can miss the
    # last requests; this writes the same table once, from the final figures, after the users stopped.
    path = os.environ.get("LOAD_FINAL_STATS")
    if not path:
        return

    @environment.events.quit.add_listener
    def _write(**_):
        with open(path, "w", newline="") as f:
            StatsCSV(environment, PERCENTILES_TO_REPORT).requests_csv(csv.writer(f))


# Users that got going: displays that signed in and refreshed once, analysts that signed in. A run ends
# after LOAD_RUN_S seconds *and* once every user got going (LOAD_GRACE_S more at most), so a busy machine
# that ramps slowly still measures every user rather than stopping before some began.
_going = {"display": 0, "analyst": 0}


def _note_going(kind: str) -> None:
    with _lock:
        _going[kind] += 1


@events.test_start.add_listener
def _stop_when_every_user_got_going(environment, **_):
    run_s = float(os.environ.get("LOAD_RUN_S", "0"))
    if not run_s:
        return
    grace_s = float(os.environ.get("LOAD_GRACE_S", "60"))
    want = {"display": int(os.environ.get("LOAD_DISPLAYS", "100")), "analyst": int(os.environ.get("LOAD_USERS", "20"))}

    def watch():
        started = time.monotonic()
        while True:
            gevent.sleep(0.2)
            elapsed = time.monotonic() - started
            with _lock:
                everyone = all(_going[k] >= n for k, n in want.items())
            if elapsed >= run_s and (everyone or elapsed >= run_s + grace_s):
                environment.runner.quit()
                return

    gevent.spawn(watch)


def _next(iterator):
    with _lock:
        return next(iterator)


class DashUser(HttpUser):
    abstract = True

    def call(self, name: str, outputs: list[str], inputs: dict, state: dict | None = None):
        body = callback_payload(self.deps, outputs, inputs, state)
        with self.client.post("/_dash-update-component", json=body, name=name, catch_response=True,
                              headers={"Origin": self.host}) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
            elif b'"sideUpdate"' in response.content:  # the app's error banner: a failure, not an answer
                response.failure("error banner")

    def load_dash(self, path: str) -> None:
        self.client.get(path, name=f"page {path.split('/')[1] or '/'}")
        if not getattr(self, "deps", None):
            self.deps = self.client.get("/_dash-dependencies", name="/_dash-dependencies").json()


class WallDisplay(DashUser):
    fixed_count = int(os.environ.get("LOAD_DISPLAYS", "100"))
    wait_time = constant_pacing(float(os.environ.get("LOAD_REFRESH_S", "5")))

    def on_start(self):
        token = _next(_tokens)
        self.client.post("/kiosk/login", data={"token": token}, headers={"Origin": self.host},
                         name="display sign-in", allow_redirects=False)
        self.load_dash("/")
        self.refreshed = False

    @task
    def refresh(self):
        self.call("display: overview tiles + grid", list(ids.OV_REFRESH),
                  {f"{ids.OV_WINDOW}.value": 90})
        self.call("display: live excursion tiles", [ids.OV_EXC_TILES, ids.OV_EXC_AS_OF],
                  {f"{ids.OV_EXC_TICK}.n_intervals": 1})
        if not self.refreshed:
            self.refreshed = True
            _note_going("display")


class Analyst(DashUser):
    fixed_count = int(os.environ.get("LOAD_USERS", "20"))
    wait_time = between(1, 3)

    def on_start(self):
        user = _next(_users)
        self.client.post("/login", data={"username": user, "password": PLAN["password"]}, name="sign-in",
                         headers={"Origin": self.host}, allow_redirects=False)
        self.load_dash("/")
        self.site = random.choice(list(PLAN["sites"]) or ["CHI"])
        _note_going("analyst")

    @task(3)
    def overview(self):
        self.call("analyst: overview (window)", list(ids.OV_REFRESH),
                  {f"{ids.OV_WINDOW}.value": random.choice(WINDOWS)})

    @task(3)
    def site(self):
        self.site = random.choice(list(PLAN["sites"]) or ["CHI"])
        self.call("analyst: site drill-down", ["site-title", ids.SITE_BODY, ids.SITE_AS_OF],
                  {f"{ids.SITE_WINDOW}.value": random.choice(WINDOWS)}, {f"{ids.SITE_ID_STORE}.data": self.site})

    @task(2)
    def monitoring(self):
        self.call("analyst: site live values", [ids.MON_LIVE, ids.MON_EXCURSIONS, ids.MON_AS_OF, ids.MON_ACK_EXCURSION],
                  {f"{ids.MON_TICK}.n_intervals": 1}, {f"{ids.MON_SITE_ID}.data": self.site})
        sensors = PLAN["sites"].get(self.site) or [""]
        self.call("analyst: sensor trend", [ids.MON_TREND],
                  {f"{ids.MON_TREND_SENSOR}.value": random.choice(sensors),
                   f"{ids.MON_TREND_WINDOW}.value": random.choice(TRENDS), f"{ids.MON_TICK}.n_intervals": None},
                  {f"{ids.MON_SITE_ID}.data": self.site})

    @task(1)
    def drift(self):
        self.call("analyst: drift chart", [ids.SIG_SENSOR, ids.SIG_DRIFT, ids.SIG_DRIFT_SUMMARY, ids.SIG_DRIFT_TABLE],
                  {f"{ids.SIG_WINDOW}.value": random.choice((90, 365)), f"{ids.SIG_SITE}.value": self.site,
                   f"{ids.SIG_SENSOR}.value": None})
