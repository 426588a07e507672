"""`make serve-prod`: the hub as a server: gunicorn workers on PostgreSQL, the MQTT bridge on its own.

Configuration comes only from ATMP_* environment variables (README, 'Server mode'). Steps:

1. refuse a DuckDB URL (a DuckDB file admits one writing process and is not fork-safe: use `make run`);
2. bring the PostgreSQL schema up to date (Alembic, `alembic upgrade head`);
3. with ATMP_MQTT_URL set, start `atmp-hub bridge` as one separate process: web workers never consume
   the broker (ATMP_BRIDGE_IN_APP=false is set for them), so each message is written once;
4. run gunicorn (`app:server`, gthread workers; each builds its app, engine pool and cache after the
   fork) and wait. SIGINT/SIGTERM stop gunicorn and the bridge; if either dies, the other is stopped.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from queries.engine import migrate  # noqa: E402  (after the path is set: the script runs from anywhere)
from queries.engine.settings import Settings, SettingsError  # noqa: E402
from queries.engine.warehouse import Warehouse  # noqa: E402

logger = logging.getLogger("serve-prod")
BIN = Path(sys.executable).parent


# keep-alive longer than a wall display's refresh period: with 5 s on both sides, the server closed idle
# connections just as displays reused them (connection resets in the load test).
def gunicorn_command(settings: Settings) -> list[str]:
    return [str(BIN / "gunicorn"), "app:server",
            "--workers", str(settings.workers), "--worker-class", "gthread", "--threads", str(settings.worker_threads),
            "--bind", f"{settings.host}:{settings.port}", "--timeout", "60", "--graceful-timeout", "20",
            "--keep-alive", "30", "--chdir", str(ROOT), "--log-level", "warning"]


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not settings.database_url.startswith("postgresql"):
        print("error: serve-prod needs ATMP_DATABASE_URL=postgresql+psycopg://... (a DuckDB file admits one "
              "writing process and is not fork-safe; `make run` serves it from one process)", file=sys.stderr)
        return 2
    wh = Warehouse(settings.database_url, statement_timeout_ms=0)
    migrate.upgrade(wh)
    wh.dispose()
    env = {**os.environ, "ATMP_BRIDGE_IN_APP": "false"}
    children: list[subprocess.Popen] = []
    if settings.mqtt_url:
        children.append(subprocess.Popen([str(BIN / "atmp-hub"), "bridge"], env=env, cwd=ROOT))
        logger.info("bridge started (pid %s) for %s", children[-1].pid, settings.mqtt_url)
    web = subprocess.Popen(gunicorn_command(settings), env=env, cwd=ROOT)
    children.append(web)
    logger.info("gunicorn (pid %s): %s workers x %s threads on http://%s:%s, cache %s", web.pid, settings.workers,
                settings.worker_threads, settings.host, settings.port,
                "redis" if settings.redis_url else "per process (set ATMP_REDIS_URL to share it)")

    stopping = False

    def stop(signum=None, _frame=None):
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.5)
    died = not stopping  # a child ended by itself: stop the other and report failure
    stop()
    deadline = time.monotonic() + 30
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    if died:
        logger.error("a process ended unexpectedly (%s); everything stopped",
                     ", ".join(f"pid {c.pid}: {c.returncode}" for c in children))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
