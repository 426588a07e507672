"""The `atmp-hub` command: generate, serve, users, import, audit, notify."""

from __future__ import annotations

import functools
import getpass
import logging
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from queries.engine import migrate
from queries.engine.settings import Settings, SettingsError
from queries.engine.warehouse import Warehouse, WarehouseUnavailable
from queries.imports.importer import MAX_ERRORS_SHOWN
from queries.imports.profiles import shipped_profiles
from queries.records import audit, users, validation_reports
from validation import requirements, trace

logger = logging.getLogger(__name__)
# The page that does a command's job while the app holds the DuckDB file (which admits one process).
PAGE_FOR = {"users": "/admin/users", "display-token": "/admin/display-tokens", "audit": "/audit"}
SCALES = click.Choice(("small", "medium", "large"))


class Refused(click.ClickException):
    """A command refused (bad input, a warehouse it cannot open, a mistyped setting): its text on stderr,
    exit 2, nothing written, never a traceback."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(self.format_message(), err=True)


def _warehouse(settings: Settings, *, probe: bool = True) -> Warehouse:
    """The warehouse, opened now (unless ``probe`` is False: the command handles an unreadable one itself).
    A DuckDB file held by another process (the running app) fails here, before a command asks anything,
    and the command says so in one line."""
    wh = Warehouse(settings.database_url, row_cap=settings.row_cap,
                   statement_timeout_ms=settings.statement_timeout_ms)
    if probe:
        wh.scalar("sql/ping")
    return wh


def _unavailable(exc: WarehouseUnavailable, command: str, settings: Settings) -> str:
    """One line for a warehouse this command cannot open; for a DuckDB file locked by another process, the
    admin page that does the same job."""
    if "could not set lock" not in str(exc).lower():
        return f"error: {exc}"
    name = Path(settings.database_url.split(":///", 1)[-1]).name
    holder = re.search(r"\(PID (\d+)\)", str(exc))
    pid = f"PID {holder.group(1)}; " if holder else ""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    page = PAGE_FOR.get(command)
    instead = (f"use the admin pages at http://{host}:{settings.port}{page}, or stop the app" if page
               else "stop the app, then run this command again")
    return f"error: the warehouse {name} is in use by the running app ({pid}DuckDB admits one process): {instead}"


def hub_command(group: click.Group, name: str, *, refuses: tuple[type[Exception], ...] = (), **options):
    """A subcommand of ``group`` whose function takes the settings first, then its options. The one error
    path: settings are read when the command runs (``--help`` needs none) and a mistyped ATMP_* value
    stops it; a warehouse it cannot open, and the exceptions it ``refuses`` (the domain's "no" to its
    input), become one line on stderr and exit 2. Its return value is the exit code."""
    def register(function):
        @group.command(name, **options)
        @functools.wraps(function)
        def run(**kwargs):
            try:
                settings = Settings.from_env()
            except SettingsError as exc:  # one line naming the variable, and no start
                raise Refused(f"error: {exc}") from None
            try:
                return function(settings, **kwargs) or 0
            except WarehouseUnavailable as exc:  # held by the running app, a server down
                top = click.get_current_context().find_root().invoked_subcommand
                raise Refused(_unavailable(exc, top, settings)) from None
            except refuses as exc:
                raise Refused(f"error: {exc}") from None
        return run
    return register


@click.group(help=__doc__, context_settings={"help_option_names": ["-h", "--help"], "terminal_width": 110, "max_content_width": 110})
def cli() -> None:
    pass


@hub_command(cli, "generate", help="create the schema and write the sample network")
@click.option("--scale", type=SCALES, default="small", show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--end", help="last day of history (ISO date, UTC); default today")
@click.option("--if-missing", is_flag=True, help="do nothing when data exists")
@click.option("--quiet", is_flag=True, help="no progress bar")
def generate(settings: Settings, scale: str, seed: int, end: str | None, if_missing: bool, quiet: bool) -> int:
    from sample_data.generator import populate

    wh = _warehouse(settings)
    migrate.upgrade(wh)  # PostgreSQL through the Alembic history (its indexes and stamp); DuckDB: the schema
    if not wh.is_empty():
        if if_missing:
            print(f"warehouse {wh.safe_url()} already holds data; not regenerating")
            return 0
        raise Refused(f"error: warehouse {wh.safe_url()} is not empty (use a new file or database)")
    stories = populate(wh, seed=seed, scale=scale, end=datetime.fromisoformat(end) if end else None,
                       progress=not quiet, audit_as="cli")
    print(f"sample network ({scale}, seed {seed}) written to {wh.safe_url()}")
    for name, when in stories.items():
        print(f"  story {name}: {when}")
    return 0


@hub_command(cli, "serve", help="serve the dashboard (development server)")
@click.option("--host")
@click.option("--port", type=int)
def serve(settings: Settings, host: str | None, port: int | None) -> int:
    from dashboard.app import create_app

    if settings.database_url.startswith("duckdb:///") and Path(settings.database_url[len("duckdb:///"):]).is_file():
        # An embedded file from an older release gets the tables and views added since (a server
        # warehouse is migrated on purpose: `make migrate`, `make serve-prod`).
        wh = _warehouse(settings)
        migrate.upgrade(wh)
        wh.dispose()
    app = create_app(settings)  # Dash's own stdout handler is kept off (configure_logging): one line per fact
    app.run(host=host or settings.host, port=port or settings.port, debug=False, threaded=True)
    return 0


@cli.group("users", help="manage users")
def users_group() -> None:
    pass


@hub_command(users_group, "add", refuses=(ValueError,), help="add a user (password asked, or read from stdin)")
@click.argument("user_id")
@click.option("--role", required=True)
@click.option("--site")
@click.option("--name")
@click.option("--password-stdin", is_flag=True)
def users_add(settings: Settings, user_id: str, role: str, site: str | None, name: str | None,
              password_stdin: bool) -> int:
    wh = _warehouse(settings)
    # everything but the password first: a bad role or site is refused before the prompt
    users.check_new_user(wh, user_id=user_id, role=role, site_id=site)
    try:
        password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass("Password: ")
    except (EOFError, KeyboardInterrupt):  # the prompt's line is still open
        raise Refused("\nerror: no password given; nothing added") from None
    record = users.add_user(wh, user_id=user_id, display_name=name or user_id, role=role, site_id=site,
                            password=password, added_by="cli")
    print(f"user {record.user_id} ({record.role}) added")
    return 0


@hub_command(users_group, "set-role", refuses=(ValueError,),
             help="change a user's role (audited; their sessions end)")
@click.argument("user_id")
@click.option("--role", required=True)
@click.option("--site")
@click.option("--reason", required=True)
def users_set_role(settings: Settings, user_id: str, role: str, site: str | None, reason: str) -> int:
    record = users.set_role(_warehouse(settings), user_id, role=role, site_id=site, changed_by="cli",
                            reason=reason)
    print(f"user {record.user_id} is now {record.role}" + (f" at {record.site_id}" if record.site_id else "")
          + "; their sessions have ended")
    return 0


@hub_command(users_group, "set-email", refuses=(ValueError,),
             help="where notifications reach a user (a rule for site-managers, their acknowledgement links); "
                  "audited; --none to remove it")
@click.argument("user_id")
@click.argument("email", required=False)
@click.option("--none", "remove", is_flag=True, help="remove the address")
@click.option("--reason", required=True)
def users_set_email(settings: Settings, user_id: str, email: str | None, remove: bool, reason: str) -> int:
    if bool(email) == remove:
        raise Refused("error: give an address, or --none to remove it")
    users.set_email(_warehouse(settings), user_id, email=None if remove else email, changed_by="cli", reason=reason)
    print(f"user {user_id}: " + ("no e-mail address" if remove else f"notifications to {email}"))
    return 0


def _set_active(settings: Settings, user_id: str, reason: str, *, active: bool) -> int:
    record = users.set_active(_warehouse(settings), user_id, active=active, changed_by="cli", reason=reason)
    print(f"user {record.user_id} {'reactivated' if record.active else 'deactivated'}; their sessions have ended")
    return 0


@hub_command(users_group, "deactivate", refuses=(ValueError,), help="deactivate an account (audited; its sessions end)")
@click.argument("user_id")
@click.option("--reason", required=True)
def users_deactivate(settings: Settings, user_id: str, reason: str) -> int:
    return _set_active(settings, user_id, reason, active=False)


@hub_command(users_group, "activate", refuses=(ValueError,), help="activate an account (audited; its sessions end)")
@click.argument("user_id")
@click.option("--reason", required=True)
def users_activate(settings: Settings, user_id: str, reason: str) -> int:
    return _set_active(settings, user_id, reason, active=True)


@hub_command(users_group, "demo", help="create the demo logins listed in the README")
def users_demo(settings: Settings) -> int:
    from sample_data.demo_users import DEMO_USERS

    if settings.environment == "production":
        raise Refused("error: demo users are refused in production")
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


IMPORT_DESCRIPTION = """\
Import one file into one warehouse table, all or nothing: the whole file is checked against the
table's declared columns first, and every problem is reported at once (file, row, field; up to
{cap}, then how many more). Nothing is written unless every row is valid. Times are ISO 8601 (UTC
unless an offset is given); an empty cell in a column with a default takes the default.

