"""The one self-contained HTML report: tables and charts in a single file, no scripts.

The charts are inlined as ``data:`` PNG images and the style sheet is in the
page, so the file opens anywhere (mailed, on a shared drive) and loads
nothing from anywhere. The template autoescapes everything the report holds.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

_ENV = Environment(
    loader=PackageLoader("gateway.insights", "templates"),
    autoescape=select_autoescape(["html"]),
)


def render(doc: Mapping[str, Any], charts: Mapping[str, bytes]) -> str:
    """The report as one HTML page."""
    inlined = {name: base64.b64encode(png).decode("ascii") for name, png in charts.items()}
    return _ENV.get_template("report.html").render(**doc, charts=inlined)
