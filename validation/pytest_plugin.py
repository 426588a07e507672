"""Tests declare the user requirements they verify: `@pytest.mark.requirement("URS-MON-004", ...)`.

Loaded by tests/conftest.py. A marker naming an id that docs/requirements/ does not hold stops the run at
collection. With `--requirements-trace=FILE` (`make test`, hence CI) the run's outcome per test and the
requirements each one verifies are written to FILE as JSON (the traceability evidence `atmp-hub validate`
reports), and the run fails when a high-risk requirement verified by test has no passing test."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import pytest

from validation import requirements as reqs

MARKER = "requirement"


def pytest_addoption(parser):
    group = parser.getgroup("requirements")
    group.addoption("--requirements-trace", metavar="FILE", default=None,
                    help="write each test's outcome and requirements to FILE (JSON); fail when a high-risk "
                         "requirement has no passing test")
    group.addoption("--requirements-dir", metavar="DIR", default=str(reqs.REQUIREMENTS_DIR),
                    help="the requirement files (default: docs/requirements)")


def pytest_configure(config):
    config.addinivalue_line("markers", f"{MARKER}(*ids): the user requirements (docs/requirements/) the test verifies")
    try:
        config._atmp_requirements = reqs.load(Path(config.getoption("requirements_dir")))
    except reqs.RequirementsError as exc:
        raise pytest.UsageError(f"docs/requirements: {exc}") from None
    config._atmp_trace = _Trace(config) if config.getoption("requirements_trace") and \
        not hasattr(config, "workerinput") else None  # the xdist controller (or a plain run) keeps the trace
    if config._atmp_trace:
        config.pluginmanager.register(config._atmp_trace, "atmp-requirements-trace")
    if config.getoption("requirements_trace"):
        _record_screenshots()


_running: list = []  # the test item whose call is under way in this process (screenshots are its evidence)


def _record_screenshots() -> None:
    """Each page screenshot a test takes becomes evidence of the requirements it verifies (the report shows
    it beside the requirement): Playwright's Page.screenshot, wrapped to note the file against the test."""
    try:
        from playwright.sync_api import Page
    except ImportError:
        return
    if getattr(Page.screenshot, "_atmp_evidence", False):
        return
    real = Page.screenshot

    def screenshot(self, *args, **kwargs):
        taken = real(self, *args, **kwargs)
        if _running and kwargs.get("path"):
            _running[-1].user_properties.append(("evidence", str(Path(kwargs["path"]).resolve())))
        return taken

    screenshot._atmp_evidence = True
    Page.screenshot = screenshot


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    _running.append(item)
    try:
        yield
    finally:
        _running.pop()


def requirement_ids(item) -> list[str]:
    return sorted({rid for mark in item.iter_markers(MARKER) for rid in mark.args})


def what_it_checks(item) -> str:
    """The test's own statement of what it checks: its docstring's first paragraph, else its name read as a
    sentence (the suite names tests as statements: test_a_bad_entry_is_refused_with_file_entry_and_field)."""
    doc = (getattr(item, "function", None) and item.function.__doc__) or ""
    first = " ".join(doc.strip().split("\n\n")[0].split())
    return first or item.originalname.removeprefix("test_").replace("_", " ")


def pytest_collection_modifyitems(config, items):
    known = config._atmp_requirements.requirements
    unknown = []
    for item in items:
        ids = requirement_ids(item)
        unknown += [f"{item.nodeid}: {rid}" for rid in ids if rid not in known]
        # Carried by every report of the test, across xdist workers to the controller.
        item.user_properties.append(("requirements", ids))
        if ids:
            item.user_properties.append(("checks", what_it_checks(item)))
    if unknown:
        raise pytest.UsageError("requirement markers name ids not in docs/requirements/:\n  " + "\n  ".join(unknown))


def _first_line(report) -> str:
    """The failure's own message ("AssertionError: the chain is broken"), not the whole traceback."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash else report.longreprtext
    return (text.strip().splitlines() or [""])[0][:500]


class _Trace:
    def __init__(self, config):
        self.config = config
        self.path = Path(config.getoption("requirements_trace"))
        self.started = time.time()
        self.tests: dict[str, dict] = {}

    def _entry(self, nodeid: str) -> dict:
        return self.tests.setdefault(nodeid, {"requirements": [], "checks": "", "outcome": "not run",
                                              "duration_s": 0.0, "message": "", "evidence": []})

    def pytest_collection_finish(self, session):
        # Filled here in a plain run (also --collect-only: the map of markers); under xdist from the reports.
        for item in session.items:
            entry = self._entry(item.nodeid)
            entry["requirements"] = requirement_ids(item)
            entry["checks"] = what_it_checks(item) if entry["requirements"] else ""

    def pytest_runtest_logreport(self, report):
        entry = self._entry(report.nodeid)
        for name, value in report.user_properties:
            if name == "requirements":
                entry["requirements"] = list(value)
            elif name == "checks":
                entry["checks"] = value
            elif name == "evidence" and value not in entry["evidence"]:
                entry["evidence"].append(value)
        entry["duration_s"] = round(entry["duration_s"] + report.duration, 3)
        if report.failed:  # in any phase, teardown included
            if entry["outcome"] != "failed":
                entry["outcome"], entry["message"] = "failed", f"{report.when}: {_first_line(report)}"
        elif report.skipped:
            if entry["outcome"] != "failed":
                entry["outcome"] = "skipped"
                entry["message"] = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else "skipped"
        elif report.when == "call" and entry["outcome"] == "not run":
            entry["outcome"] = "passed"

    def uncovered_high_risk(self) -> list[str]:
        passed = {rid for t in self.tests.values() if t["outcome"] == "passed" for rid in t["requirements"]}
        return sorted(r.id for r in self.config._atmp_requirements.requirements.values()
                      if r.risk == "high" and r.needs_test and r.id not in passed)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        collect_only = session.config.option.collectonly
        missing = [] if collect_only else self.uncovered_high_risk()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({
            "started": self.started, "finished": time.time(), "exit_status": int(exitstatus),
            "collect_only": collect_only, "python": platform.python_version(), "platform": platform.platform(),
            "high_risk_without_a_passing_test": missing, "tests": self.tests}, indent=1), encoding="utf-8")
        if missing:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            self.missing = missing

    def pytest_terminal_summary(self, terminalreporter):
        missing = getattr(self, "missing", None)
        if missing:
            terminalreporter.section("requirements", red=True)
            terminalreporter.line(f"{len(missing)} high-risk requirement(s) without a passing test: {', '.join(missing)}")
        elif not self.config.option.collectonly:
            terminalreporter.line(f"requirements: every high-risk requirement has a passing test (trace: {self.path})")
