"""The `atmp-hub` command: generate, serve, users, import, audit."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import re
import sys
from datetime import datetime
from pathlib import Path

from queries.engine import migrate
from queries.engine.settings import Settings, SettingsError
from queries.engine.warehouse import Warehouse, WarehouseUnavailable
from queries.imports.importer import MAX_ERRORS_SHOWN
from queries.records import audit, users

logger = logging.getLogger(__name__)
# The page that does a command's job while the app holds the DuckDB file (which admits one process).
PAGE_FOR = {"users": "/admin/users", "display-token": "/admin/display-tokens", "audit": "/audit"}


def _warehouse(settings: Settings, *, probe: bool = True) -> Warehouse:
    """The warehouse, opened now (unless ``probe`` is False: the command handles an unreadable one itself).
    A DuckDB file held by another process (the running app) fails here, before a command asks anything,
    and main() says so in one line."""
    wh = Warehouse(settings.database_url, row_cap=settings.row_cap,
                   statement_timeout_ms=settings.statement_timeout_ms)
    if probe:
        wh.scalar("sql/ping")
    return wh


def _unavailable(exc: WarehouseUnavailable, args, settings: Settings) -> str:
    """One line for a warehouse this command cannot open; for a DuckDB file locked by another process, the
    admin page that does the same job."""
    if "could not set lock" not in str(exc).lower():
        return f"error: {exc}"
    name = Path(settings.database_url.split(":///", 1)[-1]).name
    holder = re.search(r"\(PID (\d+)\)", str(exc))
    pid = f"PID {holder.group(1)}; " if holder else ""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    page = PAGE_FOR.get(args.command)
    instead = (f"use the admin pages at http://{host}:{settings.port}{page}, or stop the app" if page
               else "stop the app, then run this command again")
    return f"error: the warehouse {name} is in use by the running app ({pid}DuckDB admits one process): {instead}"


def cmd_generate(args, settings: Settings) -> int:
    from sample_data.generator import populate

    wh = _warehouse(settings)
    migrate.upgrade(wh)  # PostgreSQL through the Alembic history (its indexes and stamp); DuckDB: the schema
    if not wh.is_empty():
        if args.if_missing:
            print(f"warehouse {wh.safe_url()} already holds data; not regenerating")
            return 0
        print(f"error: warehouse {wh.safe_url()} is not empty (use a new file or database)", file=sys.stderr)
        return 2
    end = datetime.fromisoformat(args.end) if args.end else None
    stories = populate(wh, seed=args.seed, scale=args.scale, end=end, progress=not args.quiet, audit_as="cli")
    print(f"sample network ({args.scale}, seed {args.seed}) written to {wh.safe_url()}")
    for name, when in stories.items():
        print(f"  story {name}: {when}")
    return 0


def cmd_serve(args, settings: Settings) -> int:
    from dashboard.app import create_app

    if settings.database_url.startswith("duckdb:///") and Path(settings.database_url[len("duckdb:///"):]).is_file():
        # An embedded file from an older release gets the tables and views added since (a server
        # warehouse is migrated on purpose: `make migrate`, `make serve-prod`).
        wh = _warehouse(settings)
        migrate.upgrade(wh)
        wh.dispose()
    app = create_app(settings)  # Dash's own stdout handler is kept off (configure_logging): one line per fact
    app.run(host=args.host or settings.host, port=args.port or settings.port, debug=False, threaded=True)
    return 0


def cmd_users_add(args, settings: Settings) -> int:
    wh = _warehouse(settings)
    try:  # everything but the password first: a bad role or site is refused before the prompt
        users.check_new_user(wh, user_id=args.user_id, role=args.role, site_id=args.site)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    except (EOFError, KeyboardInterrupt):  # the prompt's line is still open
        print("\nerror: no password given; nothing added", file=sys.stderr)
        return 2
    try:
        record = users.add_user(wh, user_id=args.user_id, display_name=args.name or args.user_id,
                                role=args.role, site_id=args.site, password=password, added_by="cli")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"user {record.user_id} ({record.role}) added")
    return 0


def cmd_users_set_role(args, settings: Settings) -> int:
    try:
        record = users.set_role(_warehouse(settings), args.user_id, role=args.role, site_id=args.site,
                                changed_by="cli", reason=args.reason)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"user {record.user_id} is now {record.role}" + (f" at {record.site_id}" if record.site_id else "")
          + "; their sessions have ended")
    return 0


def cmd_users_set_active(args, settings: Settings) -> int:
    try:
        record = users.set_active(_warehouse(settings), args.user_id, active=args.active, changed_by="cli",
                                  reason=args.reason)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"user {record.user_id} {'reactivated' if record.active else 'deactivated'}; their sessions have ended")
    return 0


def cmd_users_demo(args, settings: Settings) -> int:
    from sample_data.demo_users import DEMO_USERS

    if settings.environment == "production":
        print("error: demo users are refused in production", file=sys.stderr)
        return 2
    wh = _warehouse(settings)
    for user_id, name, role, site, password in DEMO_USERS:
        if users.get_user(wh, user_id) is None:
            users.add_user(wh, user_id=user_id, display_name=name, role=role, site_id=site, password=password,
                           added_by="cli", reason="demo login (development only)")
    print(f"Demo logins (development only), for http://{settings.host}:{settings.port}/ once it serves:")
    width = max(len(u[0]) for u in DEMO_USERS)
    for user_id, _name, role, site, password in DEMO_USERS:
        print(f"  {user_id:<{width}}  password {password:<18}  {role}{f' ({site})' if site else ''}")
    return 0


def cmd_import(args, settings: Settings) -> int:
    from queries.imports.importer import ImportError_, import_file

    wh = _warehouse(settings)
    try:
        count = import_file(wh, args.table, args.file, audit_as="cli")
    except ImportError_ as exc:
        print(f"import refused, nothing written:\n{exc}", file=sys.stderr)
        return 2
    print(f"imported {count} rows into {args.table}")
    return 0


IMPORT_DESCRIPTION = """\
Import one file into one warehouse table, all or nothing: the whole file is checked against the
table's declared columns first, and every problem is reported at once (file, row, field; up to
{cap}, then how many more). Nothing is written unless every row is valid. Times are ISO 8601 (UTC
unless an offset is given); an empty cell in a column with a default takes the default."""
SCHEMA_DOC = "queries/schema.sql"  # the DDL: each table's columns, types, checks and comments


def importable_tables() -> dict[str, list[tuple[str, str, bool]]]:
    """{table: [(column, type, required)]} for every importable table, read the way the importer reads
    a table (queries/imports/importer.py table_columns) from a scratch DuckDB warehouse built from the schema."""
    import tempfile

    from queries.imports.importer import IMPORTABLE, table_columns

    with tempfile.TemporaryDirectory(prefix="atmp-schema-") as scratch:
        wh = Warehouse(f"duckdb:///{Path(scratch) / 'schema.duckdb'}")
        try:
            wh.create_schema()
            return {table: [(r.column_name, str(r.data_type).lower(), r.is_nullable == "NO" and not r.has_default)
                            for r in table_columns(wh, table).itertuples()] for table in sorted(IMPORTABLE)}
        finally:
            wh.dispose()


def _with_tables(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The import parser with its epilog: the importable tables and their columns (computed on --help only)."""
    lines = ["importable tables and their columns (* required: no empty cells, no default):"]
    for table, columns in importable_tables().items():
        line = f"  {table}:"
        for name, kind, required in columns:  # a column and its type never split over two lines
            item = f" {name}{'*' if required else ''} ({kind}),"
            if len(line) + len(item) > 100:
                lines.append(line)
                line = "     "
            line += item
        lines.append(line.rstrip(","))
    lines.append(f"\nThe schema, with each column's type, checks and meaning, is documented in {SCHEMA_DOC}.")
    parser.epilog = "\n".join(lines)
    return parser