A row is matched to a stored record by the table's key (the source system's record id): a new key
is inserted, a stored record is updated where a field of the file differs, and left alone where none
does, so importing the same export twice changes nothing. --dry-run lists every change it would make.
A file that changes stored records needs --reason: each changed record is audited with its old and new
values and that reason.

EM history goes to the table `readings` (sensor_id, ts, value and optionally unit; not listed below):
each reading must name a sensor of the hub in its unit; the same reading imported again is skipped.

TABLE is the table to fill (listed below); FILE a .csv (UTF-8), .xlsx or .parquet file whose header
names the table's columns."""
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


def table_listing() -> list[str]:
    """The importable tables and their columns, as `import --help` ends (computed on --help only)."""
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
    return [*lines, "", f"The schema, with each column's type, checks and meaning, is documented in {SCHEMA_DOC}."]


class ImportCommand(click.Command):
    """`import --help` ends with the table listing, written as it is (not rewrapped)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write("\n" + "\n".join(table_listing()) + "\n")


@hub_command(cli, "import", cls=ImportCommand, help=IMPORT_DESCRIPTION.format(cap=MAX_ERRORS_SHOWN),
             short_help="import a CSV, XLSX or Parquet file into a table, all or nothing")
@click.argument("table")
@click.argument("file")
@click.option("--profile", metavar="NAME|FILE",
              help="map another system's export with a profile: a shipped one "
                   f"({', '.join(shipped_profiles())}) or a .toml file (format: queries/imports/profiles.py)")
@click.option("--dry-run", is_flag=True, help="check everything, write nothing")
@click.option("--reason", help="why stored records change (required when the file changes any; recorded with "
                                "each changed record's old and new values)")
def import_table(settings: Settings, table: str, file: str, profile: str | None, dry_run: bool,
                 reason: str | None) -> int:
    from queries.imports.importer import ImportError_
    from queries.imports.plan import import_file

    wh = _warehouse(settings)
    try:
        plan = import_file(wh, table, file, audit_as="cli", profile=profile, dry_run=dry_run, reason=reason)
    except ImportError_ as exc:
        raise Refused(f"import refused, nothing written:\n{exc}") from None
    c = plan.counts
    if dry_run:
        print(f"dry run: {table}: {plan.summary()}; nothing written")
        for change in plan.changes[:MAX_ERRORS_SHOWN]:
            print(f"  row {change.row}, {change.record}, {change.field}: {change.stored!r} -> {change.new!r}")
        if len(plan.changes) > MAX_ERRORS_SHOWN:
            print(f"  ... and {len(plan.changes) - MAX_ERRORS_SHOWN} more changes")
    else:
        print(f"{table}: {c['insert']:,} inserted, {c['update']:,} updated, {c['unchanged']:,} unchanged "
              f"(sha256 {plan.sha256})")
    return 0


@hub_command(cli, "import-survey",
             help="import an anonymous psychological safety survey export (CSV or XLSX), all or nothing")
@click.argument("file")
@click.option("--user", help="who imports (recorded in the audit trail); default 'cli'")
def import_survey(settings: Settings, file: str, user: str | None) -> int:
    from queries.imports.importer import ImportError_
    from queries.imports.survey_import import import_survey

    try:
        count = import_survey(_warehouse(settings), file, user_id=user or "cli")
    except ImportError_ as exc:
        raise Refused(f"survey import refused, nothing written:\n{exc}") from None
    print(f"imported {count} survey responses (audited)")
    return 0


@cli.group("audit", help="audit trail")
def audit_group() -> None:
    pass


CHECKPOINTS = click.option("--checkpoints", metavar="FILE",
                           help="checkpoint file (default ATMP_AUDIT_CHECKPOINTS, or next to a DuckDB file)")


def _audit_inputs(checkpoints: str | None, settings: Settings):
    """(key, checkpoint file) for the audit commands; AuditKeyError when there is no usable key."""
    key = audit.audit_key(settings)
    path = Path(checkpoints) if checkpoints else audit.checkpoint_path(settings)
    return key, path


def _audit_notes(check, settings: Settings) -> None:
    if check.chain.unkeyed and check.chain.ok:
        first, last = check.chain.unkeyed
        print(f"note: entries {first} to {last} predate the keyed chain (unkeyed SHA-256); the keyed entries "
              "after them cover them")
    if audit.uses_development_key(settings):
        print("note: development audit key (ATMP_AUDIT_KEY_FILE unset): anyone can recompute the chain; "
              "set a key file in production")


def _audit_failed(exc: Exception) -> Refused:
    if isinstance(exc, audit.AuditKeyError):
        return Refused(f"error: {exc}")
    first_line = (str(exc).strip().splitlines() or [""])[0]  # an unreadable checkpoint file, a trail over the cap
    return Refused(f"error: cannot check the audit trail: {type(exc).__name__}: {first_line}")


def _report_problems(check) -> None:
    for problem in check.problems:
        print(f"audit trail BROKEN: {problem}", file=sys.stderr)
    if check.unanchored:
        print(f"audit trail NOT ANCHORED: {check.unanchored}", file=sys.stderr)


@hub_command(audit_group, "verify",
             help="recompute the keyed hash chain and compare it with the latest signed checkpoint "
                  "(exit 1 on any problem)")
@CHECKPOINTS
def audit_verify(settings: Settings, checkpoints: str | None) -> int:
    try:
        key, path = _audit_inputs(checkpoints, settings)
        check = audit.verify_anchored(_warehouse(settings), path, key)
    except WarehouseUnavailable:
        raise  # the command's one line
    except Exception as exc:  # one clear line, never a traceback
        raise _audit_failed(exc) from None
    _audit_notes(check, settings)
    if check.ok:
        point = check.latest
        print(f"audit trail intact: {check.chain.entries} entries, keyed; holds the checkpoint of {point.ts} "
              f"({point.count} entries up to entry {point.last_entry_id}, {path})")
        return 0
    _report_problems(check)
    return 1


@hub_command(audit_group, "checkpoint",
             help="verify, then append a signed checkpoint (entry count, head hash) to the checkpoint file; "
                  "run it from cron")
@CHECKPOINTS
def audit_checkpoint(settings: Settings, checkpoints: str | None) -> int:
    try:
        key, path = _audit_inputs(checkpoints, settings)
        if path is None:
            raise Refused("error: no checkpoint file: set ATMP_AUDIT_CHECKPOINTS (or pass --checkpoints FILE)")
        check, point = audit.write_checkpoint(_warehouse(settings), path, key)
    except (WarehouseUnavailable, Refused):
        raise  # the command's one line
    except Exception as exc:  # one clear line, never a traceback
        raise _audit_failed(exc) from None
    _audit_notes(check, settings)
    if point is None:
        _report_problems(check)
        print("no checkpoint written", file=sys.stderr)
        return 1
    print(f"checkpoint written to {path}: {point.count} entries up to entry {point.last_entry_id}, "
          f"head {point.head_hash[:16]}…, {point.ts}")
    return 0


@cli.group("display-token", help="long-lived, revocable sign-in tokens for wall displays")
def token_group() -> None:
    pass


@hub_command(token_group, "create", refuses=(ValueError,),
             help="issue a token for a display-role user (printed once)")
@click.option("--user", required=True, help="a user with the display role")
@click.option("--label", required=True, help="where the screen is, e.g. 'QA corridor TV'")
def token_create(settings: Settings, user: str, label: str) -> int:
    from queries.records import display_tokens

    new = display_tokens.create(_warehouse(settings), user_id=user, label=label, created_by="cli")
    print(f"display token {new.token_id} for {user} ({label}); shown once, store it on the screen:")
    print(f"  {new.token}")
    print(f"kiosk address: /kiosk/login?token={new.token}&pages=overview,excursions&interval=30")
    return 0


@hub_command(token_group, "revoke", help="revoke a token; its screens are signed out")
@click.argument("token_id")
@click.option("--reason", required=True)
def token_revoke(settings: Settings, token_id: str, reason: str) -> int:
    from queries.records import display_tokens

    if not display_tokens.revoke(_warehouse(settings), token_id, revoked_by="cli", reason=reason):
        raise Refused(f"error: no active display token {token_id!r}")
    print(f"display token {token_id} revoked; screens using it are signed out at their next request")
    return 0


@hub_command(token_group, "list", help="list tokens (ids and labels; never the secrets)")
def token_list(settings: Settings) -> int:
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


@hub_command(cli, "watch-imports", help="import every file dropped into a folder's inboxes (<table>/ or "
             "<table>@<profile>/), moving each to done/ or rejected/ with a report beside it; see "
             "queries/imports/drop_folder.py")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--every", type=float, default=10.0, show_default=True, help="seconds between two scans")
@click.option("--settle", type=float, default=5.0, show_default=True,
              help="a file is taken once it has not changed for this many seconds")
@click.option("--once", is_flag=True, help="one scan, then exit (for cron or a systemd timer)")
def watch_imports(settings: Settings, folder: Path, every: float, settle: float, once: bool) -> int:
    import threading

    from queries.imports import drop_folder

    if not folder.is_dir():
        raise Refused(f"error: {folder}: no such folder (create it with one inbox per table, e.g. "
                      f"{folder}/deviations@generic_eqms_deviations/)")
    wh = _warehouse(settings)

    def one_scan() -> None:
        for outcome in drop_folder.scan(wh, folder, settle_s=settle):
            print(f"{outcome.verdict}: {outcome.summary} -> {outcome.moved_to}", flush=True)

    one_scan()
    if once:
        return 0
    stop = threading.Event()
    _wait_for_signal(stop, every, one_scan)
    return 0


@hub_command(cli, "bridge", help="consume sensor readings from MQTT into the warehouse (live ingest)")
@click.option("--mqtt-url", help="broker, e.g. mqtt://127.0.0.1:1883 (default ATMP_MQTT_URL)")
@click.option("--report-every", type=float, default=30.0, show_default=True, help="seconds between status lines")
def bridge(settings: Settings, mqtt_url: str | None, report_every: float) -> int:
    import threading
    from dataclasses import replace

    from ingest.bridge import MqttBridge

    settings = replace(settings, mqtt_url=mqtt_url or settings.mqtt_url)
    if not settings.mqtt_url:
        raise Refused("error: no broker: set ATMP_MQTT_URL or pass --mqtt-url mqtt://host:1883")
    wh = _warehouse(settings, probe=False)  # its own message below
    try:
        running = MqttBridge(settings, wh).start()
    except Exception as exc:  # e.g. the DuckDB file is held by a running app
        raise Refused(f"error: cannot start the bridge on {wh.safe_url()}: {exc}\n(a DuckDB file admits one "
                      "process: with `atmp-hub serve` running, its in-app bridge consumes the broker instead)") from None
    stop = threading.Event()
    _wait_for_signal(stop, report_every, lambda: print(
        f"bridge {'connected' if running.connected.is_set() else 'DISCONNECTED'} · {running.service.stats}",
        flush=True))
    left = running.stop()
    print(f"bridge stopped; {left} received messages left unacknowledged for re-delivery; {running.service.stats}")
    return 0


@hub_command(cli, "simulate", help="publish simulated readings of the sample network's sensors")
@click.option("--mqtt-url", help="broker (default ATMP_MQTT_URL)")
@click.option("--direct", is_flag=True, help="no broker: write through the ingest path straight into the warehouse")
@click.option("--interval", type=float, help="seconds between readings of one sensor")
@click.option("--scenario", type=click.Choice(("demo", "drift", "spikes", "calm")))
@click.option("--scale", type=SCALES, default="small", show_default=True,
              help="sample network to simulate when the warehouse cannot be read")
@click.option("--duration", type=float, default=0, help="stop after this many seconds (0: run on)")
def simulate(settings: Settings, mqtt_url: str | None, direct: bool, interval: float | None,
             scenario: str | None, scale: str, duration: float) -> int:
    import threading
    import time
    from dataclasses import replace

    from ingest.bridge import validation_limits
    from ingest.live import start_publishing_simulator
    from ingest.service import IngestService
    from ingest.simulator import SensorSimulator, sample_network_sensors, sensors_from_frame
    from ingest.writer import IngestWriter, Message, utc_now

    settings = replace(settings, mqtt_url=mqtt_url or settings.mqtt_url,
                       simulator_interval_s=interval or settings.simulator_interval_s,
                       simulator_scenario=scenario or settings.simulator_scenario)
    wh = _warehouse(settings, probe=False)  # an unreadable warehouse: it simulates the sample network
    try:
        sensors = sensors_from_frame(wh.query("ingest/sensor_limits"))
    except Exception as exc:  # no schema yet, or a DuckDB file held by the app
        print(f"warehouse not readable ({type(exc).__name__}); simulating the {scale} sample network")
        sensors = sample_network_sensors(scale)
    stop = threading.Event()
    if direct:
        writer = IngestWriter(wh, limits=validation_limits(settings), source="simulator",
                              public_url=settings.public_url, notify_on_clear=settings.notify_on_clear)
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
        raise Refused("error: no broker: set ATMP_MQTT_URL, pass --mqtt-url, or --direct to write into the warehouse")
    print(f"simulating {len(sensors)} sensors every {settings.simulator_interval_s:g} s, scenario "
          f"{settings.simulator_scenario}, {where}")
    if duration:
        threading.Timer(duration, stop.set).start()
    _wait_for_signal(stop, 30, lambda: print(f"simulator running · {service.stats if service else ''}", flush=True))
    sim_stop.set()
    if service is not None:
        service.stop()
    return 0


@hub_command(cli, "data-model", help="print the open data model (every importable table and field) as Markdown")
def data_model(settings: Settings) -> int:
    from queries.imports.data_model import markdown

    print(markdown(importable_tables()), end="")
    return 0


@hub_command(cli, "compliance-matrix", refuses=(requirements.RequirementsError, trace.CollectionFailed),
             help="print the Part 11 / Annex 11 compliance matrix (requirements traced to tests) as Markdown")
def compliance_matrix(settings: Settings) -> int:
    print(trace.compliance_matrix(requirements.load(), trace.collect_markers()), end="")
    return 0


@hub_command(cli, "validate", refuses=(requirements.RequirementsError, validation_reports.Refused),
             help="installation and operational qualification of this installation: a JSON record and a PDF report")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="folder for the report (default validation-report/<UTC time>)")
@click.option("--workers", type=click.IntRange(1, 8), default=2, show_default=True, help="pytest workers for the OQ")
@click.option("--iq-only", is_flag=True, help="the installation checks only (the report says no requirement is verified)")
@click.option("--user", default="cli", show_default=True, help="who runs it (the audit entry of the registration)")
def validate(settings: Settings, out_dir: Path | None, workers: int, iq_only: bool, user: str) -> int:
    from validation import qualify, report

    catalogue = requirements.load()
    out = out_dir or Path("validation-report") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    env = qualify.environment(settings)
    print(f"installation qualification: {env['warehouse']}", file=sys.stderr)
    checks, code = qualify.installation(settings)
    trace: dict = {"tests": {}}
    if not iq_only:
        print(f"operational qualification: the requirement tests in scratch warehouses, {workers} workers "
              f"(log: {out / 'oq-pytest.log'})", file=sys.stderr)
        oq_checks, trace = qualify.operational(settings, out, workers)
        checks += [*oq_checks, qualify.deployed_reads(settings, datetime.now(UTC).replace(tzinfo=None))]
    record = report.build(catalogue, checks, trace, code, env, oq_run=not iq_only)
    sha = report.write_json(record, out / validation_reports.JSON_NAME)
    report.write_pdf(record, sha, out / validation_reports.PDF_NAME, out)
    summary = record["summary"]
    print(f"{summary['verdict']}; {summary['checks_passed']} of {summary['checks']} checks passed; "
          f"{summary['verified_by_test']} of {summary['verifiable_by_test']} test-verified requirements verified")
    print(f"report: {out / validation_reports.PDF_NAME}; record: {out / validation_reports.JSON_NAME} (SHA-256 {sha})")
    # Registered in the deployed warehouse (the one write validate makes there), to be signed in the app;
    # not into a schema other than this installation's (IQ-04), which may lack the reports' table.
    schema = next(c for c in checks if c.id == qualify.SCHEMA_CHECK)
    if not schema.passed:
        print(f"not registered: the warehouse's schema is not this installation's ({schema.observed}); bring it "
              "up to date (`make migrate` on PostgreSQL; on DuckDB start `atmp-hub serve` once), then validate again")
        return 1
    wh = _warehouse(settings)
    try:
        validation_reports.register(wh, out, record, by=user, now=datetime.now(UTC).replace(tzinfo=None))
    finally:
        wh.dispose()
    print(f"registered as {record['report']['id']}: review and approve it on the app's /validation page")
    return 0 if not record["deviations"] else 1


@hub_command(cli, "settings", help="list every setting and its environment variable")
def list_settings(settings: Settings) -> int:
    for name, default, help_text in Settings.describe():
        print(f"{name:32} default {default!r:28} {help_text}")
    return 0


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


@cli.group("notify", help="notifications: rules, the outbox, the dispatcher (notify/)")
def notify_group() -> None:
    pass


@hub_command(notify_group, "run", help="send what the outbox holds as it falls due (the dispatcher as its own "
             "process; several may run against one PostgreSQL warehouse)")
@click.option("--once", is_flag=True, help="send what is due now, then exit")
def notify_run(settings: Settings, once: bool) -> int:
    import threading

    from notify.dispatcher import Dispatcher

    dispatcher = Dispatcher(_warehouse(settings), settings)
    print(f"notifications: {dispatcher.describe()}", flush=True)
    if once:
        for result in dispatcher.dispatch_due():
            print(f"{result.notification_id}: {result.outcome}: {result.response}", flush=True)
        return 0
    stop = threading.Event()
    threading.Thread(target=dispatcher.run, args=(stop,), name="notify-dispatcher", daemon=True).start()
    _wait_for_signal(stop, 60, lambda: None)
    return 0


@notify_group.group("rules", help="who is told about what (every change audited)")
def notify_rules() -> None:
    pass


@hub_command(notify_rules, "add", refuses=(ValueError,), help="add a rule: one step of an escalation path")
@click.option("--event", required=True, help="excursion_action, excursion_alert or import_rejected")
@click.option("--email", help="the address to notify; or on-call (whoever is on call at the site then), "
              "site-managers (the site's), leadership (every quality leader)")
@click.option("--webhook", help="or the URL to POST the signed JSON message to (https://)")
@click.option("--site", help="only this site (default every site)")
@click.option("--room", help="only this room (excursions)")
@click.option("--grade", help="only rooms of this grade: A, B, C, D or CNC (excursions)")
@click.option("--parameter", help="only this parameter (excursions)")
@click.option("--delay", type=int, default=0, show_default=True, help="seconds after the event")
@click.option("--repeat-every", type=int, default=0, help="seconds between reminders until acknowledged")
@click.option("--repeat-max", type=int, default=0, help="most reminders")
@click.option("--user", default="cli", show_default=True, help="who adds it (the audit trail)")
@click.option("--reason", required=True)
def notify_rules_add(settings: Settings, event: str, email: str | None, webhook: str | None, site: str | None,
                     room: str | None, grade: str | None, parameter: str | None, delay: int, repeat_every: int, repeat_max: int,
                     user: str, reason: str) -> int:
    from queries.notifications import rules

    if bool(email) == bool(webhook):
        raise Refused("error: give one of --email ADDRESS or --webhook URL")
    rule = rules.Rule(event=event, recipient=email or webhook, channel="email" if email else "webhook", site_id=site, room_id=room, grade=grade, parameter=parameter,
                      delay_s=delay, repeat_every_s=repeat_every, repeat_max=repeat_max)
    rule_id = rules.add(_warehouse(settings), rule, by=user, reason=reason)
    print(f"{rule_id}: {rules.describe(rule)}")
    return 0


@hub_command(notify_rules, "list", help="every rule, active or not")
def notify_rules_list(settings: Settings) -> int:
    from queries.notifications import rules

    for row in rules.all_rules(_warehouse(settings)).to_dict("records"):
        print(f"{row['rule_id']} {'active  ' if row['active'] else 'inactive'} {rules.describe(row)}")
    return 0


@hub_command(notify_rules, "deactivate", refuses=(ValueError,), help="switch a rule off (audited)")
@click.argument("rule_id")
@click.option("--user", default="cli", show_default=True)
@click.option("--reason", required=True)
def notify_rules_deactivate(settings: Settings, rule_id: str, user: str, reason: str) -> int:
    from queries.notifications import rules

    rules.set_active(_warehouse(settings), rule_id, False, by=user, reason=reason)
    print(f"{rule_id} deactivated")
    return 0


@notify_group.group("on-call", help="who is on call at each site, by weekday and local time (rules with "
                    "--email on-call reach them)")
def notify_on_call() -> None:
    pass


@hub_command(notify_on_call, "add", refuses=(ValueError,), help="add a shift (audited)")
@click.option("--site", required=True)
@click.option("--days", required=True, help="weekdays it starts on, 1 (Monday) to 7 (Sunday), e.g. 12345")
@click.option("--from", "starts", required=True, help="HH:MM, the site's local time")
@click.option("--to", "ends", required=True, help="HH:MM; earlier than --from: into the next day; equal: 24 h")
@click.option("--email", required=True)
@click.option("--user", default="cli", show_default=True)
@click.option("--reason", required=True)
def notify_on_call_add(settings: Settings, site: str, days: str, starts: str, ends: str, email: str, user: str,
                       reason: str) -> int:
    from queries.notifications import on_call

    shift_id = on_call.add(_warehouse(settings), site_id=site, days=days, starts=starts, ends=ends, recipient=email,
                           by=user, reason=reason)
    print(f"{shift_id}: {site} days {days} {starts}-{ends} local time: {email}")
    return 0


@hub_command(notify_on_call, "list", help="every shift, active or not")
def notify_on_call_list(settings: Settings) -> int:
    for r in _warehouse(settings).query("notifications/shifts_all").to_dict("records"):
        print(f"{r['shift_id']} {'active  ' if r['active'] else 'inactive'} {r['site_id']} days {r['days']} "
              f"{r['starts']}-{r['ends']} local: {r['recipient']}")
    return 0


@hub_command(notify_on_call, "deactivate", refuses=(ValueError,), help="switch a shift off (audited)")
@click.argument("shift_id")
@click.option("--user", default="cli", show_default=True)
@click.option("--reason", required=True)
def notify_on_call_deactivate(settings: Settings, shift_id: str, user: str, reason: str) -> int:
    from queries.notifications import on_call

    on_call.deactivate(_warehouse(settings), shift_id, by=user, reason=reason)
    print(f"{shift_id} deactivated")
    return 0


@hub_command(notify_group, "demo", help="the demo escalation path (when no rule exists yet): on-call, then the "
             "quality lead, and the data steward for refused imports; example.org addresses")
def notify_demo(settings: Settings) -> int:
    from queries.notifications import rules

    wh = _warehouse(settings)
    if not rules.all_rules(wh).empty:
        print("notification rules exist already; none added (atmp-hub notify rules list)")
        return 0
    for rule, why in rules.DEMO_RULES:
        print(f"{rules.add(wh, rule, by='demo', reason=why)}: {rules.describe(rule)}")
    if not settings.smtp_url:
        print("ATMP_SMTP_URL is not set: the app prints each notification to its log instead of mailing it")
    return 0


@hub_command(notify_group, "outbox", help="the newest messages and their delivery state")
@click.option("--last", type=int, default=20, show_default=True)
def notify_outbox(settings: Settings, last: int) -> int:
    for row in _warehouse(settings).query("notifications/outbox_recent", {"n": last}).to_dict("records"):
        print(f"{row['notification_id']} {row['status']:<9} attempts {row['attempts']} due {row['due_at']:%Y-%m-%d %H:%M:%S} "
              f"to {row['recipient']}: {row['subject']} | {row['last_response'] or ''}")
    return 0


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    try:
        return cli.main(args=argv, prog_name="atmp-hub", standalone_mode=False) or 0  # --help: 0
    except click.ClickException as exc:  # a usage error (exit 2, with the usage line) or a refusal
        exc.show()
        return exc.exit_code
    except click.Abort:  # Ctrl-C at a prompt
        print("\naborted", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `atmp-hub settings | head`: the reader left; no traceback at exit either
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
