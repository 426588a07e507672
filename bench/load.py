"""`make load`: the wall-display load test against gunicorn + PostgreSQL + Redis, on 127.0.0.1 only.

1. the PostgreSQL bench warehouse of the chosen scale (generated once, bench/data.py), its logins and
   one display token per wall display;
2. the server as `make serve-prod` runs it (scripts/serve_prod.py: Alembic, gunicorn gthread workers),
   with a pinned clock (the data end), the shared Redis cache and login limits raised (every simulated
   client comes from 127.0.0.1, which the per-address limit would otherwise stop);
3. a warm-up: every answer the scenario asks for (but sensor trends) once, as a server that has been up
   for a while has them (the time it takes is reported: it is what a cold server pays once);
4. locust, headless, bounded by --run-time and the number of users (bench/locustfile.py), aimed at
   the server's loopback address only;
5. throughput, p50/p95/p99 and errors per request type, then everything is stopped.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import requests

from bench import data
from bench.client import BENCH_PASSWORD, callback_payload

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET_P95_MS = 300.0
LOOPBACK = "127.0.0.1"


def add_arguments(parser) -> None:
    parser.add_argument("--scale", default=os.environ.get("LOAD_SCALE", "large"))
    parser.add_argument("--displays", type=int, default=100)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--refresh-s", type=float, default=5.0, help="display refresh period")
    parser.add_argument("--run-time", type=int, default=120, help="seconds of load (bounded)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("ATMP_WORKERS", "4")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("ATMP_WORKER_THREADS", "4")))
    parser.add_argument("--redis-url", default=os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--no-warmup", dest="warmup", action="store_false")
    parser.add_argument("--new-data-every-s", type=float, default=10.0,
                        help="write a heartbeat this often during the run (new live data: caches invalidated); 0: never")
    parser.add_argument("--no-wave", dest="wave", action="store_false",
                        help="do not age the measurements version: live data lands, but the 5-minute "
                             "recomputation of the KPIs that count readings may fall outside the run")
    parser.add_argument("--import-at-s", type=float, default=0.0,
                        help="this many seconds into the run, new data lands in every domain (as an import "
                             "would: every cached KPI and page answer invalidated at once); 0: never")
    parser.add_argument("--out", default=str(data.BENCH_DIR / "load-results.json"))


def run(args) -> int:
    wh, _ = data.ensure("postgres", args.scale, progress=True)
    plan_path = data.BENCH_DIR / f"load-plan-{args.scale}.json"
    plan = prepare_plan(wh, args.displays, args.users, plan_path)
    wh.dispose()
    clear_cache(args.redis_url)
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    server = start_server(args, port)
    writer = NewData(data.pg_url(args.scale), args.new_data_every_s, getattr(args, "import_at_s", 0.0))
    try:
        wait_healthy(base, server)
        args.warmup_s = warm_up(base, plan) if args.warmup else 0.0
        if args.new_data_every_s > 0 and getattr(args, "wave", True):
            _age_measurements(args.scale)  # the run's first live write starts a recomputation wave
        before = _versions(args.scale)
        writer.start()
        try:
            stats = run_locust(args, base, plan_path)
        finally:
            writer.stop()
        after = _versions(args.scale)
        args.domains_changed = sorted(d for d in after if after[d] != before.get(d))
    finally:
        stop(server)
    args.new_data_writes = writer.writes
    report = render(args, stats)
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": {k: v for k, v in vars(args).items() if k != "func"}, "stats": stats},
                              indent=1, default=str))
    out.with_suffix(".md").write_text(report + "\n")
    return 0 if stats else 1


# --- preparation ----------------------------------------------------------------------------------------
def prepare_plan(wh, displays: int, users_n: int, path: Path) -> dict:
    """Logins for the analysts, one display token per screen, and the sites and sensors to pick from."""
    from queries.engine.scope import build_scope
    from queries.records import display_tokens, users

    analysts = [f"bench.user{i:02d}" for i in range(1, users_n + 1)]
    for user_id in analysts:
        if users.get_user(wh, user_id) is None:
            users.add_user(wh, user_id=user_id, display_name=user_id, role="leadership", site_id=None,
                           password=BENCH_PASSWORD)
    tokens: list[str] = []
    if path.exists():
        old = json.loads(path.read_text())
        tokens = [t for t in old.get("tokens", []) if display_tokens.authenticate(wh, t) is not None]
    while len(tokens) < displays:
        tokens.append(display_tokens.create(wh, user_id="bench.display", label=f"load-test screen {len(tokens) + 1}",
                                            created_by="bench").token)
    site_ids = list(wh.query("sql/site_ids")["site_id"])
    scope = build_scope(user_id="bench", role="leadership", own_site=None, all_sites=site_ids, end=data.END, days=90)
    sensors = wh.query("sql/signals/sensors", scope=scope)
    plan = {"tokens": tokens[:displays], "users": analysts, "password": BENCH_PASSWORD,
            "sites": {s: list(g["sensor_id"]) for s, g in sensors.groupby("site_id")}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan))
    path.chmod(0o600)  # display tokens: secrets, even for a bench database
    return plan


def clear_cache(redis_url: str) -> None:
    """Remove the hub's keys from the load test's Redis database (a cold start for the cache)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    removed = 0
    for key in client.scan_iter(match="*atmp:*", count=1000):
        client.delete(key)
        removed += 1
    logger.info("redis %s: %s cached keys removed", _safe(redis_url), removed)


