"""Shared fixtures: real warehouses (a DuckDB file, a throwaway PostgreSQL database), apps, clients."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from queries.engine.sql_files import add_tool_sql_dir
from queries.engine.warehouse import Warehouse

# Tests declare the requirements they verify (@pytest.mark.requirement); see validation/pytest_plugin.py.
pytest_plugins = ["validation.pytest_plugin"]

# Reads only the tests need (counts, a row by id, a clean-up) live in tests/sql/, outside the runtime package.
add_tool_sql_dir("test", Path(__file__).resolve().parent / "sql")

PG_ADMIN_URL = os.environ.get(
    "ATMP_TEST_PG_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres")
OUTPUT_DIR = Path(os.environ.get("ATMP_TEST_OUTPUT", Path(__file__).resolve().parent.parent / "test-output"))
# A fixed 'now' so every window in the tests is reproducible.
TEST_END = datetime(2026, 6, 1)
TEMPLATE_END = TEST_END


def _pg_admin():
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # no server: a failure, never a silent skip (make test starts one)
        engine.dispose()
        pytest.fail(f"PostgreSQL not reachable at {PG_ADMIN_URL} ({exc.__class__.__name__}); "
                    "run `make test`, which installs and starts it", pytrace=False)
    return engine


@contextmanager
def throwaway_postgres(template: str | None = None) -> Iterator[str]:
    """Create a uniquely named database (a copy of `template`, a database name, if given), yield its
    URL, drop it afterwards."""
    admin = _pg_admin()
    name = f"atmp_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_empty_template: list[str] = []  # this process's, made on first use


def _empty_postgres_template() -> str:
    """A database with the schema (create_schema) and no rows, made once per test process: each test's
    PostgreSQL warehouse is a copy of it (~0.3 s) instead of a new database given the schema (~1 s).
    Dropped when the process's session ends (pytest_sessionfinish)."""
    if not _empty_template:
        name = f"atmp_test_empty_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        wh = Warehouse(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
        wh.create_schema()
        wh.dispose()  # a template database must have no open connection
        _empty_template.append(name)
    return _empty_template[0]


_empty_duckdb: list[Path] = []  # this process's, made on first use


def _empty_duckdb_template(tmp_path: Path) -> Path:
    """A DuckDB file with the schema (create_schema) and no rows, made once per test process: each test's
    DuckDB warehouse is a copy of it: opened and closed, ~30 ms against ~80 ms for a new file given the schema."""
    if not _empty_duckdb:
        path = tmp_path.parent / f"empty-schema-{os.getpid()}.duckdb"
        wh = Warehouse(f"duckdb:///{path}")
        wh.create_schema()
        with wh.engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")  # the file alone holds the schema: a copy needs no WAL
        wh.dispose()
        _empty_duckdb.append(path)
    return _empty_duckdb[0]


@contextmanager
def make_warehouse(kind: str, tmp_path: Path) -> Iterator[Warehouse]:
    """An empty warehouse with the schema created: 'duckdb' (a file) or 'postgres' (a new database)."""
    if kind == "duckdb":
        path = tmp_path / f"wh-{uuid.uuid4().hex[:8]}.duckdb"
        shutil.copyfile(_empty_duckdb_template(tmp_path), path)
        wh = Warehouse(f"duckdb:///{path}")
        try:
            yield wh
        finally:
            wh.dispose()
    elif kind == "postgres":
        with throwaway_postgres(template=_empty_postgres_template()) as url:
            wh = Warehouse(url)
            try:
                yield wh
            finally:
                wh.dispose()
    else:
        raise ValueError(kind)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request, tmp_path) -> Iterator[Warehouse]:
    """The same test against a DuckDB file and a throwaway PostgreSQL database."""
    with make_warehouse(request.param, tmp_path) as wh:
        yield wh


@pytest.fixture
def duckdb_warehouse(tmp_path) -> Iterator[Warehouse]:
    with make_warehouse("duckdb", tmp_path) as wh:
        yield wh


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where screenshots and other artefacts of the run go (test-output/, ignored by git)."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    return OUTPUT_DIR


# --- the sample network and the app over it ------------------------------------------------------
SAMPLE_SEED = 7
PASSWORDS = {  # test logins: one per role, plus a second site manager for cross-site attempts
    "t.leader": ("leadership", None),
    "t.manager.chi": ("site_manager", "CHI"),
    "t.manager.atl": ("site_manager", "ATL"),
    "t.auditor": ("auditor", None),
    "t.display": ("display", None),
    "t.admin": ("admin", None),
}
TEST_PASSWORD = "correct-horse-battery"


