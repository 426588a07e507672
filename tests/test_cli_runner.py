"""The fast CLI runner (tests/cli_runner.py) gives what the real `python -m dashboard.cli` process gives:
the same exit code, stdout and stderr, in a process of its own, with each command's environment only."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cli_runner import ROOT, atmp_hub

from queries.engine.warehouse import Warehouse


def real_process(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dashboard.cli", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args", [("--help",), ("no-such-command",), ("audit", "verify"), ("users", "add", "x"),
                                  ("import", "no_such_table", "missing.csv")])
def test_runner_answers_as_the_real_process(tmp_path, args):
    wh = Warehouse(f"duckdb:///{tmp_path / 'hub.duckdb'}")
    wh.create_schema()
    wh.dispose()
    env = {"ATMP_DATABASE_URL": wh.url}
    real, fast = real_process(*args, env=env), atmp_hub(*args, env=env)
    assert (fast.returncode, fast.stdout, fast.stderr) == (real.returncode, real.stdout, real.stderr)


def test_each_command_has_its_own_environment(tmp_path):
    url = f"duckdb:///{tmp_path / 'hub.duckdb'}"
    refused = atmp_hub("audit", "verify", env={"ATMP_DATABASE_URL": url, "ATMP_ENVIRONMENT": "nonsense"})
    assert refused.returncode == 2 and "ATMP_ENVIRONMENT" in refused.stderr, refused.stderr
    later = atmp_hub("audit", "verify", env={"ATMP_DATABASE_URL": url})
    assert "ATMP_ENVIRONMENT" not in later.stderr, later.stderr  # the previous command's variable is gone