class NewData(threading.Thread):
    """New data landing during the run, as live ingest would: a gateway heartbeat every few seconds, written
    through Warehouse.transaction, so the live data version changes each time (live tiles recomputed) and
    the measurements version at most every 5 minutes (the KPIs that count readings recomputed). The heartbeat falls in an hour that already has
    one, so no KPI value changes."""

    def __init__(self, url: str, every_s: float, import_at_s: float = 0.0):
        super().__init__(daemon=True)
        self.url, self.every_s, self.import_at_s, self.writes = url, every_s, import_at_s, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        from queries.engine import data_version
        from queries.engine.warehouse import Warehouse

        wh = Warehouse(self.url)
        start = time.monotonic()
        imported = self.import_at_s <= 0
        try:
            while not self._stop_event.wait(min(self.every_s or 1.0, 1.0)):
                elapsed = time.monotonic() - start
                if not imported and elapsed >= self.import_at_s:
                    with wh.transaction() as conn:  # an import's effect on the caches, without changing data
                        for table in ("deviations", "ingest_heartbeats"):
                            data_version.note_write(conn, table)
                    imported = True
                if self.every_s > 0 and elapsed >= (self.writes + 1) * self.every_s:
                    with wh.transaction() as conn:  # the ingest writer's own statement (not a bulk load)
                        wh.run(conn, "ingest/insert_heartbeat", {"source": "load-test", "site_id": "HUB",
                                                                 "ts": data.END - timedelta(minutes=30)})
                    self.writes += 1
        finally:
            wh.dispose()

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=30)


def _age_measurements(scale: str) -> None:
    from queries.engine.warehouse import Warehouse

    wh = Warehouse(data.pg_url(scale))
    try:
        with wh.transaction() as conn:
            wh.run(conn, "bench/age_measurements_version", {"long_ago": data.END.replace(year=2000)})
    finally:
        wh.dispose()