@contextmanager
def _once_per_run(tmp_path_factory, name: str) -> Iterator[tuple[Path, bool]]:
    """Under a lock shared by the run's xdist workers (and its controller): yields the run's shared folder
    and whether ``name`` still has to be made there. The first process to ask makes it while the others
    wait, then find it ready; without xdist, one process asks."""
    import fcntl

    shared = _run_root(tmp_path_factory, _worker_id())
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ready = shared / f"{name}.ready"
        yield shared, not ready.exists()
        ready.touch()


@pytest.fixture(scope="session")
def sample_network(tmp_path_factory) -> tuple[Path, dict[str, datetime]]:
    """The small sample network (SAMPLE_SEED, TEST_END) as the generator wrote it, in a DuckDB file no test
    writes to (tests copy it, or open it read only), and the story dates populate() returned; generated
    once per run and shared by the xdist workers."""
    from sample_data.generator import populate

    with _once_per_run(tmp_path_factory, "sample-network") as (shared, make):
        path, stories = shared / "sample-network.duckdb", shared / "sample-network-dates.json"
        if make:
            path.unlink(missing_ok=True)  # a process that failed half-way may have left a part
            wh = Warehouse(f"duckdb:///{path}")
            wh.create_schema()
            dates = populate(wh, seed=SAMPLE_SEED, scale="small", end=TEST_END, progress=False)
            with wh.engine.connect() as conn:
                conn.exec_driver_sql("CHECKPOINT")  # the file alone holds it all: copies need no WAL
            wh.dispose()
            stories.write_text(json.dumps({k: v.isoformat() for k, v in dates.items()}))
    return path, {k: datetime.fromisoformat(v) for k, v in json.loads(stories.read_text()).items()}


@pytest.fixture(scope="session")
def control_warehouse(tmp_path_factory) -> Iterator[Warehouse]:
    """The risk model's negative control: the small sample network (SAMPLE_SEED, TEST_END) without its
    leading-indicator mechanism (sample_data/leading_indicators.py), with the test logins; read only."""
    from queries.records import users
    from sample_data.generator import populate

    with _once_per_run(tmp_path_factory, "control-network") as (shared, make):  # generated once per run
        if make:
            (shared / "control-network.duckdb").unlink(missing_ok=True)
            wh = Warehouse(f"duckdb:///{shared / 'control-network.duckdb'}")
            wh.create_schema()
            populate(wh, seed=SAMPLE_SEED, scale="small", end=TEST_END, progress=False, leading_indicators=False)
            with wh.engine.connect() as conn:
                conn.exec_driver_sql("CHECKPOINT")
            wh.dispose()
    path = tmp_path_factory.mktemp("control-network") / "hub.duckdb"
    shutil.copy(shared / "control-network.duckdb", path)
    wh = Warehouse(f"duckdb:///{path}")
    for user_id, (role, site) in PASSWORDS.items():
        users.add_user(wh, user_id=user_id, display_name=user_id, role=role, site_id=site, password=TEST_PASSWORD)
    yield wh
    wh.dispose()


@pytest.fixture(scope="session")
def sample_warehouse(sample_network, tmp_path_factory) -> Iterator[Warehouse]:
    """A copy of the sample network with the test logins, shared by the session's tests (some write)."""
    from queries.records import users

    path = tmp_path_factory.mktemp("sample") / "hub.duckdb"
    shutil.copy(sample_network[0], path)
    wh = Warehouse(f"duckdb:///{path}")
    for user_id, (role, site) in PASSWORDS.items():
        users.add_user(wh, user_id=user_id, display_name=user_id, role=role, site_id=site,
                       password=TEST_PASSWORD)
    yield wh
    wh.dispose()


def _template_db(run_root: Path) -> str:
    """The name of the run's PostgreSQL sample template, the same in the xdist controller and its workers:
    from the run's temporary directory (unique per run; a worker's is a folder inside it)."""
    return f"atmp_test_template_{hashlib.sha1(str(run_root).encode()).hexdigest()[:12]}"


def _worker_id() -> str:
    """The xdist worker's name ("gw0", ...), or "master" without xdist (also with `-p no:xdist`, where
    xdist's own worker_id fixture does not exist)."""
    return os.environ.get("PYTEST_XDIST_WORKER", "master")


def _run_root(tmp_path_factory, worker_id: str) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if worker_id != "master" else base


