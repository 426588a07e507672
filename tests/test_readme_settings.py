"""The README documents every ATMP_* setting: its table is the one scripts/settings_table.py prints."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from settings_table import table  # noqa: E402


def test_readme_lists_every_setting_with_its_default():
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- settings:start -->\n(.*?)\n<!-- settings:end -->", readme, re.S)
    assert found, "README.md lost its settings table markers"
    assert found.group(1).strip() == table(), (
        "README.md's settings table is out of date: replace the lines between the settings markers with "
        "the output of `.venv/bin/python scripts/settings_table.py`")
