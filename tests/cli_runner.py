"""`atmp-hub` commands run as separate processes, as an operator runs them, without paying the interpreter's
start and the CLI's imports (about a second) on every command.

Each test process starts one helper (``python tests/cli_runner.py``) that imports the CLI's modules once and
then, per command, forks a child: a new process with its own pid, environment, working directory, stdin,
stdout, stderr and exit code, no controlling terminal, that runs ``dashboard.cli`` as ``python -m
dashboard.cli`` does (runpy, ``__name__ == "__main__"``). The helper opens no warehouse and starts no thread
before forking, so a child starts from imported code only. Tests that are about the process start itself
(the console script, start-up logging, settings read before imports) run the real binary instead."""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What dashboard.cli imports (itself excluded: `python -m` executes it as __main__, not as a module).
PRELOADED = ("queries.records.audit", "queries.engine.migrate", "queries.records.users", "queries.imports.importer", "queries.engine.settings",
             "queries.engine.warehouse", "queries.imports.survey_import", "queries.records.display_tokens", "sample_data.generator",
             "sample_data.demo_users")

_helper: subprocess.Popen | None = None
_helper_lock = threading.Lock()


def atmp_hub(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `atmp-hub ARGS` in a new process with ``env`` added to this process's environment; the result
    as subprocess.run(..., capture_output=True, text=True) gives it (TimeoutExpired after ``timeout``)."""
    request = {"argv": list(args), "env": {**os.environ, **(env or {})}, "cwd": str(ROOT), "stdin": stdin,
               "timeout": timeout}
    with _helper_lock:
        helper = _running_helper()
        helper.stdin.write(json.dumps(request) + "\n")
        helper.stdin.flush()
        line = helper.stdout.readline()
    if not line:
        raise RuntimeError(f"the CLI helper process ended (exit {helper.poll()})")
    reply = json.loads(line)
    command = ["atmp-hub", *args]
    if reply["timed_out"]:
        raise subprocess.TimeoutExpired(command, timeout, reply["stdout"], reply["stderr"])
    return subprocess.CompletedProcess(command, reply["returncode"], reply["stdout"], reply["stderr"])


def _running_helper() -> subprocess.Popen:
    global _helper
    if _helper is None or _helper.poll() is not None:
        _helper = subprocess.Popen([sys.executable, __file__], cwd=ROOT, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True, start_new_session=True)
        atexit.register(_helper.kill)
    return _helper


# --- the helper process ---------------------------------------------------------------------------
def _serve() -> None:
    import importlib
    import tempfile
    import time

    for name in PRELOADED:
        importlib.import_module(name)
    protocol_in, protocol_out = sys.stdin, sys.stdout
    for line in protocol_in:
        request = json.loads(line)
        with tempfile.TemporaryDirectory() as scratch:
            paths = {name: os.path.join(scratch, name) for name in ("stdin", "stdout", "stderr")}
            if request["stdin"] is not None:
                Path(paths["stdin"]).write_text(request["stdin"], encoding="utf-8")
            else:
                paths["stdin"] = os.devnull
            protocol_out.flush()
            pid = os.fork()
            if pid == 0:
                _child(request, paths)  # never returns
            deadline = time.monotonic() + request["timeout"]
            status = None
            while status is None:
                done, raw = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = raw
                elif time.monotonic() > deadline:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                    break
                else:
                    time.sleep(0.005)
            reply = {"timed_out": status is None,
                     "returncode": os.waitstatus_to_exitcode(status) if status is not None else None,
                     "stdout": Path(paths["stdout"]).read_text(encoding="utf-8", errors="replace")
                     if os.path.exists(paths["stdout"]) else "",
                     "stderr": Path(paths["stderr"]).read_text(encoding="utf-8", errors="replace")
                     if os.path.exists(paths["stderr"]) else ""}
        protocol_out.write(json.dumps(reply) + "\n")
        protocol_out.flush()


def _child(request: dict, paths: dict[str, str]) -> None:
    """In the forked process: the request's environment, directory and standard streams, then the CLI."""
    import runpy

    code = 1
    try:
        os.setsid()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, (name, mode) in enumerate((("stdin", os.O_RDONLY), ("stdout", os.O_WRONLY | os.O_CREAT),
                                           ("stderr", os.O_WRONLY | os.O_CREAT))):
            opened = os.open(paths[name], mode, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
        sys.argv = ["atmp-hub", *request["argv"]]
        try:
            runpy.run_module("dashboard.cli", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            if not isinstance(exit_.code, int | None):
                print(exit_.code, file=sys.stderr)
    except BaseException:  # what an uncaught exception does in `python -m`: the traceback on stderr, exit 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed stream has nothing left to flush
                pass
        os._exit(code)


if __name__ == "__main__":
    _serve()
