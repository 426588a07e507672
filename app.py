"""WSGI entry point: `gunicorn app:server`. Each worker builds its own app (and warehouse) after fork."""

from __future__ import annotations

import gc

from dashboard.app import create_app
from queries.engine.settings import SettingsError

try:
    app = create_app()
except SettingsError as exc:  # one line naming the variable, not a traceback per worker
    raise SystemExit(f"error: {exc}") from None
# Dash finishes its setup on the first request, which is not thread-safe: under gunicorn's gthread workers
# two first requests raced ("dictionary changed size during iteration"). Done here, once, per worker.
app._setup_server()
# Everything built so far (Dash, pages, plotly, pandas: millions of objects) lives as long as the worker:
# out of the collector's sight, a full collection no longer costs ~150 ms in the middle of a request.
gc.freeze()
server = app.server
