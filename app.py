"""WSGI entry point: `gunicorn app:server`. Each worker builds its own app (and warehouse) after fork."""

from __future__ import annotations

from dashboard.app import create_app

app = create_app()
server = app.server
