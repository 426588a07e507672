"""Import benchmark: rows per second and peak memory of `atmp-hub import` on a large file.

    .venv/bin/python bench/import_bench.py                        # 1,000,000 deviations, DuckDB file
    .venv/bin/python bench/import_bench.py --table readings       # 1,000,000 readings (EM history)
    .venv/bin/python bench/import_bench.py --rows 100000 --database-url postgresql+psycopg://...  # empty db

Each step is `atmp-hub import` as its own process (what an analyst runs), timed from start to exit; peak
memory is that process's own maximum resident set (wait4 in a small launcher: see LAUNCHER). Steps: the dry run
(read, check, look up every key), the import (one reading of the file, checked and written chunk by chunk
in one transaction), and the same file again
(every row compared with its stored record: all unchanged). The file is the hub's own format, written
once per row count into bench/.data/.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"
SITES = [("CHI", "America/Chicago"), ("ATL", "America/New_York"), ("SEA", "America/Los_Angeles")]
SENSORS = [f"{site}-R{room}-T" for site, _ in SITES for room in range(1, 11)]  # 30 temperature sensors


def deviations_file(rows: int) -> Path:
    path = DATA / f"deviations-{rows}.csv"
    if path.exists():
        return path
    rng = np.random.default_rng(14)
    occurred = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 2 * 365 * 24 * 60, rows), unit="min")
    frame = pd.DataFrame({
        "deviation_id": [f"DEV-{i:08d}" for i in range(rows)],
        "site_id": rng.choice([s for s, _ in SITES], rows),
        "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M:%S"),
        "detected_at": (occurred + pd.to_timedelta(rng.integers(10, 4000, rows), unit="min"))
        .strftime("%Y-%m-%dT%H:%M:%S"),
        "severity": rng.choice(["minor", "major", "critical"], rows, p=[0.7, 0.25, 0.05]),
        "category": rng.choice(["people", "method", "machine", "material", "environment", "measurement"], rows),
        "root_cause_code": rng.choice([f"RC-{i:03d}" for i in range(60)], rows),
        "source": rng.choice(["operator", "review"], rows),
        "description": "generated for the import benchmark",
    })
    return written(frame, path)


def readings_file(rows: int) -> Path:
    """EM history in the hub's own reading format: SENSORS sensors, one reading a minute each."""
    path = DATA / f"readings-{rows}.csv"
    if path.exists():
        return path
    rng = np.random.default_rng(14)
    minutes = -(-rows // len(SENSORS))
    times = pd.date_range("2025-01-01", periods=minutes, freq="min").strftime("%Y-%m-%dT%H:%M:%SZ")
    frame = pd.DataFrame({"sensor_id": np.tile(SENSORS, minutes)[:rows],
                          "ts": np.repeat(np.asarray(times), len(SENSORS))[:rows],
                          "value": np.round(20 + rng.normal(0, 0.3, rows), 2), "unit": "degC"})
    return written(frame, path)


def written(frame: pd.DataFrame, path: Path) -> Path:
    """The frame as CSV at path, whole or not at all (a run stopped mid-write leaves no half file to reuse)."""
    DATA.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    frame.to_csv(partial, index=False)
    partial.rename(path)
    return path


# A child's peak resident set (ru_maxrss from wait4) counts from the moment it is spawned, and a process
# spawned from this one (vfork, then exec) starts at this process's own resident set: after generating a
# 1,000,000-row file that was about 900 MiB, and every step reported it. Each step is therefore spawned by
# a small launcher process, which reports its own child's peak (the floor is then the launcher's few MiB).
LAUNCHER = ("import os, sys; report, command = sys.argv[1], sys.argv[2:]; "
            "pid = os.posix_spawn(command[0], command, os.environ); _, status, usage = os.wait4(pid, 0); "
            "open(report, 'w').write(str(usage.ru_maxrss)); sys.exit(os.waitstatus_to_exitcode(status))")


def timed(url: str, *args: str) -> tuple[float, float, str]:
    """(seconds, peak MiB, first stdout line) of one `atmp-hub` process; its peak resident set is its own
    (see LAUNCHER), whatever this process holds."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r", suffix=".maxrss") as report:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", LAUNCHER, report.name, sys.executable, "-m", "dashboard.cli",
                               *args], cwd=ROOT, stdout=out, stderr=err, text=True,
                              env={**os.environ, "ATMP_DATABASE_URL": url})
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if done.returncode != 0:
            raise SystemExit(f"atmp-hub {' '.join(args)} failed:\n{err.read()[-2000:]}")
        return seconds, int(report.read()) / 1024, (out.read().strip().splitlines() or [""])[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--table", choices=("deviations", "readings"), default="deviations")
    parser.add_argument("--database-url", help="an empty warehouse (default: a new DuckDB file in a temp folder)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from queries.engine.warehouse import Warehouse

    with tempfile.TemporaryDirectory(prefix="atmp-import-bench-") as scratch:
        url = args.database_url or f"duckdb:///{Path(scratch) / 'hub.duckdb'}"
        wh = Warehouse(url)
        wh.create_schema()
        with wh.transaction() as conn:
            wh.bulk_insert(conn, "sites", pd.DataFrame([{"site_id": s, "name": s, "region": "US", "timezone": z,
                                                          "kind": "node", "onboarded_at": "2024-01-01"}
                                                         for s, z in SITES]))
            wh.bulk_insert(conn, "rooms", pd.DataFrame([{"room_id": s.rsplit("-", 1)[0], "site_id": s[:3],
                                                          "name": s, "grade": "C"} for s in SENSORS]))
            wh.bulk_insert(conn, "sensors", pd.DataFrame([{"sensor_id": s, "room_id": s.rsplit("-", 1)[0],
                                                            "site_id": s[:3], "parameter": "temperature",
                                                            "unit": "degC", "interval_s": 60,
                                                            "installed_at": "2024-01-01"} for s in SENSORS]))
        wh.dispose()
        path = deviations_file(args.rows) if args.table == "deviations" else readings_file(args.rows)
        size_mb = path.stat().st_size / 1e6
        print(f"{args.rows:,} {args.table}, {size_mb:.0f} MB CSV, {url.split(':')[0]}")
        print("| step | seconds | rows/s | peak memory (MiB) | said |")
        print("|---|---:|---:|---:|---|")
        for step, extra in (("dry run", ["--dry-run"]), ("import", []), ("same file again", [])):
            seconds, peak, said = timed(url, "import", args.table, str(path), *extra)
            print(f"| {step} | {seconds:.1f} | {args.rows / seconds:,.0f} | {peak:,.0f} | {said[:70]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