def _versions(scale: str) -> dict:
    from queries.engine import data_version
    from queries.engine.warehouse import Warehouse

    wh = Warehouse(data.pg_url(scale))
    try:
        return data_version.current(wh) or {}
    finally:
        wh.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def start_server(args, port: int) -> subprocess.Popen:
    audit_key = data.BENCH_DIR / "load-audit.key"  # production requires a keyed audit chain
    audit_key.parent.mkdir(parents=True, exist_ok=True)
    audit_key.write_text(secrets.token_hex(32))
    audit_key.chmod(0o600)
    env = {**os.environ, "ATMP_AUDIT_KEY_FILE": str(audit_key),
           "ATMP_AUDIT_CHECKPOINTS": str(data.BENCH_DIR / "load-audit-checkpoints.jsonl"),
           "ATMP_DATABASE_URL": data.pg_url(args.scale), "ATMP_ENVIRONMENT": "production",
           "ATMP_SECRET_KEY": secrets.token_hex(32), "ATMP_NOW": data.END.isoformat(),
           "ATMP_REDIS_URL": args.redis_url, "ATMP_RATE_LIMIT_STORAGE": args.redis_url,
           "ATMP_LOGIN_RATE_PER_ADDRESS": "100000 per minute", "ATMP_LOGIN_RATE_PER_USER": "1000 per minute",
           "ATMP_HOST": LOOPBACK, "ATMP_PORT": str(port), "ATMP_WORKERS": str(args.workers),
           "ATMP_WORKER_THREADS": str(args.threads), "ATMP_MQTT_URL": "", "ATMP_SIMULATOR": "false"}
    log = data.BENCH_DIR / "load-server.log"
    logger.info("server: %s workers x %s threads on %s:%s (log: %s)", args.workers, args.threads, LOOPBACK, port, log)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, str(ROOT / "scripts" / "serve_prod.py")], env=env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: stopped as a whole


def wait_healthy(base: str, server: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}")
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server not healthy after {timeout_s} s")


def warm_up(base: str, plan: dict) -> float:
    """Ask once for every answer the scenario asks for (but sensor trends), as a server that has been up
    for a while has them: display tiles, the overview in every window, each site's drill-down in every
    window, its live values and its drift chart. Two requests at a time (two cores). Returns seconds."""
    from concurrent.futures import ThreadPoolExecutor

    from bench.cases import WINDOWS
    from dashboard import ids

    display = requests.Session()
    display.post(f"{base}/kiosk/login", data={"token": plan["tokens"][0]}, headers={"Origin": base},
                 allow_redirects=False, timeout=30)
    analyst = requests.Session()
    analyst.post(f"{base}/login", data={"username": plan["users"][0], "password": plan["password"]},
                 headers={"Origin": base}, allow_redirects=False, timeout=60)
    deps = display.get(f"{base}/_dash-dependencies", timeout=30).json()
    calls = [(display, list(ids.OV_REFRESH), {f"{ids.OV_WINDOW}.value": 90}, {}),
             (display, [ids.OV_EXC_TILES, ids.OV_EXC_AS_OF], {f"{ids.OV_EXC_TICK}.n_intervals": 1}, {})]
    calls += [(analyst, list(ids.OV_REFRESH), {f"{ids.OV_WINDOW}.value": w}, {}) for w in WINDOWS]
    for site in plan["sites"]:
        calls += [(analyst, ["site-title", ids.SITE_BODY, ids.SITE_AS_OF], {f"{ids.SITE_WINDOW}.value": w},
                   {f"{ids.SITE_ID_STORE}.data": site}) for w in WINDOWS]
        calls.append((analyst, [ids.MON_LIVE, ids.MON_EXCURSIONS, ids.MON_AS_OF, ids.MON_ACK_EXCURSION],
                      {f"{ids.MON_TICK}.n_intervals": 1}, {f"{ids.MON_SITE_ID}.data": site}))
        calls += [(analyst, [ids.SIG_SENSOR, ids.SIG_DRIFT, ids.SIG_DRIFT_SUMMARY, ids.SIG_DRIFT_TABLE],
                   {f"{ids.SIG_WINDOW}.value": w, f"{ids.SIG_SITE}.value": site, f"{ids.SIG_SENSOR}.value": None}, {})
                  for w in (90, 365)]

    def ask(call):
        session, outputs, inputs, state = call
        response = session.post(f"{base}/_dash-update-component", json=callback_payload(deps, outputs, inputs, state),
                                headers={"Origin": base}, timeout=300)
        response.raise_for_status()

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(ask, calls))
    seconds = time.perf_counter() - start
    logger.info("warm-up: %s answers computed in %.0f s", len(calls), seconds)
    return seconds


