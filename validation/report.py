"""The validation report: one JSON document (machine-readable, the record) and a PDF made from it."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from fpdf.fonts import FontFace

from dashboard.exports.pdf import HubPdf
from validation.qualify import Check
from validation.requirements import Catalogue

FAILED = FontFace(fill_color=(250, 220, 220))


def _requirement_result(requirement, tests: list[dict]) -> str:
    if not requirement.needs_test:
        return "by procedure"
    if not tests:
        return "no test run"
    outcomes = {t["outcome"] for t in tests}
    if "failed" in outcomes:
        return "failed"
    return "verified" if outcomes == {"passed"} else "not verified"


def build(catalogue: Catalogue, checks: list[Check], trace: dict, code: dict, environment: dict, *,
          oq_run: bool) -> dict:
    """The record. ``code``: the installation check's account of the code, its file manifest included."""
    tests_by_requirement: dict[str, list[dict]] = {}
    for nodeid, t in trace.get("tests", {}).items():
        for rid in t["requirements"]:
            tests_by_requirement.setdefault(rid, []).append({"test": nodeid, "checks": t.get("checks", ""), **{
                k: t[k] for k in ("outcome", "duration_s", "message")}, "evidence": t.get("evidence", [])})
    requirements = []
    for r in catalogue.requirements.values():
        tests = tests_by_requirement.get(r.id, [])
        requirements.append({"id": r.id, "area": r.area, "text": r.text, "risk": r.risk, "risk_reason": r.risk_reason,
                             "clauses": list(r.clauses), "verification": r.verification, "procedure": r.procedure,
                             "result": _requirement_result(r, tests) if oq_run or not r.needs_test else "OQ not run",
                             "tests": tests})
    deviations = [f"{c.id} {c.what}: {c.observed}" for c in checks if not c.passed]
    if not oq_run:
        deviations.append("OQ not run (--iq-only): no requirement is verified by this report")
    deviations += [f"{t['test']}: {t['outcome']} ({t['message']})" for t in
                   {t["test"]: t for ts in tests_by_requirement.values() for t in ts}.values()
                   if t["outcome"] != "passed"]
    deviations += [f"{r['id']} ({r['risk']} risk): {r['result']}" for r in requirements
                   if r["result"] in ("no test run", "failed", "not verified")]
    by_test = [r for r in requirements if r["verification"] == "test"]
    summary = {
        "requirements": len(requirements),
        "by_risk": catalogue.by_risk(),
        "verified_by_test": sum(r["result"] == "verified" for r in by_test),
        "verifiable_by_test": len(by_test),
        "by_procedure": len(requirements) - len(by_test),
        "automated_share": round(len(by_test) / len(requirements), 3) if requirements else 0.0,
        "checks_passed": sum(c.passed for c in checks), "checks": len(checks),
        "tests_run": len(trace.get("tests", {})),
        "deviations": len(deviations),
        "verdict": "passed: no deviation" if not deviations else f"not passed: {len(deviations)} deviation(s)",
    }
    return {
        "report": {"id": str(uuid.uuid4()), "title": "ATMP Quality Hub: installation and operational qualification",
                   "created": datetime.now(UTC).isoformat(timespec="seconds"), "tool": "atmp-hub validate"},
        "environment": environment,
        "code": code,
        "summary": summary,
        "checks": [asdict(c) for c in checks],
        "oq": {k: trace.get(k) for k in ("command", "engine", "started", "finished", "python", "platform")},
        "requirements": requirements,
        "deviations": deviations,  # signatures are the warehouse's (/validation): this file is never rewritten
    }


def write_json(report: dict, path: Path) -> str:
    data = json.dumps(report, indent=1, ensure_ascii=False).encode("utf-8")
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


class _Pdf(HubPdf):
    def __init__(self, report: dict, json_sha256: str):
        super().__init__(report["report"]["title"])
        self.report, self.json_sha256 = report, json_sha256

    def footer_text(self) -> str:
        r = self.report["report"]
        return (f"Report {r['id']} · created {r['created']} · JSON record SHA-256 {self.json_sha256} · "
                f"page {self.page_no()} of {{nb}}")

    def table(self, headers: list[str] | None, rows: list[list[str]], widths: tuple[float, ...],
              failed: set[int] = frozenset(), size: float = 7.5):
        self.grid(headers, rows, widths, size=size, line_height=size / 2, marked=frozenset(failed), mark=FAILED)