@pytest.fixture(scope="session")
def sample_postgres_template(tmp_path_factory) -> Iterator[str]:
    """The same small sample network (SAMPLE_SEED, TEST_END, schema by the migrations) in a PostgreSQL
    database, generated once per run and shared by the xdist workers (the first to need it generates it
    under a file lock; the others wait and reuse it): tests read it, or clone it with `clone_postgres`
    when they write. Generating it costs ~30-60 s; a clone ~1 s. Dropped when the run ends."""
    from queries.engine import migrate
    from sample_data.generator import populate

    worker_id = _worker_id()
    name = _template_db(_run_root(tmp_path_factory, worker_id))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with _once_per_run(tmp_path_factory, name) as (_shared, make):
        if make:
            admin = _pg_admin()
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            wh = Warehouse(url, statement_timeout_ms=600_000)
            migrate.upgrade(wh)
            populate(wh, seed=SAMPLE_SEED, scale="small", end=TEMPLATE_END, progress=False)
            wh.dispose()  # a template database must have no open connection
    yield url
    if worker_id == "master":  # without xdist; with it, the controller drops it (pytest_sessionfinish)
        _drop_database(name)


def _drop_database(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def pytest_sessionfinish(session, exitstatus):
    """Each process drops its empty-schema template; the xdist controller drops the workers' shared
    sample template once they all ended (if one was made)."""
    for name in _empty_template:
        _drop_database(name)
    if hasattr(session.config, "workerinput") or getattr(session.config.option, "numprocesses", None) in (None, 0):
        return
    root = session.config._tmp_path_factory.getbasetemp()
    if any(root.glob("atmp_test_template_*.ready")):
        _drop_database(_template_db(root))


def clone_postgres(template_url: str):
    """A throwaway copy of a PostgreSQL database (CREATE DATABASE ... TEMPLATE), dropped afterwards."""
    return throwaway_postgres(template=template_url.rsplit("/", 1)[1])


def app_for(wh: Warehouse, **settings):
    """The app factory of the tests: create_app over ``wh`` with test settings (a secret key, generous
    login limits: the suite logs in many times; test_auth tightens them where it tests them; no in-app
    notification dispatcher: a test session builds many apps that are never stopped, and each would poll
    the outbox for the rest of it; tests/test_notifications.py runs dispatchers of its own; no prewarm:
    each app would compute the overview in the background while other tests run), given settings
    on top, its page callbacks taken at once (see ready)."""
    from dashboard.app import create_app
    from queries.engine.settings import Settings

    chosen = {"secret_key": "test-secret-key", "login_rate_per_address": "10000 per minute",
              "login_rate_per_user": "10000 per minute", "notify_in_app": False, "prewarm": False, **settings}
    return ready(create_app(Settings.from_env({}, database_url=wh.url, **chosen), wh))


@pytest.fixture(scope="session")
def hub_app(sample_warehouse):
    return app_for(sample_warehouse, now=TEST_END.isoformat())


def ready(app):
    """Let the app take its callbacks now. Dash collects page callbacks in a process-wide list that
    the first app to serve a request empties; with several apps in one test session (e.g. a live
    monitoring app beside hub_app), each must take its own at once, or a later one gets none."""
    app._setup_server()
    return app


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Passwords hashed and checked inside the test process at argon2-cffi's cheapest parameters (its
    profile for tests), as Django's test settings swap in a fast hasher: the suite hashes ~100 and checks
    ~150 passwords, 0.1 s each at the real cost. Hashes keep their parameters, so a served process checks
    them cheaply and rehashes at its own cost; processes the tests start (CLI, `atmp-hub serve`) hash at
    the real cost, which tests/test_cli_admin.py holds."""
    from argon2 import PasswordHasher, profiles

    from queries.records import users

    real = users._hasher
    users._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    users._dummy_hash.cache_clear()
    yield
    users._hasher = real
    users._dummy_hash.cache_clear()


def login(client, user_id: str, password: str = TEST_PASSWORD):
    return client.post("/login", data={"username": user_id, "password": password},
                       headers={"Origin": "http://localhost"})


# Session cookies issued by a real login, per (app, user): a new client presents the cookie as a browser
# would in a second tab. Each login costs an argon2 check (~0.1 s); the suite made ~300 of them.
_issued_sessions: dict[tuple[int, str], str] = {}


@pytest.fixture
def make_client(hub_app):
    """make_client('t.leader') -> a Flask test client logged in as that user (None: anonymous). The first
    client of a user logs in through /login; later ones reuse its session cookie while the server still
    accepts it (a logout, role change or idle timeout ends it, and the next client logs in again)."""
    cookie = hub_app.server.config["SESSION_COOKIE_NAME"]

    def _make(user_id: str | None = None):
        client = hub_app.server.test_client()
        if not user_id:
            return client
        key = (id(hub_app), user_id)
        if key in _issued_sessions:
            client.set_cookie(cookie, _issued_sessions[key], domain="localhost")
            if client.get("/_dash-layout").status_code == 200:
                return client
            client.delete_cookie(cookie, domain="localhost")
        response = login(client, user_id)
        assert response.status_code == 302, f"login as {user_id} failed: {response.status_code}"
        _issued_sessions[key] = client.get_cookie(cookie, domain="localhost").value
        return client
    return _make


def dash_call(client, app, output_ids: list[str], inputs: dict, state: dict | None = None):
    """Send a crafted /_dash-update-component request for the callback with these output ids.

    inputs/state map "component-id.property" to the value the (possibly forged) browser sends."""
    deps = client.get("/_dash-dependencies").get_json()
    wanted = set(output_ids)
    for dep in deps:
        outs = [o.split(".")[0] for o in dep["output"].strip(".").split("...")]
        if set(outs) == wanted:
            break
    else:
        raise AssertionError(f"no callback outputs {output_ids}")

    def spec(items, values):
        return [{"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
                for i in items]
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]}
               for o in dep["output"].strip(".").split("...")]
    payload = {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
               "inputs": spec(dep["inputs"], inputs), "state": spec(dep.get("state", []), state or {}),
               "changedPropIds": [f"{i['id']}.{i['property']}" for i in dep["inputs"]]}
    return client.post("/_dash-update-component", json=payload, headers={"Origin": "http://localhost"})


# --- headless Chromium (Playwright drives the system browser; it downloads nothing) -------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # The system Chromium: Playwright's own browser download cannot work on this network.
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium",
            "args": ["--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--disable-sync"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1600, "height": 1000}}


@pytest.fixture(scope="session")
def live_url(hub_app):
    server = make_server("127.0.0.1", 0, hub_app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def console_errors(page: Page):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def choose(page: Page, dropdown_id: str, option) -> None:
    """Pick an option of a Dash 4 dcc.Dropdown (a button that opens a listbox of role=option labels)."""
    page.locator(f"#{dropdown_id}").click()
    page.get_by_role("option", name=option).click()
    page.keyboard.press("Escape")


# Dash's renderer keeps its state in a Redux store (window.store): the page is settled when the app is
# hydrated, every callback queue is empty and no component is loading, on three polls in a row (a callback
# that waits on another's output is queued between two of them). Playwright's "networkidle" asked the same
# of the network but waited 500 ms of quiet after every page. A page without Dash (sign-in) is drawn once loaded.
DASH_SETTLED = """() => {
    if (!document.getElementById('react-entry-point')) return true;  // a plain page (sign-in): loaded is drawn
    const state = window.store && window.store.getState();
    const queues = ['requested', 'prioritized', 'blocked', 'executing', 'watched', 'executed', 'stored'];
    const settled = !!state && state.appLifecycle === 'HYDRATED' && !!state.callbacks
        && queues.every(name => (state.callbacks[name] || []).length === 0)
        && !document.querySelector("[data-dash-is-loading='true']");
    window.__atmpSettledPolls = settled ? (window.__atmpSettledPolls || 0) + 1 : 0;
    return window.__atmpSettledPolls >= 3;
}"""


def wait_until_drawn(page: Page) -> None:
    """Wait until a page is drawn: loaded, Dash settled (no callback pending or loading), every chart drawn."""
    page.wait_for_load_state("load")
    page.evaluate("() => { window.__atmpSettledPolls = 0; }")
    page.wait_for_function(DASH_SETTLED, polling=50, timeout=30000)
    expect(page.locator(".js-plotly-plot:not(:has(.main-svg))")).to_have_count(0, timeout=30000)


def sign_in(page: Page, base: str, user_id: str) -> None:
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("User name").fill(user_id)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


# Heavy files first: with the suite spread over xdist workers file by file, the long browser, benchmark
# and two-engine generation files start at once and the many short files fill the gaps after them (a
# heavy file picked up last kept one worker busy for a minute after the other had finished).
HEAVY_FIRST = ("bench", "browser", "faults", "mqtt")


@pytest.hookimpl(trylast=True)  # after `-m` deselection: ranks only the tests that run
def pytest_collection_modifyitems(config, items):
    """Long files first, so the two xdist workers end together; the first file that needs the PostgreSQL
    sample template before all, so one worker builds it while the other runs other files, and the other
    files that need it last (started early, a worker waited idle for the whole build). The Makefile's
    --no-loadscope-reorder keeps xdist to this order."""
    def file_of(item) -> str:
        return item.nodeid.split("::")[0]

    rank: dict[str, int] = {}
    for item in items:
        marks = {m.name for m in item.iter_markers()}
        here = min((HEAVY_FIRST.index(m) for m in marks if m in HEAVY_FIRST), default=len(HEAVY_FIRST))
        rank[file_of(item)] = min(rank.get(file_of(item), here), here)
    needing = list(dict.fromkeys(file_of(item) for item in items
                                 if "sample_postgres_template" in getattr(item, "fixturenames", ())))
    for position, name in enumerate(needing):
        rank[name] = -1 if position == 0 else len(HEAVY_FIRST) + 1
    items.sort(key=lambda item: rank[file_of(item)])  # stable: each file keeps its order
