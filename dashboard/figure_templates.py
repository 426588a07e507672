"""Plotly's built-in templates, slimmed to what the hub draws, so each figure carries ~1 KB of template.

Every plotly figure embeds its whole template in its JSON: 7 KB for 'plotly' or 'plotly_white', mostly
colour scales and settings of 3-D, polar, ternary and map subplots and of trace types the hub never
draws. The comparability page alone has 14 figures. The hub draws scatter, bar and box traces on
cartesian axes, so the registered templates keep those trace defaults and the layout settings that
apply to them; figures look the same (tests compare exported images of the pages unchanged).
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

TEMPLATES = ("plotly", "plotly_white")
KEEP_TRACES = ("scatter", "bar", "box")
DROP_LAYOUT = ("colorscale", "coloraxis", "scene", "ternary", "polar", "geo", "mapbox", "map")
_done: set[str] = set()


def slim_templates() -> None:
    """Replace the registered templates with their slim versions (once per process)."""
    for name in TEMPLATES:
        if name in _done:
            continue
        full = pio.templates[name].to_plotly_json()
        data = {k: v for k, v in full.get("data", {}).items() if k in KEEP_TRACES}
        layout = {k: v for k, v in full.get("layout", {}).items() if k not in DROP_LAYOUT}
        pio.templates[name] = go.layout.Template(data=data, layout=layout)
        _done.add(name)
