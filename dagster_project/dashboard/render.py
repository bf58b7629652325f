"""Render the dashboard data into one self-contained HTML file.

The page carries its style, its script and its data inline; a Content Security
Policy forbids every network request, so it opens offline from a file. The data
is embedded as JSON in a ``<script type="application/json">`` element with
``<``, ``>`` and ``&`` escaped, so no value can close the element. A
``<noscript>`` block repeats the headline numbers and the contract statuses as
plain tables for readers without JavaScript.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from dagster_project.dashboard.metrics import ALL_SERVICES, HEADLINE_WINDOW_DAYS, METRICS

JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _static(name: str) -> str:
    return resources.files("dagster_project.dashboard").joinpath("static", name).read_text("utf-8")


def embed_json(data: Any) -> str:
    """Return ``data`` as JSON text that is safe inside a script element."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, sort_keys=True)
    for character, escape in JSON_ESCAPES.items():
        text = text.replace(character, escape)
    return text


def _format(value: float | None, scale: float = 1.0) -> str:
    return "no data" if value is None else f"{value * scale:.2f}"


def _noscript_headline(data: dict[str, Any]) -> str:
    trailing = data["trailing"]
    latest = data["as_of_date"]
    rows = []
    for index, service in enumerate(trailing["service"]):
        is_headline_row = (
            service == ALL_SERVICES
            and trailing["window_days"][index] == HEADLINE_WINDOW_DAYS
            and trailing["as_of_date"][index] == latest
        )
        if not is_headline_row:
            continue
        for spec in METRICS:
            value = trailing[spec.trailing_column][index]
            rows.append(
                f"<tr><th scope='row'>{html.escape(spec.title)}</th>"
                f"<td>{_format(value, spec.scale)} {html.escape(spec.unit)}</td></tr>"
            )
    caption = f"All services, trailing {HEADLINE_WINDOW_DAYS} days to {html.escape(str(latest))}"
    return f"<table><caption>{caption}</caption>{''.join(rows)}</table>"


def _noscript_contract(contract: dict[str, Any]) -> str:
    if not contract["present"]:
        return f"<p>No contract: {html.escape(contract['reason'])}.</p>"
    rows = [
        "<tr><th scope='col'>Contract</th><th scope='col'>Outcome</th>"
        "<th scope='col'>Status</th><th scope='col'>Status date</th></tr>"
    ]
    for outcome in contract["outcomes"]:
        cells = [
            outcome["contract_id"],
            outcome["outcome_id"],
            outcome["status"] or "no data",
            outcome["status_date"] or "",
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return f"<table><caption>Contract outcomes</caption>{''.join(rows)}</table>"


def render_dashboard(data: dict[str, Any]) -> str:
    """Return the complete HTML page for ``data`` (from ``read_dashboard_data``)."""
    fallback = (
        "<p>This page draws its charts and filters with JavaScript. "
        "The headline numbers and contract statuses follow as plain tables.</p>"
        + _noscript_headline(data)
        + _noscript_contract(data["contract"])
    )
    page = _static("page.html")
    replacements = {
        "<!--STYLE-->": _static("dashboard.css"),
        "<!--NOSCRIPT-->": fallback,
        "<!--DATA-->": embed_json(data),
        "<!--SCRIPT-->": _static("dashboard.js"),
    }
    for marker, text in replacements.items():
        page = page.replace(marker, text, 1)
    return page


def write_dashboard(data: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the page to ``path`` atomically: a browser never reads a half-written file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as temp:
            temp.write(render_dashboard(data))
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target
