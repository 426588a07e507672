"""`atmp-hub validate`: the installation qualification (IQ) of this installation and the operational
qualification (OQ), which runs the suite's requirement-marked tests in scratch warehouses it creates and
drops (temporary DuckDB files; throwaway databases on the deployed PostgreSQL server). The deployed
warehouse is only read: its schema is compared, nothing is written to it."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from queries.engine.settings import Settings, SmtpServer
from queries.engine.warehouse import Warehouse
from validation.trace import ROOT, TESTS_DIR

CONSTRAINTS = ROOT / "constraints.txt"
SCHEMA_CHECK = "IQ-04"
# What makes up the installed application (its code, schema, migrations and requirement files).
CODE_PATHS = ("app.py", "pyproject.toml", "constraints.txt", "alembic.ini", "assets", "dashboard", "queries",
              "ingest", "notify", "sample_data", "migrations", "validation", "docs/requirements")
CODE_SUFFIXES = {".py", ".sql", ".toml", ".txt", ".ini", ".css", ".js", ".json", ".mako", ".csv", ".svg", ".png", ".ico"}


@dataclass
class Check:
    id: str
    stage: str        # IQ or OQ
    what: str
    expected: str
    observed: str
    result: str       # pass, fail

    @property
    def passed(self) -> bool:
        return self.result == "pass"


def _check(id_: str, stage: str, what: str, expected: str, observed: str, ok: bool) -> Check:
    return Check(id_, stage, what, expected, observed, "pass" if ok else "fail")


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(path: Path = CONSTRAINTS) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[_key(name)] = version.strip()
    return pins


def package_check(pins: dict[str, str]) -> Check:
    installed = {_key(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}
    differ = sorted(f"{n} {installed[n]} (locked {v})" for n, v in pins.items() if n in installed and installed[n] != v)
    missing = sorted(n for n in pins if n not in installed)
    observed = f"{len(pins) - len(differ) - len(missing)} of {len(pins)} locked packages at their locked version"
    if differ:
        observed += "; differ: " + ", ".join(differ)
    if missing:
        observed += "; not installed: " + ", ".join(missing)
    return _check("IQ-02", "IQ", "Installed Python packages match constraints.txt",
                  "every locked package installed at its locked version", observed, not differ and not missing)


def code_files() -> list[Path]:
    files = []
    for name in CODE_PATHS:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [p for p in path.rglob("*") if p.is_file() and p.suffix in CODE_SUFFIXES
                      and "__pycache__" not in p.parts]
    return sorted(files)


def code_manifest() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest() for p in code_files()}


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return None
    return done.stdout if done.returncode == 0 else None


def code_check(manifest: dict[str, str]) -> tuple[Check, dict]:
    combined = hashlib.sha256("".join(f"{k}\0{v}\n" for k, v in manifest.items()).encode()).hexdigest()
    commit = (_git("rev-parse", "HEAD") or "").strip() or None
    info = {"files": len(manifest), "combined_sha256": combined, "git_commit": commit, "manifest": manifest}
    if commit is None:
        return _check("IQ-03", "IQ", "Installed code is an unmodified release", "a git checkout with no changes",
                      f"not a git checkout; {len(manifest)} files hashed (combined {combined[:16]}…)", False), info
    changed = _git("status", "--porcelain", "--", *CODE_PATHS) or ""
    changed_files = [line[3:] for line in changed.splitlines() if line.strip()]  # "XY path", untracked too
    info["modified"] = changed_files
    observed = f"commit {commit[:12]}; {len(manifest)} files hashed (combined {combined[:16]}…)"
    if changed_files:
        observed += f"; {len(changed_files)} changed since the commit: " + ", ".join(changed_files[:10])
    return _check("IQ-03", "IQ", "Installed code is an unmodified release", "no file changed since the commit",
                  observed, not changed_files), info


def _columns(url: str, **connect_args) -> dict[str, set[str]]:
    """Table -> columns of the warehouse's own schema (information_schema: the same on both engines)."""
    engine = create_engine(url, connect_args=connect_args)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name <> 'alembic_version'")).all()
    finally:
        engine.dispose()
    tables: dict[str, set[str]] = {}
    for table, column in rows:
        tables.setdefault(table, set()).add(column)
    return tables


