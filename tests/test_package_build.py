"""The package builds the way pip builds it for a newcomer (isolated build, current setuptools) without
deprecation warnings: a `project.license` TOML table stops building after 2027-02-18 (setuptools said so
three times on every install)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_builds_without_deprecation_warnings_and_declares_its_license(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(tmp_path),
                            "--verbose", str(ROOT)], capture_output=True, text=True, timeout=600)
    output = built.stdout + built.stderr
    assert built.returncode == 0, output[-3000:]
    assert "is deprecated" not in output and "SetuptoolsDeprecationWarning" not in output, [
        line for line in output.splitlines() if "deprecat" in line.lower()]
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
        packed = set(archive.namelist())
    assert "License-Expression: Apache-2.0" in text
    # An installed hub reads its SQL and modules from the package: every file of queries/ must be in it.
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "queries").rglob("*")
               if p.suffix in {".sql", ".py", ".toml"} and "__pycache__" not in p.parts}
    assert sources - packed == set()