def cmd_import_survey(args, settings: Settings) -> int:
    from queries.imports.importer import ImportError_
    from queries.imports.survey_import import import_survey

    try:
        count = import_survey(_warehouse(settings), args.file, user_id=args.user or "cli")
    except ImportError_ as exc:
        print(f"survey import refused, nothing written:\n{exc}", file=sys.stderr)
        return 2
    print(f"imported {count} survey responses (audited)")
    return 0


def _audit_inputs(args, settings: Settings):
    """(key, checkpoint file) for the audit commands; AuditKeyError when there is no usable key."""
    key = audit.audit_key(settings)
    path = Path(args.checkpoints) if args.checkpoints else audit.checkpoint_path(settings)
    return key, path


def _audit_notes(check, settings: Settings) -> None:
    if check.chain.unkeyed and check.chain.ok:
        first, last = check.chain.unkeyed
        print(f"note: entries {first} to {last} predate the keyed chain (unkeyed SHA-256); the keyed entries "
              "after them cover them")
    if audit.uses_development_key(settings):
        print("note: development audit key (ATMP_AUDIT_KEY_FILE unset): anyone can recompute the chain; "
              "set a key file in production")


def _audit_failed(exc: Exception) -> int:
    if isinstance(exc, audit.AuditKeyError):
        print(f"error: {exc}", file=sys.stderr)
    else:  # an unreadable checkpoint file, a trail over the row cap...
        first_line = (str(exc).strip().splitlines() or [""])[0]
        print(f"error: cannot check the audit trail: {type(exc).__name__}: {first_line}", file=sys.stderr)
    return 2


