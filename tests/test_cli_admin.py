"""`atmp-hub` user and token commands as an administrator runs them, in fresh processes: while another
process holds the DuckDB file (as `make run` does) each says so in one line and points to the admin page;
`users add` refuses a bad role or site before it asks for a password; no traceback on any bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import atmp_hub

from queries.engine.warehouse import Warehouse
from queries.records import users

ROOT = Path(__file__).resolve().parent.parent
HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('holding', flush=True); time.sleep(120)"


def cli(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    # A new session has no controlling terminal: getpass cannot open /dev/tty and reads stdin.
    return atmp_hub(*args, env={"ATMP_DATABASE_URL": url, "ATMP_HOST": "127.0.0.1", "ATMP_PORT": "8050"},
                    stdin=stdin)


@pytest.fixture
def hub_file(tmp_path) -> tuple[Path, str]:
    """A DuckDB warehouse with a user and a display user, closed again (the CLI opens it itself)."""
    path = tmp_path / "hub.duckdb"
    wh = Warehouse(f"duckdb:///{path}")
    wh.create_schema()
    for user_id, role in (("pat", "auditor"), ("wall", "display")):
        users.add_user(wh, user_id=user_id, display_name=user_id, role=role, site_id=None,
                       password="long-enough-password")
    wh.dispose()
    return path, f"duckdb:///{path}"


@pytest.fixture
def held(hub_file):
    """The file held by another process, as the running app holds it."""
    path, url = hub_file
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        yield url, holder.pid
    finally:
        holder.kill()
        holder.wait(timeout=30)


@pytest.mark.parametrize(("args", "page"), [
    (("users", "set-role", "pat", "--role", "leadership", "--reason", "promotion"), "/admin/users"),
    (("users", "deactivate", "pat", "--reason", "left"), "/admin/users"),
    (("users", "add", "newbie", "--role", "auditor"), "/admin/users"),
    (("display-token", "create", "--user", "wall", "--label", "QA corridor"), "/admin/display-tokens"),
    (("display-token", "list"), "/admin/display-tokens"),
])
def test_a_held_warehouse_is_named_in_one_line_with_the_page_to_use(held, args, page):
    url, pid = held
    done = cli(url, *args)
    assert done.returncode == 2
    assert done.stdout == "" and "Password" not in done.stderr  # users add: refused before the prompt
    assert done.stderr.splitlines() == [
        f"error: the warehouse hub.duckdb is in use by the running app (PID {pid}; DuckDB admits one process): "
        f"use the admin pages at http://127.0.0.1:8050{page}, or stop the app"]


def test_other_commands_on_a_held_warehouse_fail_in_one_line(held):
    url, _ = held
    for args in (("audit", "verify"), ("import", "sites", "sites.csv")):
        done = cli(url, *args)
        assert done.returncode == 2, args
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
        assert "hub.duckdb" in done.stderr, done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("--role", "root"), "error: role must be one of leadership, site_manager, auditor, display, admin, not 'root'"),
    (("--role", "site_manager"), "error: a site_manager needs a site id"),
    (("--role", "auditor", "--site", "CHI"), "error: role auditor is not tied to a site; omit the site id"),
    (("--role", "site_manager", "--site", "NOPE"), "error: unknown site 'NOPE'"),
])
def test_users_add_refuses_a_bad_role_or_site_before_asking_for_a_password(hub_file, args, message):
    _, url = hub_file
    done = cli(url, "users", "add", "newbie", *args)  # stdin closed: a prompt would fail
    assert (done.returncode, done.stdout, done.stderr.splitlines()) == (2, "", [message])


@pytest.mark.requirement("URS-ACC-010", "URS-ACC-009")
def test_users_add_refuses_bad_ids_and_passwords_without_a_traceback(hub_file):
    _, url = hub_file
    for args, stdin, message in (
        (("pat", "--role", "auditor"), None, "error: user 'pat' already exists"),
        (("bad id", "--role", "auditor"), None, "error: user id: 1 to 100 letters"),
        (("newbie", "--role", "auditor", "--password-stdin"), "short\n", "error: password must have at least 12"),
        (("newbie", "--role", "auditor"), None, "error: no password given; nothing added"),  # EOF at the prompt
    ):
        done = cli(url, "users", "add", *args, stdin=stdin)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.splitlines()[-1].startswith(message), done.stderr
    done = cli(url, "users", "add", "newbie", "--role", "auditor", "--password-stdin", stdin="long-enough-password\n")
    assert done.returncode == 0 and done.stdout == "user newbie (auditor) added\n", done.stderr
    wh = Warehouse(url)
    try:
        entry = wh.query("sql/audit_all").iloc[-1]
        assert (entry.user_id, entry.action, entry.object_id, entry.new_value) == (
            "cli", "user_added", "newbie", "role=auditor site=None")
        # The real process hashes at argon2-cffi's recommended cost (RFC 9106's low-memory choice), not at the
        # cheap test cost tests/conftest.py sets inside the test process.
        stored = wh.query("sql/user_get", {"user_id": "newbie"}).iloc[0].password_hash
        assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), stored
    finally:
        wh.dispose()