# The locustfile ends a run once its time is up and every user got going, at most this much later
# (the --run-time given to locust is only the backstop).
GRACE_S = 60


def run_locust(args, base: str, plan_path: Path) -> list[dict]:
    host = urlparse(base).hostname
    if host != LOOPBACK:  # never anything but this machine
        raise RuntimeError(f"the load test targets {LOOPBACK} only, not {host}")
    final_stats = data.BENCH_DIR / "locust_final_stats.csv"
    final_stats.unlink(missing_ok=True)
    users = args.displays + args.users
    # Ramp over at most 5 s and at most half the run, so that a short run still starts every user.
    spawn_rate = max(users // 5, math.ceil(2 * users / args.run_time), 1)
    env = {**os.environ, "LOAD_PLAN": str(plan_path), "LOAD_FINAL_STATS": str(final_stats), "LOAD_DISPLAYS": str(args.displays),
           "LOAD_USERS": str(args.users), "LOAD_REFRESH_S": str(args.refresh_s), "LOAD_RUN_S": str(args.run_time),
           "LOAD_GRACE_S": str(GRACE_S),
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
               "--users", str(users), "--spawn-rate", str(spawn_rate), "--run-time", f"{args.run_time + GRACE_S + 5}s",
               "--host", base, "--only-summary", "--stop-timeout", "10",
               "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    logger.info("locust: %s displays + %s analysts for %s s against %s", args.displays, args.users, args.run_time, base)
    process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    try:
        process.wait(timeout=args.run_time + GRACE_S + 120)  # bounded even if locust hangs
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise RuntimeError("locust did not stop in time") from None
    return read_stats(final_stats)


def read_stats(path: Path) -> list[dict]:
    rows = []
    with path.open() as f:
        for row in csv.DictReader(f):
            rows.append({"type": row["Type"], "name": row["Name"], "requests": int(row["Request Count"]),
                         "failures": int(row["Failure Count"]), "rps": float(row["Requests/s"]),
                         "p50": _num(row["50%"]), "p95": _num(row["95%"]), "p99": _num(row["99%"]),
                         "max": _num(row["Max Response Time"]), "bytes": _num(row["Average Content Size"])})
    return rows


def _num(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def render(args, stats: list[dict]) -> str:
    lines = [f"### Load: {args.displays} wall displays (refresh every {args.refresh_s:g} s) + {args.users} analysts, "
             f"{args.run_time} s, {args.scale} scale, gunicorn {args.workers} workers x {args.threads} threads, "
             f"PostgreSQL, Redis cache, all on this machine; new live data every {args.new_data_every_s:g} s "
             f"({getattr(args, 'new_data_writes', 0)} writes; data versions changed during the run: "
             f"{', '.join(getattr(args, 'domains_changed', [])) or 'none'}"
             + (f"; an import lands at {args.import_at_s:g} s" if getattr(args, "import_at_s", 0) else "")
             + f"); warm-up before the run "
             f"{getattr(args, 'warmup_s', 0):.0f} s", "",
             "| request | count | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(stats, key=lambda r: (r["name"] == "Aggregated", r["name"])):
        lines.append(f"| {r['name']} | {r['requests']} | {r['failures']} | {r['rps']:.1f} | {r['p50']:.0f} | "
                     f"{r['p95']:.0f} | {r['p99']:.0f} | {r['max']:.0f} |")
    total = next((r for r in stats if r["name"] == "Aggregated"), None)
    if total:
        ok = total["p95"] <= TARGET_P95_MS and total["failures"] == 0
        lines += ["", f"Target p95 <= {TARGET_P95_MS:.0f} ms with zero errors: {'met' if ok else 'MISSED'} "
                      f"(p95 {total['p95']:.0f} ms, {total['failures']} errors of {total['requests']} requests, "
                      f"{total['rps']:.1f} req/s)"]
    return "\n".join(lines)


def _safe(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.hostname}:{parsed.port}{parsed.path}"