def _report_problems(check) -> None:
    for problem in check.problems:
        print(f"audit trail BROKEN: {problem}", file=sys.stderr)
    if check.unanchored:
        print(f"audit trail NOT ANCHORED: {check.unanchored}", file=sys.stderr)


def cmd_audit_verify(args, settings: Settings) -> int:
    """Recompute the keyed chain and compare it with the latest signed checkpoint; one line per problem."""
    try:
        key, path = _audit_inputs(args, settings)
        check = audit.verify_anchored(_warehouse(settings), path, key)
    except WarehouseUnavailable:
        raise  # main() says it in one line
    except Exception as exc:  # one clear line, never a traceback
        return _audit_failed(exc)
    _audit_notes(check, settings)
    if check.ok:
        point = check.latest
        print(f"audit trail intact: {check.chain.entries} entries, keyed; holds the checkpoint of {point.ts} "
              f"({point.count} entries up to entry {point.last_entry_id}, {path})")
        return 0
    _report_problems(check)
    return 1


def cmd_audit_checkpoint(args, settings: Settings) -> int:
    """Verify, then append a signed checkpoint of the chain to the checkpoint file (refused on a problem)."""
    try:
        key, path = _audit_inputs(args, settings)
        if path is None:
            print("error: no checkpoint file: set ATMP_AUDIT_CHECKPOINTS (or pass --checkpoints FILE)",
                  file=sys.stderr)
            return 2
        check, point = audit.write_checkpoint(_warehouse(settings), path, key)
    except WarehouseUnavailable:
        raise  # main() says it in one line
    except Exception as exc:  # one clear line, never a traceback
        return _audit_failed(exc)
    _audit_notes(check, settings)
    if point is None:
        _report_problems(check)
        print("no checkpoint written", file=sys.stderr)
        return 1
    print(f"checkpoint written to {path}: {point.count} entries up to entry {point.last_entry_id}, "
          f"head {point.head_hash[:16]}…, {point.ts}")
    return 0