def schema_check(settings: Settings) -> Check:
    """The deployed warehouse's tables and columns against a schema made fresh from this installation's
    schema files (and, on PostgreSQL, its Alembic revision against the head), read only."""
    what, expected = "Warehouse schema matches this installation", "every table and column of the schema; Alembic at head"
    with tempfile.TemporaryDirectory(prefix="atmp-iq-") as scratch:
        reference = Warehouse(f"duckdb:///{Path(scratch) / 'reference.duckdb'}")
        reference.create_schema()
        wanted = _columns(reference.url)
        reference.dispose()
    url = settings.database_url
    try:
        if url.startswith("duckdb"):
            path = make_url(url).database
            if not path or not Path(path).exists():
                return _check(SCHEMA_CHECK, "IQ", what, expected, f"no warehouse file at {path}", False)
            deployed = _columns(url, read_only=True)
            revision = "n/a (DuckDB: schema made by create_schema)"
        else:
            deployed = _columns(url)
            from alembic.script import ScriptDirectory

            from queries.engine.migrate import alembic_config
            head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
            engine = create_engine(url)
            with engine.connect() as conn:
                current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            engine.dispose()
            revision = f"Alembic {current} (head {head})"
            if current != head:
                return _check(SCHEMA_CHECK, "IQ", what, expected, revision, False)
    except Exception as exc:  # in use by the running app (DuckDB), a server down: said, and a failed check
        return _check(SCHEMA_CHECK, "IQ", what, expected, f"could not read the warehouse: {exc.__class__.__name__}: "
                      f"{str(exc).splitlines()[0][:300]}", False)
    missing = sorted(f"{t}.{c}" for t, cols in wanted.items() for c in cols - deployed.get(t, set()))
    observed = f"{len(wanted)} tables, {sum(map(len, wanted.values()))} columns present; {revision}"
    if missing:
        observed = f"missing: {', '.join(missing[:20])}; {revision}"
    return _check(SCHEMA_CHECK, "IQ", what, expected, observed, not missing)


def settings_checks(settings: Settings) -> list[Check]:
    checks = [
        _check("IQ-05", "IQ", "Environment is production (defaults refused: secret key, audit key)",
               "ATMP_ENVIRONMENT=production", settings.environment, settings.environment == "production"),
        _check("IQ-06", "IQ", "Session cookie marked Secure (served over TLS)", "ATMP_SECURE_COOKIES=true",
               str(settings.secure_cookies).lower(), settings.secure_cookies),
        _check("IQ-07", "IQ", "Statement timeout set", "ATMP_STATEMENT_TIMEOUT_MS between 1 and 60000",
               str(settings.statement_timeout_ms), 0 < settings.statement_timeout_ms <= 60_000),
        _check("IQ-08", "IQ", "Audit trail chained with a key file", "ATMP_AUDIT_KEY_FILE set",
               settings.audit_key_file or "not set", bool(settings.audit_key_file)),
    ]
    if settings.smtp_url:
        tls = SmtpServer.from_url(settings.smtp_url).tls
        checks.append(_check("IQ-09", "IQ", "Mail server reached over TLS", "smtps:// or ?starttls=true",
                             tls, tls != "none"))
    if settings.mqtt_url:
        checks.append(_check("IQ-10", "IQ", "MQTT broker reached over TLS", "TLS", "mqtt:// without TLS (the bridge "
                             "has no TLS support: keep the broker on a protected network)", False))
    return checks


def installation(settings: Settings) -> tuple[list[Check], dict]:
    version = platform.python_version()
    checks = [_check("IQ-01", "IQ", "Python version", ">= 3.11", version, sys.version_info >= (3, 11)),
              package_check(locked_versions())]
    code, code_info = code_check(code_manifest())
    checks += [code, schema_check(settings), *settings_checks(settings)]
    return checks, code_info


def _pg_admin_url(settings: Settings) -> str:
    return make_url(settings.database_url).set(database="postgres").render_as_string(hide_password=False)


