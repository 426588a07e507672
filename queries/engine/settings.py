"""Every setting of the hub, declared once, read from ATMP_* environment variables."""

from __future__ import annotations

import logging
import os
import re
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

logger = logging.getLogger(__name__)


def _setting(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


class SettingsError(RuntimeError):
    """A setting the hub cannot start with; the message names the variable, its value and what is accepted."""


ENVIRONMENTS = ("development", "production")
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _parse(name: str, kind, raw: str):
    """One ATMP_* value as its declared type; anything else refuses to start (a typo must not turn a
    switch off or a number into a crash without a name)."""
    text = raw.strip()
    if kind in ("bool", bool):
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise SettingsError(f"{name}={raw!r} is not a yes/no value: use one of {', '.join(TRUE_WORDS)} "
                            f"or {', '.join(w for w in FALSE_WORDS if w)}")
    if kind in ("int", int):
        try:
            return int(text)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a whole number (for example 4096)") from None
    if kind in ("float", float):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if value != value or value in (float("inf"), float("-inf")):
            raise SettingsError(f"{name}={raw!r} is not a number (for example 2.5)")
        return value
    return raw


MIN_SECRET_BYTES = 32


def _check_secret_file(name: str, path: str) -> None:
    try:
        size = len(Path(path).read_bytes().strip())
    except OSError as exc:
        raise SettingsError(f"{name}={path!r} cannot be read: {exc.strerror or exc}") from None
    if size < MIN_SECRET_BYTES:
        raise SettingsError(f"{name}={path!r} holds {size} bytes, fewer than {MIN_SECRET_BYTES} "
                            "(write one with `openssl rand -hex 32`)")


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: str          # none | starttls | implicit
    user: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            shown = re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)  # never echo a password
            raise SettingsError(f"ATMP_SMTP_URL={shown!r}: expected smtp://host[:port] or smtps://host[:port] "
                                "(optionally user:password@ and ?starttls=true)")
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"starttls"}
        if unknown:
            raise SettingsError(f"ATMP_SMTP_URL: unknown option(s) {sorted(unknown)} (only starttls=true)")
        starttls = query.get("starttls", "false") in ("1", "true", "yes", "on")
        tls = "implicit" if parts.scheme == "smtps" else "starttls" if starttls else "none"
        port = parts.port or (465 if tls == "implicit" else 587 if starttls else 25)
        return cls(parts.hostname, port, tls, unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)

    def describe(self) -> str:
        return f"smtp{'s' if self.tls == 'implicit' else ''}://{self.host}:{self.port}"



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
    trusted_proxies: int = _setting(
        0, "Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host headers are trusted (0: none). "
           "Behind a TLS-terminating proxy set 1: the same-origin check compares the scheme too, and refuses "
           "every form and callback an https page sends to an app that believes it serves http.")
    statement_timeout_ms: int = _setting(
        15000, "Longest a query may run: PostgreSQL's statement_timeout (every statement but bulk loads); on "
               "DuckDB a timer interrupts a read that runs longer.")
    row_cap: int = _setting(200_000, "Most rows any one query may return to the app.")
    default_window_days: int = _setting(90, "Time window the pages open with.")
    recurrence_window_days: int = _setting(90, "Look-back for the deviation recurrence KPI.")
    min_survey_respondents: int = _setting(5, "Groups with fewer survey respondents are suppressed.")
    min_batches_for_comparability: int = _setting(5, "Fewer batches than this: 'insufficient data'.")
    now: str = _setting("", "Pin 'now' (ISO UTC) for demos and tests; empty means the real clock.")
    secure_cookies: bool = _setting(False, "Mark the session cookie Secure (set when served over TLS).")
    login_rate_per_address: str = _setting("20 per minute", "Sign-in attempts allowed per client address.")
    login_rate_per_user: str = _setting("5 per minute", "Sign-in attempts allowed per user name.")
    esignature_rate_per_user: str = _setting(
        "10 per minute", "Electronic-signature attempts (acknowledgements, CAPA reviews) allowed per user.")
    rate_limit_storage: str = _setting("memory://", "Rate-limit store; redis://host:6379 to share it between workers.")
    # --- audit trail anchor (queries/records/audit.py) ---
    audit_key_file: str = _setting(
        "", "File holding the audit trail's HMAC key (at least 32 bytes, e.g. `openssl rand -hex 32`), kept "
            "outside the warehouse and readable by the app and the CLI. Required in production; unset in "
            "development, a fixed public development key is used (it protects nothing).")
    audit_checkpoints: str = _setting(
        "", "Append-only file of signed audit checkpoints (entry count and head hash) that `atmp-hub audit "
            "checkpoint` writes and `atmp-hub audit verify` compares with; copy it off the host. Empty: `"
            "<DuckDB file>.audit-checkpoints.jsonl` next to a DuckDB warehouse; with PostgreSQL set it.")
    # --- imports through the page (queries/imports/uploads.py) ---
    import_dir: str = _setting(
        "", "Folder keeping every file uploaded on the import page, under its SHA-256 (the audit entry names "
            "the hash). Empty: `<DuckDB file>.imports/` next to a DuckDB warehouse; with PostgreSQL set it, "
            "or the import page stays closed.")
    import_max_mb: int = _setting(
        500, "Largest file the import page accepts, in MB (it is written to disk as it arrives; larger: "
             "`atmp-hub import` or the drop folder).")
    import_drop_dir: str = _setting(
        "", "A drop folder the app watches (every 10 s; layout in queries/imports/drop_folder.py): files in its "
            "<table>/ or <table>@<profile>/ inboxes are imported and moved to done/ or rejected/. Empty: none "
            "(`atmp-hub watch-imports FOLDER` does the same as its own process).")
    # --- live environmental monitoring (ingest/) ---
    mqtt_url: str = _setting(
        "", "MQTT broker (mqtt://host:port). Empty: embedded mode, the simulator feeds ingest in-process.")
    mqtt_topic_prefix: str = _setting("", "Prefix before site/<site>/room/<room>/sensor/<sensor> topics.")
    mqtt_client_id: str = _setting("atmp-hub-bridge", "Fixed MQTT client id of the bridge (persistent session).")
    mqtt_receive_maximum: int = _setting(
        2000, "Unacknowledged QoS-1 messages the broker may have in flight to the bridge (MQTT 5).")
    bridge_in_app: bool = _setting(
        True, "With ATMP_MQTT_URL set, run the bridge inside the app process (required for DuckDB; set "
              "false with several PostgreSQL workers and run `atmp-hub bridge` once).")
    simulator: bool = _setting(
        True, "Sensor simulator for demos. Runs only in development with real time (ATMP_NOW unset).")
    simulator_interval_s: float = _setting(5.0, "Seconds between two readings of one simulated sensor.")
    simulator_scenario: str = _setting(
        "demo", "Simulated drift: demo (every 10 minutes, from about 15 s after start: a one-minute particle "
                "burst in a grade A isolator and a three-minute temperature rise above the action limit in a grade B "
                "room, at CHI; each is an action-level excursion proposing a deviation, which counts in no KPI "
                "unless a person confirms it), drift (slow rise to action), spikes (random short bursts), calm "
                "(no excursions).")
    ingest_batch_max: int = _setting(2000, "Most messages written in one ingest transaction.")
    ingest_batch_wait_ms: int = _setting(
        10, "Longest wait to fill an ingest batch; under load batches fill while the previous one is written.")
    ingest_max_payload_bytes: int = _setting(4096, "Larger MQTT payloads are quarantined unread.")
    ingest_max_future_s: int = _setting(300, "Readings stamped further ahead of the clock are quarantined.")
    ingest_max_age_days: int = _setting(30, "Readings stamped longer ago are quarantined (clock faults).")
    stale_after_s: int = _setting(60, "A sensor silent for longer is shown as stale, not with its last value.")
    monitoring_refresh_s: int = _setting(5, "Refresh period of the live tiles (seconds).")
    # --- notifications (notify/) ---
    smtp_url: str = _setting(
        "", "Mail server for notifications: smtp://[user:password@]host[:port][?starttls=true] or smtps://... "
            "(TLS from the start). Empty: each notification is printed to the app's log instead, saying so.")
    notify_from: str = _setting("atmp-hub@localhost", "Sender address of notification e-mails.")
    public_url: str = _setting(
        "http://127.0.0.1:8050", "The hub's address as recipients reach it: links in notifications start with it.")
    webhook_secret_file: str = _setting(
        "", "File holding the shared secret (at least 32 bytes) that signs every webhook notification "
            "(X-ATMP-Signature, docs/notifications.md). Empty: webhook rules fail to send, and say why.")
    ack_link_hours: float = _setting(
        24.0, "Hours an acknowledgement link in an excursion's message stays valid (single use; sign-in and "
              "signature still required).")
    notify_on_ack: bool = _setting(
        True, "When an excursion is acknowledged, tell everyone already sent its message: by whom, when, the comment.")
    notify_on_clear: bool = _setting(
        True, "When an excursion ends (back within its limit), tell everyone already sent its message (it still "
              "needs acknowledging; the escalation goes on).")
    notify_in_app: bool = _setting(
        True, "Run the notification dispatcher inside the app process (required for DuckDB; with several "
              "PostgreSQL workers it may run in each, or set false and run `atmp-hub notify run`).")
    notify_poll_s: float = _setting(1.0, "Seconds between two looks of the dispatcher for messages due.")
    notify_send_timeout_s: float = _setting(
        20.0, "Longest wait for the mail server on one message. A dispatcher stopped mid-send leaves its "
              "message to another (or itself, restarted) after twice this.")
    notify_retry_max_s: float = _setting(
        300.0, "Longest pause between two attempts at a message that failed (the pause doubles from 5 s).")
    system_alarm_to: str = _setting(
        "", "Comma-separated e-mail addresses that receive every system alarm (a silent sensor, ingest stopped, "
            "the audit chain failing verification, a notification failing to deliver; notify/alarms.py), "
            "whatever the rules say. Empty: system alarms are printed to the log and listed on the "
            "Notifications page.")
    alarm_silent_intervals: int = _setting(
        10, "A sensor that reported in the last day is silent (a system alarm) after this many of its "
            "expected intervals without a stored reading.")
    alarm_check_s: float = _setting(30.0, "Seconds between two checks of the system alarms by the dispatcher.")
    alarm_audit_check_s: float = _setting(
        3600.0, "Seconds between two verifications of the audit chain by the dispatcher (a failure is an alarm).")
    # --- scale: server mode, caching (queries/engine/result_cache.py) ---
    redis_url: str = _setting(
        "", "Redis for the result cache shared by every worker (redis://127.0.0.1:6379/0). Empty: each "
            "process keeps its own cache.")
    cache_ttl_s: int = _setting(3600, "Seconds a cached KPI answer lives at most (new data replaces it "
                                     "earlier); 0 turns the result cache off.")
    cache_window_s: int = _setting(
        60, "Requests whose window ends in the same slot of this many seconds share one cached answer.")
    cache_refresh_behind: bool = _setting(
        True, "After sensor data or a new slot (not quality data), serve the newest answer at once and "
              "recompute it in the background (at most one recomputation behind).")
    prewarm: bool = _setting(
        True, "Compute the network overview in the background as the app starts, so the first sign-in and "
              "every wall display after a restart find it computed (dashboard/prewarm.py).")
    workers: int = _setting(4, "gunicorn worker processes for `make serve-prod` (PostgreSQL only).")
    worker_threads: int = _setting(4, "Threads per gunicorn worker (gthread).")

    def beside_duckdb_file(self, suffix: str) -> Path | None:
        """<DuckDB file><suffix> next to an embedded warehouse file (the default home of what the hub keeps
        outside the warehouse); None for PostgreSQL or an in-memory DuckDB."""
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        if url.get_backend_name() == "duckdb" and url.database and url.database != ":memory:":
            db = Path(url.database)
            return db.with_name(db.name + suffix)
        return None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f"ATMP_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _parse(f"ATMP_{f.name.upper()}", f.type, raw)
        values.update(overrides)
        settings = cls(**values)
        if settings.environment not in ENVIRONMENTS:  # "Production" must not quietly mean development
            raise SettingsError(f"ATMP_ENVIRONMENT={settings.environment!r} is not one of "
                                f"{' or '.join(ENVIRONMENTS)}")
        if not settings.secret_key:
            if settings.environment == "production":
                raise SettingsError("ATMP_SECRET_KEY must be set in production")
            # Development only: a fresh key per process, so sessions end when the server restarts.
            settings = replace(settings, secret_key=secrets.token_hex(32))
        if settings.smtp_url:  # a mistyped mail server refuses the start, as any other setting does
            SmtpServer.from_url(settings.smtp_url)
        if settings.webhook_secret_file:
            _check_secret_file("ATMP_WEBHOOK_SECRET_FILE", settings.webhook_secret_file)
        if settings.environment == "production" and not settings.audit_key_file:
            raise SettingsError("ATMP_AUDIT_KEY_FILE must be set in production")
        return settings

    @classmethod
    def describe(cls) -> list[tuple[str, object, str]]:
        """(environment variable, default, help) for the README and `atmp-hub settings`."""
        return [(f"ATMP_{f.name.upper()}", f.default, f.metadata["help"]) for f in fields(cls)]
