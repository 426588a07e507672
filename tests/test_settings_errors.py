"""Mistyped ATMP_* settings refuse to start with one line naming the variable, its value and what is
accepted (issue 31.6): through the `atmp-hub` command and the gunicorn entry point, as processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from queries.engine.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("variable", "value", "accepted"), [
    ("ATMP_CACHE_TTL_S", "one hour", "is not a whole number (for example 4096)"),
    ("ATMP_SIMULATOR_INTERVAL_S", "fast", "is not a number (for example 2.5)"),
    ("ATMP_SIMULATOR_INTERVAL_S", "nan", "is not a number (for example 2.5)"),
    ("ATMP_SIMULATOR", "ture", "is not a yes/no value: use one of 1, true, yes, on or 0, false, no, off"),
    ("ATMP_ENVIRONMENT", "Production", "is not one of development or production"),
])
@pytest.mark.requirement("URS-ACC-011")
def test_the_command_refuses_a_mistyped_setting_in_one_line(variable, value, accepted):
    done = run([sys.executable, "-m", "dashboard.cli", "settings"], **{variable: value})
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {variable}={value!r} {accepted}", done.stderr


def test_the_gunicorn_entry_point_refuses_a_mistyped_setting_in_one_line(tmp_path):
    done = run([sys.executable, "-c", "import app"], ATMP_MONITORING_REFRESH_S="5s",
               ATMP_DATABASE_URL=f"duckdb:///{tmp_path / 'none.duckdb'}")
    assert done.returncode != 0
    assert done.stderr.strip() == "error: ATMP_MONITORING_REFRESH_S='5s' is not a whole number (for example 4096)"


def test_yes_no_words_both_ways_and_nothing_else():
    for word, value in [("1", True), ("Yes", True), (" on ", True), ("TRUE", True),
                        ("0", False), ("no", False), ("Off", False), ("false", False), ("", False)]:
        assert Settings.from_env({"ATMP_SIMULATOR": word}).simulator is value, word
    for word in ("y", "enabled", "2", "nein"):
        with pytest.raises(SettingsError, match=f"ATMP_SIMULATOR={word!r} is not a yes/no value"):
            Settings.from_env({"ATMP_SIMULATOR": word})
    assert Settings.from_env({"ATMP_CACHE_TTL_S": " 60 "}).cache_ttl_s == 60


@pytest.mark.requirement("URS-ACC-011")
def test_production_refuses_to_start_without_its_session_key_or_audit_key():
    with pytest.raises(SettingsError, match="ATMP_SECRET_KEY must be set in production"):
        Settings.from_env({"ATMP_ENVIRONMENT": "production", "ATMP_AUDIT_KEY_FILE": "/etc/atmp/audit.key"})
    with pytest.raises(SettingsError, match="ATMP_AUDIT_KEY_FILE must be set in production"):
        Settings.from_env({"ATMP_ENVIRONMENT": "production", "ATMP_SECRET_KEY": "s" * 64})
    # Development without a key: a fresh random one per process, never a fixed default.
    assert Settings.from_env({}).secret_key != Settings.from_env({}).secret_key
