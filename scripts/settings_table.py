"""Print every ATMP_* setting as a Markdown table (README 'Every setting'; tests/test_readme_settings.py
checks that the README holds exactly this table)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queries.engine.settings import Settings  # noqa: E402


def table() -> str:
    lines = ["| variable | default | what it does |", "|---|---|---|"]
    for name, default, help_text in Settings.describe():
        shown = "(empty)" if default == "" else f"`{default}`"
        lines.append(f"| `{name}` | {shown} | {help_text.replace('|', '/')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