def write_pdf(report: dict, json_sha256: str, path: Path, evidence_root: Path) -> None:
    pdf = _Pdf(report, json_sha256)
    s, env, code = report["summary"], report["environment"], report["code"]
    pdf.add_page()
    pdf.h1(report["report"]["title"])
    pdf.para(f"Verdict: {s['verdict']}.", size=12)
    pdf.table(None, [
        ["Report id", report["report"]["id"]], ["Created (UTC)", report["report"]["created"]],
        ["Executed by", f"{env['os_user']} on {env['host']}"], ["Warehouse", env["warehouse"]],
        ["Environment", env["environment"]], ["Python / platform", f"{env['python']} / {env['platform']}"],
        ["Code", f"commit {code.get('git_commit') or 'none'}; {code['files']} files, combined SHA-256 "
                 f"{code['combined_sha256']}"],
        ["OQ", f"{report['oq']['engine']}: {report['oq']['command']}" if report["oq"].get("command") else "not run"],
    ], widths=(30, 150))
    pdf.h2("Summary")
    risks = s["by_risk"]
    pdf.table(["Measure", "Value"], [
        ["Requirements", f"{s['requirements']} ({risks['high']} high, {risks['medium']} medium, {risks['low']} low risk)"],
        ["Verified by automated test (this run)", f"{s['verified_by_test']} of {s['verifiable_by_test']}"],
        ["Requirements with automated evidence", f"{s['verifiable_by_test']} of {s['requirements']} "
                                                 f"({s['automated_share']:.0%})"],
        ["Verified by the user's procedure", str(s["by_procedure"])],
        ["Checks passed (IQ, OQ)", f"{s['checks_passed']} of {s['checks']}"],
        ["Tests run", str(s["tests_run"])], ["Deviations", str(s["deviations"])],
    ], widths=(60, 120))
    pdf.h2("Signatures")
    pdf.para("This file is never rewritten: `atmp-hub validate` registers it in the warehouse by its SHA-256, and "
             "quality leadership signs it on the app's /validation page (reviewed, then approved by another "
             "person). Each signature names the JSON record's SHA-256 (in the footer) and is kept in the audit "
             "trail.")

    pdf.add_page()
    pdf.h1("Installation and operational checks")
    checks = report["checks"]
    pdf.table(["Id", "Check", "Expected", "Observed", "Result"],
              [[c["id"], c["what"], c["expected"], c["observed"], c["result"]] for c in checks],
              widths=(12, 45, 40, 68, 15), failed={i for i, c in enumerate(checks) if c["result"] != "pass"})

    pdf.add_page()
    pdf.h1("Traceability: requirement, tests, result")
    reqs = report["requirements"]
    rows = []
    for r in reqs:
        passed = sum(t["outcome"] == "passed" for t in r["tests"])
        rows.append([r["id"], r["risk"], r["text"], ", ".join(r["clauses"]),
                     f"{passed} of {len(r['tests'])}" if r["verification"] == "test" else "procedure", r["result"]])
    pdf.table(["Id", "Risk", "Requirement", "Clauses", "Tests passed", "Result"], rows, widths=(22, 13, 75, 35, 17, 18),
              failed={i for i, r in enumerate(reqs) if r["result"] not in ("verified", "by procedure")})

    pdf.add_page()
    pdf.h1("Traceability: each requirement's tests")
    pdf.para("What each test checks is its own statement (its docstring, or its name read as a sentence); the "
             "JSON record holds the same with each test's failure message.", size=8.5)
    test_rows, failed_rows = [], set()
    for r in reqs:
        for t in r["tests"]:
            if t["outcome"] != "passed":
                failed_rows.add(len(test_rows))
            test_rows.append([r["id"], t["test"].removeprefix("tests/"), t["checks"], t["outcome"],
                              f"{t['duration_s']:.1f} s"])
    if test_rows:
        pdf.table(["Requirement", "Test", "What it checks", "Result", "Time"], test_rows,
                  widths=(22, 55, 75, 14, 14), failed=failed_rows, size=6.5)
    else:
        pdf.para("No test ran (the OQ did not run).")

    pdf.add_page()
    pdf.h1(f"Deviations ({len(report['deviations'])})")
    for d in report["deviations"] or ["None."]:
        pdf.para(f"• {d}", size=8.5)

    shots = [(r["id"], t["test"], e) for r in reqs for t in r["tests"] for e in t["evidence"]]
    seen = set()
    if shots:
        pdf.add_page()
        pdf.h1("Evidence: screenshots taken by the page tests")
    for rid, test, name in shots:
        image = evidence_root / name
        if name in seen or not image.is_file():
            continue
        seen.add(name)
        pdf.set_font(pdf.family, "B", 9)
        pdf.multi_cell(0, 4.5, pdf.text_safe(f"{rid} · {test}"), align="L")
        pdf.ln(1)
        width = pdf.w - pdf.l_margin - pdf.r_margin
        if pdf.get_y() > pdf.h - 90:
            pdf.add_page()
        pdf.image(str(image), w=width, h=min(150.0, pdf.h - pdf.get_y() - 25), keep_aspect_ratio=True)
        pdf.ln(3)
    pdf.output(str(path))
