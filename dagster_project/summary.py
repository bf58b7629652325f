"""The short run summary: the four headline numbers per service and overall."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb

from dagster_project import metrics

SUMMARY_WINDOW_DAYS = 30
ALL_SERVICES = "all services"
# The fact tables that metrics.window_metrics reads, with the column that
# places a row in a window (the same column its queries filter on).
WINDOW_COLUMNS = {
    "fct_deployments": "deployed_at",
    "fct_changes": "deployed_at",
    "fct_change_commits": "deployed_at",
    "fct_incidents": "alert_at",
}


def _format(value: float | None, unit: str) -> str:
    return "no data" if value is None else f"{value:.2f} {unit}"


def _format_rate(value: float | None) -> str:
    return "no data" if value is None else f"{value * 100:.1f} %"


def summary_rows(con: duckdb.DuckDBPyConnection) -> tuple[dict, list[dict]]:
    """Return the run settings and one row of headline numbers per service, overall last.

    The window is the trailing 30 local days that end with the as_of day.
    """
    as_of, timezone = con.execute("select as_of, timezone from pipeline_settings").fetchone()
    zone = ZoneInfo(timezone)
    local_day = as_of.astimezone(zone).date()
    start_day = local_day - timedelta(days=SUMMARY_WINDOW_DAYS - 1)
    start = datetime.combine(start_day, datetime.min.time(), zone)
    end = datetime.combine(local_day + timedelta(days=1), datetime.min.time(), zone)
    # The overall row counts every production incident, so a service with
    # incidents but no counted deployment gets a row of its own too.
    services = [
        row[0]
        for row in con.execute(
            "select service from fct_deployments where is_counted "
            "union select service from fct_incidents where service is not null "
            "order by service"
        ).fetchall()
    ]
    rows = []
    with _window_rows_only(con, start, end):
        for service in [*services, None]:
            values = metrics.window_metrics(con, start, end, service=service, timezone=timezone)
            rows.append(
                {
                    "service": service or ALL_SERVICES,
                    "deployments_per_day": values["deployments_per_day_avg"],
                    "median_pr_lead_time_hours": values["median_pr_lead_time_hours"],
                    "change_failure_rate": values["change_failure_rate"],
                    "mttr_minutes": values["mttr_minutes"],
                }
            )
    window = {"as_of": as_of, "timezone": timezone, "start": start_day, "end": local_day}
    return window, rows


@contextmanager
def _window_rows_only(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime
) -> Iterator[None]:
    """Hide the fact rows outside ``[start, end)`` from unqualified table names.

    Each fact table gets a temporary table of the same name with its
    window's rows, and DuckDB resolves an unqualified name to the temporary
    table first (``tests/test_summary_services.py`` checks both). The
    summary's per-service queries then scan the window instead of the whole
    history, so their cost no longer grows with services times history.
    Temporary tables work on a read-only connection too; they are dropped on
    exit.
    """
    database = con.execute("select current_database()").fetchone()[0]
    quoted = '"' + database.replace('"', '""') + '"'
    try:
        for table, column in WINDOW_COLUMNS.items():
            con.execute(
                f"create or replace temp table {table} as "
                f"select * from {quoted}.main.{table} where {column} >= ? and {column} < ?",
                [start, end],
            )
        yield
    finally:
        for table in WINDOW_COLUMNS:
            con.execute(f"drop table if exists temp.main.{table}")


def format_summary(con: duckdb.DuckDBPyConnection, warehouse_path: str) -> str:
    """Render the summary as plain text."""
    window, rows = summary_rows(con)
    return render_summary(con, window, rows, warehouse_path)


def render_summary(
    con: duckdb.DuckDBPyConnection, window: dict, rows: list[dict], warehouse_path: str
) -> str:
    """Render the output of ``summary_rows`` and the quarantine count as plain text."""
    lines = [
        f"DORA summary, {window['start']} to {window['end']} ({window['timezone']}), "
        f"as of {window['as_of'].isoformat()}",
        f"{'service':<24} {'deploys/day':>12} {'median PR lead time':>20} "
        f"{'change failure rate':>20} {'MTTR':>14}",
    ]
    for row in rows:
        lines.append(
            f"{row['service']:<24} {_format(row['deployments_per_day'], ''):>12} "
            f"{_format(row['median_pr_lead_time_hours'], 'h'):>20} "
            f"{_format_rate(row['change_failure_rate']):>20} "
            f"{_format(row['mttr_minutes'], 'min'):>14}"
        )
    quarantined = con.execute("select count(*) from quarantine").fetchone()[0]
    lines.append(f"Rows in quarantine: {quarantined}")
    lines.append(f"Warehouse: {warehouse_path}")
    return "\n".join(lines)


def summary_markdown(text: str) -> str:
    """Wrap the summary text in a Markdown code block, for Dagster metadata."""
    return f"```\n{text}\n```"


def text_of_summary_markdown(markdown: str) -> str:
    """Return the summary text that ``summary_markdown`` wrapped."""
    return markdown.removeprefix("```\n").removesuffix("\n```")