def cmd_display_token_create(args, settings: Settings) -> int:
    from queries.records import display_tokens

    try:
        new = display_tokens.create(_warehouse(settings), user_id=args.user, label=args.label, created_by="cli")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"display token {new.token_id} for {args.user} ({args.label}); shown once, store it on the screen:")
    print(f"  {new.token}")
    print(f"kiosk address: /kiosk/login?token={new.token}&pages=overview,excursions&interval=30")
    return 0


def cmd_display_token_revoke(args, settings: Settings) -> int:
    from queries.records import display_tokens

    if not display_tokens.revoke(_warehouse(settings), args.token_id, revoked_by="cli", reason=args.reason):
        print(f"error: no active display token {args.token_id!r}", file=sys.stderr)
        return 2
    print(f"display token {args.token_id} revoked; screens using it are signed out at their next request")
    return 0


def cmd_display_token_list(args, settings: Settings) -> int:
    from queries.records import display_tokens

    for row in display_tokens.list_tokens(_warehouse(settings)).itertuples():
        state = "active" if row.revoked_at is None or row.revoked_at != row.revoked_at else f"revoked {row.revoked_at}"
        print(f"{row.token_id}  {row.user_id:16} {row.label:32} created {row.created_at}  {state}")
    return 0


def _wait_for_signal(stop, every_s: float, report) -> None:
    """Block until SIGINT/SIGTERM (or `stop` is set), calling `report` every `every_s` seconds."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(every_s):
        report()


def cmd_bridge(args, settings: Settings) -> int:
    import threading
    from dataclasses import replace

    from ingest.bridge import MqttBridge

    settings = replace(settings, mqtt_url=args.mqtt_url or settings.mqtt_url)
    if not settings.mqtt_url:
        print("error: no broker: set ATMP_MQTT_URL or pass --mqtt-url mqtt://host:1883", file=sys.stderr)
        return 2
    wh = _warehouse(settings, probe=False)  # its own message below
    try:
        bridge = MqttBridge(settings, wh).start()
    except Exception as exc:  # e.g. the DuckDB file is held by a running app
        print(f"error: cannot start the bridge on {wh.safe_url()}: {exc}\n(a DuckDB file admits one process: "
              "with `atmp-hub serve` running, its in-app bridge consumes the broker instead)", file=sys.stderr)
        return 2
    stop = threading.Event()
    _wait_for_signal(stop, args.report_every, lambda: print(
        f"bridge {'connected' if bridge.connected.is_set() else 'DISCONNECTED'} · {bridge.service.stats}",
        flush=True))
    left = bridge.stop()
    print(f"bridge stopped; {left} received messages left unacknowledged for re-delivery; {bridge.service.stats}")
    return 0


def cmd_simulate(args, settings: Settings) -> int:
    import threading
    import time
    from dataclasses import replace

    from ingest.bridge import validation_limits
    from ingest.live import start_publishing_simulator
    from ingest.service import IngestService
    from ingest.simulator import SensorSimulator, sample_network_sensors, sensors_from_frame
    from ingest.writer import IngestWriter, Message, utc_now

    settings = replace(settings, mqtt_url=args.mqtt_url or settings.mqtt_url,
                       simulator_interval_s=args.interval or settings.simulator_interval_s,
                       simulator_scenario=args.scenario or settings.simulator_scenario)
    wh = _warehouse(settings, probe=False)  # an unreadable warehouse: it simulates the sample network
    try:
        sensors = sensors_from_frame(wh.query("ingest/sensor_limits"))
    except Exception as exc:  # no schema yet, or a DuckDB file held by the app
        print(f"warehouse not readable ({type(exc).__name__}); simulating the {args.scale} sample network")
        sensors = sample_network_sensors(args.scale)
    stop = threading.Event()
    if args.direct:
        writer = IngestWriter(wh, limits=validation_limits(settings), source="simulator")
        service = IngestService(writer, batch_max=settings.ingest_batch_max,
                                batch_wait_ms=settings.ingest_batch_wait_ms).start()
        simulator = SensorSimulator(sensors, interval_s=settings.simulator_interval_s,
                                    scenario=settings.simulator_scenario, topic_prefix=settings.mqtt_topic_prefix)
        _, sim_stop = simulator.start(lambda t, p: service.submit(Message(t, p, utc_now())))
        where = f"directly into {wh.safe_url()}"
    elif settings.mqtt_url:
        sim_stop = start_publishing_simulator(settings, sensors, client_id=f"atmp-simulator-{int(time.time())}")
        service, where = None, f"to {settings.mqtt_url}"
    else:
        print("error: no broker: set ATMP_MQTT_URL, pass --mqtt-url, or --direct to write into the warehouse",
              file=sys.stderr)
        return 2
    print(f"simulating {len(sensors)} sensors every {settings.simulator_interval_s:g} s, scenario "
          f"{settings.simulator_scenario}, {where}")
    if args.duration:
        threading.Timer(args.duration, stop.set).start()
    _wait_for_signal(stop, 30, lambda: print(f"simulator running · {service.stats if service else ''}", flush=True))
    sim_stop.set()
    if service is not None:
        service.stop()
    return 0


def cmd_settings(args, settings: Settings) -> int:
    for name, default, help_text in Settings.describe():
        print(f"{name:32} default {default!r:28} {help_text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atmp-hub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="create the schema and write the sample network")
    gen.add_argument("--scale", choices=("small", "medium", "large"), default="small")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--end", help="last day of history (ISO date, UTC); default today")
    gen.add_argument("--if-missing", action="store_true", help="do nothing when data exists")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=cmd_generate)

    serve = sub.add_parser("serve", help="serve the dashboard (development server)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    users_p = sub.add_parser("users", help="manage users").add_subparsers(dest="users_command", required=True)
    add = users_p.add_parser("add", help="add a user (password asked, or read from stdin)")
    add.add_argument("user_id")
    add.add_argument("--role", required=True)
    add.add_argument("--site")
    add.add_argument("--name")
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(func=cmd_users_add)
    role = users_p.add_parser("set-role", help="change a user's role (audited; their sessions end)")
    role.add_argument("user_id")
    role.add_argument("--role", required=True)
    role.add_argument("--site")
    role.add_argument("--reason", required=True)
    role.set_defaults(func=cmd_users_set_role)
    for name, active in (("deactivate", False), ("activate", True)):
        p = users_p.add_parser(name, help=f"{name} an account (audited; its sessions end)")
        p.add_argument("user_id")
        p.add_argument("--reason", required=True)
        p.set_defaults(func=cmd_users_set_active, active=active)
    demo = users_p.add_parser("demo", help="create the demo logins listed in the README")
    demo.set_defaults(func=cmd_users_demo)

    imp = sub.add_parser("import", help="import a CSV, XLSX or Parquet file into a table, all or nothing",
                         description=IMPORT_DESCRIPTION.format(cap=MAX_ERRORS_SHOWN),
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    imp.add_argument("table", help="the table to fill (listed below)")
    imp.add_argument("file", help="a .csv (UTF-8), .xlsx or .parquet file whose header names the table's columns")
    imp.set_defaults(func=cmd_import)
    imp.format_help = lambda: argparse.ArgumentParser.format_help(_with_tables(imp))

    survey = sub.add_parser("import-survey", help="import an anonymous psychological safety survey export "
                                                  "(CSV or XLSX), all or nothing")
    survey.add_argument("file")
    survey.add_argument("--user", help="who imports (recorded in the audit trail); default 'cli'")
    survey.set_defaults(func=cmd_import_survey)

    aud = sub.add_parser("audit", help="audit trail").add_subparsers(dest="audit_command", required=True)
    ver = aud.add_parser("verify", help="recompute the keyed hash chain and compare it with the latest "
                                         "signed checkpoint (exit 1 on any problem)")
    ver.set_defaults(func=cmd_audit_verify)
    point = aud.add_parser("checkpoint", help="verify, then append a signed checkpoint (entry count, head hash) "
                                              "to the checkpoint file; run it from cron")
    point.set_defaults(func=cmd_audit_checkpoint)
    for audit_command in (ver, point):
        audit_command.add_argument("--checkpoints", metavar="FILE",
                                   help="checkpoint file (default ATMP_AUDIT_CHECKPOINTS, or next to a DuckDB file)")

    tokens = sub.add_parser("display-token", help="long-lived, revocable sign-in tokens for wall displays")
    tok = tokens.add_subparsers(dest="token_command", required=True)
    create = tok.add_parser("create", help="issue a token for a display-role user (printed once)")
    create.add_argument("--user", required=True, help="a user with the display role")
    create.add_argument("--label", required=True, help="where the screen is, e.g. 'QA corridor TV'")
    create.set_defaults(func=cmd_display_token_create)
    revoke = tok.add_parser("revoke", help="revoke a token; its screens are signed out")
    revoke.add_argument("token_id")
    revoke.add_argument("--reason", required=True)
    revoke.set_defaults(func=cmd_display_token_revoke)
    tok.add_parser("list", help="list tokens (ids and labels; never the secrets)").set_defaults(
        func=cmd_display_token_list)

    bridge = sub.add_parser("bridge", help="consume sensor readings from MQTT into the warehouse (live ingest)")
    bridge.add_argument("--mqtt-url", help="broker, e.g. mqtt://127.0.0.1:1883 (default ATMP_MQTT_URL)")
    bridge.add_argument("--report-every", type=float, default=30.0, help="seconds between status lines")
    bridge.set_defaults(func=cmd_bridge)

    simulate = sub.add_parser("simulate", help="publish simulated readings of the sample network's sensors")
    simulate.add_argument("--mqtt-url", help="broker (default ATMP_MQTT_URL)")
    simulate.add_argument("--direct", action="store_true",
                          help="no broker: write through the ingest path straight into the warehouse")
    simulate.add_argument("--interval", type=float, help="seconds between readings of one sensor")
    simulate.add_argument("--scenario", choices=("demo", "drift", "spikes", "calm"))
    simulate.add_argument("--scale", choices=("small", "medium", "large"), default="small",
                          help="sample network to simulate when the warehouse cannot be read")
    simulate.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: run on)")
    simulate.set_defaults(func=cmd_simulate)

    sett = sub.add_parser("settings", help="list every setting and its environment variable")
    sett.set_defaults(func=cmd_settings)
    return parser


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


class PlainFormatter(logging.Formatter):
    """Log lines without ANSI colour codes (the development server colours its warning and request lines)
    when the stream is not a terminal: a log file or a pipe gets plain text."""

    def __init__(self, fmt: str, stream) -> None:
        super().__init__(fmt)
        isatty = getattr(stream, "isatty", None)
        self.plain = not (isatty and isatty())

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return ANSI_ESCAPE.sub("", line) if self.plain else line


def configure_logging(stream=None) -> None:
    """One handler (stderr), one format, for the whole process. Dash adds its own stdout handler to its
    logger unless that logger has one already, which printed 'Dash is running on ...' twice (there and
    through the root handler): a NullHandler keeps Dash's off, and its lines reach the root handler once."""
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig: a host that configured logging (pytest) keeps its own
        stream = stream or sys.stderr
        handler = logging.StreamHandler(stream)
        handler.setFormatter(PlainFormatter("%(levelname)s %(name)s: %(message)s", stream))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    dash_logger = logging.getLogger("dash.dash")
    if not dash_logger.handlers:
        dash_logger.addHandler(logging.NullHandler())


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:  # a mistyped ATMP_* value: one line naming it, and no start
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return args.func(args, settings)
    except WarehouseUnavailable as exc:  # held by the running app, a server down: one line, no traceback
        print(_unavailable(exc, args, settings), file=sys.stderr)
        return 2
    except BrokenPipeError:  # `atmp-hub settings | head`: the reader left; no traceback at exit either
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
