"""WSGI entry point: `gunicorn app:server`. Each worker builds its own app (and warehouse) after fork."""

from __future__ import annotations

from dashboard.app import create_app

app = create_app()
# Dash finishes its setup on the first request, which is not thread-safe: under gunicorn's gthread workers
# two first requests raced ("dictionary changed size during iteration"). Done here, once, per worker.
app._setup_server()
server = app.server