def operational(settings: Settings, out: Path, workers: int, tests: Path = TESTS_DIR) -> tuple[list[Check], dict]:
    """The requirement-marked tests (not the benchmarks), on the deployed engine, in scratch warehouses."""
    trace_file = out / "oq-trace.json"
    evidence = out / "evidence"
    postgres = settings.database_url.startswith("postgresql")
    selection = "requirement and not bench" + ("" if postgres else " and not postgres")
    env = {**os.environ, "ATMP_TEST_OUTPUT": str(evidence)}
    if postgres:
        env["ATMP_TEST_PG_URL"] = _pg_admin_url(settings)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "validation.pytest_plugin", "-m", selection,
               f"--requirements-trace={trace_file}", str(tests)]
    if workers > 1:
        command[6:6] = ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"]
    log = out / "oq-pytest.log"
    with log.open("w", encoding="utf-8") as sink:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, timeout=3600)
    if not trace_file.exists():
        tail = log.read_text(encoding="utf-8")[-2000:]
        return [_check("OQ-01", "OQ", "Requirement tests ran", "a trace of every test", f"no trace (exit "
                       f"{done.returncode}): {tail}", False)], {"tests": {}}
    trace = json.loads(trace_file.read_text(encoding="utf-8"))
    outcomes = [t["outcome"] for t in trace["tests"].values()]
    counts = {o: outcomes.count(o) for o in ("passed", "failed", "skipped", "not run")}
    checks = [
        _check("OQ-01", "OQ", f"Requirement-marked tests pass (pytest -m \"{selection}\")", "every test passes",
               ", ".join(f"{n} {o}" for o, n in counts.items() if n), counts["failed"] == 0 and counts["skipped"] == 0
               and counts["not run"] == 0 and bool(outcomes)),
        _check("OQ-02", "OQ", "Every high-risk requirement has a passing test", "none without",
               ", ".join(trace["high_risk_without_a_passing_test"]) or "none without",
               not trace["high_risk_without_a_passing_test"]),
    ]
    trace["command"] = " ".join(command)
    trace["engine"] = "postgresql" if postgres else "duckdb"
    return checks, trace


def deployed_reads(settings: Settings, now: datetime) -> Check:
    """The KPI catalogue computed on the deployed warehouse's own data, over a read-only connection (the
    database refuses any write), as quality leadership's overview asks it: every KPI answers, with its
    network row, within the statement timeout."""
    from queries.engine.scope import build_scope
    from queries.kpi import catalog
    from queries.kpi.kpis import kpi_frame

    what = "KPI catalogue computes on the deployed warehouse (read-only connection, last 90 days)"
    expected = f"all {len(catalog.CATALOG)} KPIs with a network row"
    wh = Warehouse(settings.database_url, row_cap=settings.row_cap,
                   statement_timeout_ms=settings.statement_timeout_ms, read_only=True)
    try:
        sites = list(wh.query("sql/site_ids")["site_id"])
        scope = build_scope(user_id="atmp-validate", role="leadership", own_site=None, all_sites=sites, end=now,
                            days=90)
        options = {option: getattr(settings, name) for option, name in catalog.OPTION_SETTINGS.items()}
        started = time.perf_counter()
        frame = kpi_frame(wh, scope, **options)
        took = time.perf_counter() - started
    except Exception as exc:  # a query that fails on this warehouse: the OQ says which and why
        return _check("OQ-03", "OQ", what, expected, f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:300]}",
                      False)
    finally:
        wh.dispose()
    networked = set(frame.loc[frame["site_id"] == catalog.NETWORK, "kpi_id"])
    missing = [k.id for k in catalog.CATALOG if k.id not in networked]
    observed = (f"{len(networked)} KPIs over {len(sites)} sites in {took:.1f} s" +
                (f"; no network row: {', '.join(missing)}" if missing else ""))
    return _check("OQ-03", "OQ", what, expected, observed, not missing)


def environment(settings: Settings) -> dict:
    return {"host": socket.gethostname(), "os_user": getpass.getuser(), "python": platform.python_version(),
            "platform": platform.platform(), "warehouse": make_url(settings.database_url).render_as_string(hide_password=True),
            "environment": settings.environment}
