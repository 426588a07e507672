"""The `atmp-hub` command: generate, serve, users, import, audit."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from datetime import datetime

from queries import audit, migrate, users
from queries.settings import Settings
from queries.warehouse import Warehouse

logger = logging.getLogger(__name__)


def _warehouse(settings: Settings) -> Warehouse:
    return Warehouse(settings.database_url, row_cap=settings.row_cap,
                     statement_timeout_ms=settings.statement_timeout_ms)


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
    stories = populate(wh, seed=args.seed, scale=args.scale, end=end, progress=not args.quiet)
    audit.append(wh, user_id="cli", action="generate_sample_data",
                 new_value=f"seed={args.seed} scale={args.scale} end={end}")
    print(f"sample network ({args.scale}, seed {args.seed}) written to {wh.safe_url()}")
    for name, when in stories.items():
        print(f"  story {name}: {when}")
    return 0


def cmd_serve(args, settings: Settings) -> int:
    from dashboard.app import create_app

    app = create_app(settings)
    app.run(host=args.host or settings.host, port=args.port or settings.port, debug=False, threaded=True)
    return 0


def cmd_users_add(args, settings: Settings) -> int:
    wh = _warehouse(settings)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    try:
        record = users.add_user(wh, user_id=args.user_id, display_name=args.name or args.user_id,
                                role=args.role, site_id=args.site, password=password)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    audit.append(wh, user_id="cli", action="user_added", object_type="user", object_id=record.user_id,
                 new_value=f"role={record.role} site={record.site_id}")
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
            users.add_user(wh, user_id=user_id, display_name=name, role=role, site_id=site, password=password)
            audit.append(wh, user_id="cli", action="user_added", object_type="user", object_id=user_id,
                         new_value=f"role={role} site={site} (demo)")
    print(f"Demo logins (development only), for http://{settings.host}:{settings.port}/ once it serves:")
    width = max(len(u[0]) for u in DEMO_USERS)
    for user_id, _name, role, site, password in DEMO_USERS:
        print(f"  {user_id:<{width}}  password {password:<18}  {role}{f' ({site})' if site else ''}")
    return 0


def cmd_import(args, settings: Settings) -> int:
    from queries.importer import ImportError_, import_file

    wh = _warehouse(settings)
    try:
        count = import_file(wh, args.table, args.file)
    except ImportError_ as exc:
        print(f"import refused, nothing written:\n{exc}", file=sys.stderr)
        return 2
    audit.append(wh, user_id="cli", action="import", object_type=args.table, object_id=str(args.file),
                 new_value=f"{count} rows")
    print(f"imported {count} rows into {args.table}")
    return 0


def cmd_import_survey(args, settings: Settings) -> int:
    from queries.importer import ImportError_
    from queries.survey_import import import_survey

    try:
        count = import_survey(_warehouse(settings), args.file, user_id=args.user or "cli")
    except ImportError_ as exc:
        print(f"survey import refused, nothing written:\n{exc}", file=sys.stderr)
        return 2
    print(f"imported {count} survey responses (audited)")
    return 0


def cmd_audit_verify(args, settings: Settings) -> int:
    check = audit.verify(_warehouse(settings))
    if check.ok:
        print(f"audit trail intact: {check.entries} entries")
        return 0
    print(f"audit trail BROKEN at entry {check.first_bad_entry}: {check.problem}", file=sys.stderr)
    return 1


def cmd_display_token_create(args, settings: Settings) -> int:
    from queries import display_tokens

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
    from queries import display_tokens

    if not display_tokens.revoke(_warehouse(settings), args.token_id, revoked_by="cli", reason=args.reason):
        print(f"error: no active display token {args.token_id!r}", file=sys.stderr)
        return 2
    print(f"display token {args.token_id} revoked; screens using it are signed out at their next request")
    return 0


def cmd_display_token_list(args, settings: Settings) -> int:
    from queries import display_tokens

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
    wh = _warehouse(settings)
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
    wh = _warehouse(settings)
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

    imp = sub.add_parser("import", help="import a CSV, XLSX or Parquet file into a table, all or nothing")
    imp.add_argument("table")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_import)

    survey = sub.add_parser("import-survey", help="import an anonymous psychological safety survey export "
                                                  "(CSV or XLSX), all or nothing")
    survey.add_argument("file")
    survey.add_argument("--user", help="who imports (recorded in the audit trail); default 'cli'")
    survey.set_defaults(func=cmd_import_survey)

    aud = sub.add_parser("audit", help="audit trail").add_subparsers(dest="audit_command", required=True)
    ver = aud.add_parser("verify", help="recompute the hash chain")
    ver.set_defaults(func=cmd_audit_verify)

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


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.func(args, Settings.from_env())


if __name__ == "__main__":
    sys.exit(main())
