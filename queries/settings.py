"""Every setting of the hub, declared once, read from ATMP_* environment variables."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field, fields, replace

logger = logging.getLogger(__name__)


def _setting(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class Settings:
    database_url: str = _setting(
        "duckdb:///hub.duckdb",
        "SQLAlchemy URL of the warehouse: duckdb:///path.duckdb (embedded) or postgresql+psycopg://...",
    )
    secret_key: str = _setting("", "Flask session signing key. Required outside development.")
    environment: str = _setting("development", "development or production (production refuses defaults).")
    host: str = _setting("127.0.0.1", "Address the development server binds to.")
    port: int = _setting(8050, "Port the development server binds to.")
    idle_timeout_min: int = _setting(15, "Minutes of user inactivity before the session ends.")
    statement_timeout_ms: int = _setting(15000, "PostgreSQL statement_timeout for every query.")
    row_cap: int = _setting(200_000, "Most rows any one query may return to the app.")
    default_window_days: int = _setting(90, "Time window the pages open with.")
    recurrence_window_days: int = _setting(90, "Look-back for the deviation recurrence KPI.")
    min_survey_respondents: int = _setting(5, "Groups with fewer survey respondents are suppressed.")
    min_batches_for_comparability: int = _setting(5, "Fewer batches than this: 'insufficient data'.")
    now: str = _setting("", "Pin 'now' (ISO UTC) for demos and tests; empty means the real clock.")
    secure_cookies: bool = _setting(False, "Mark the session cookie Secure (set when served over TLS).")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f"ATMP_{f.name.upper()}")
            if raw is None:
                continue
            if f.type in ("int", int):
                values[f.name] = int(raw)
            elif f.type in ("bool", bool):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[f.name] = raw
        values.update(overrides)
        settings = cls(**values)
        if not settings.secret_key:
            if settings.environment == "production":
                raise RuntimeError("ATMP_SECRET_KEY must be set in production")
            # Development only: a fresh key per process, so sessions end when the server restarts.
            settings = replace(settings, secret_key=secrets.token_hex(32))
        return settings

    @classmethod
    def describe(cls) -> list[tuple[str, object, str]]:
        """(environment variable, default, help) for the README and `atmp-hub settings`."""
        return [(f"ATMP_{f.name.upper()}", f.default, f.metadata["help"]) for f in fields(cls)]
