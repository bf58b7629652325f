"""The DORA metrics of one window, read from the fact marts of a built warehouse.

``window_metrics`` reads ``fct_deployments``, ``fct_changes``,
``fct_change_commits`` and ``fct_incidents`` for the half-open window
``[start, end)`` and returns one dict of plain values. Events belong to the
window by their own time: a deployment and its lead-time samples by
``deployed_at``, an incident by ``alert_at``. Hours and minutes are rounded to
4 decimals, rates to 4 decimals, and a metric with no data is ``None``, never 0.

The module needs only duckdb; the ``dora metrics`` command and the tests call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

ROUND_DIGITS = 4


def _parse_time(value: datetime | str, name: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{name}: invalid timestamp {value!r}; use ISO 8601 with an offset, "
                "such as 2024-03-04T00:00:00+00:00"
            ) from None
    if value.tzinfo is None:
        raise ValueError(
            f"{name}: timestamp {value.isoformat()} has no UTC offset; add one "
            "(for example +00:00) so the window is not guessed"
        )
    return value


def _round(value: float | None, divisor: float = 1.0) -> float | None:
    if value is None:
        return None
    return round(value / divisor, ROUND_DIGITS)


def _rate(numerator: int, denominator: int) -> float | None:
    if denominator == 0:
        return None
    return round(numerator / denominator, ROUND_DIGITS)


def _stored_timezone(con: duckdb.DuckDBPyConnection) -> str:
    try:
        row = con.execute("select timezone from pipeline_settings").fetchone()
    except duckdb.CatalogException:
        row = None
    return row[0] if row and row[0] else "UTC"


def _local_days(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    """Return every local date that the window [start, end) touches."""
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    days = []
    day = first
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    return days


def _window_days(start: datetime, end: datetime, zone: ZoneInfo, days: Sequence[date]) -> float:
    """Return the window length in days: whole local days when it runs midnight to midnight."""
    local_start = start.astimezone(zone)
    local_end = end.astimezone(zone)
    midnight = datetime.min.time()
    if local_start.time() == midnight and local_end.time() == midnight:
        return float(len(days))
    return (end - start).total_seconds() / 86400


def _filters(service: str | None) -> tuple[str, list[Any]]:
    if service is None:
        return "", []
    return " and service = ?", [service]


def _deployment_counts(con, start, end, zone_name, days, service) -> dict[str, Any]:
    extra, params = _filters(service)
    rows = con.execute(
        "select service, cast(timezone(?, deployed_at) as date) as local_date, count(*) "
        "from fct_deployments where is_counted and deployed_at >= ? and deployed_at < ?"
        + extra
        + " group by all",
        [zone_name, start, end, *params],
    ).fetchall()
    services = [
        row[0]
        for row in con.execute(
            "select distinct service from fct_deployments where is_counted" + extra + " order by 1",
            params,
        ).fetchall()
    ]
    per_day = {day.isoformat(): 0 for day in days}
    by_service = {name: {day.isoformat(): 0 for day in days} for name in services}
    for name, local_date, count in rows:
        key = local_date.isoformat()
        per_day[key] = per_day.get(key, 0) + count
        by_service.setdefault(name, {})[key] = count
    return {"deployments_per_day": per_day, "deployments_per_day_by_service": by_service}


def _lead_times(con, start, end, service) -> dict[str, Any]:
    extra, params = _filters(service)
    commit_seconds = [
        row[0]
        for row in con.execute(
            "select commit_lead_time_seconds from fct_change_commits "
            "where deployment_key is not null and not is_baseline_shipment "
            "and not is_negative_lead_time and commit_lead_time_seconds is not null "
            "and deployed_at >= ? and deployed_at < ?" + extra + " order by 1",
            [start, end, *params],
        ).fetchall()
    ]
    pr_seconds = [
        row[0]
        for row in con.execute(
            "select pr_lead_time_seconds from fct_changes "
            "where is_shipped and not is_baseline_shipment "
            "and not is_negative_lead_time and pr_lead_time_seconds is not null "
            "and deployed_at >= ? and deployed_at < ?" + extra + " order by 1",
            [start, end, *params],
        ).fetchall()
    ]
    return {
        "lead_time_samples_hours": [_round(value, 3600) for value in commit_seconds],
        "median_lead_time_hours": _round(_quantile(con, commit_seconds, 0.5), 3600),
        "mean_lead_time_hours": _round(_mean(commit_seconds), 3600),
        "pr_lead_time_samples_hours": [_round(value, 3600) for value in pr_seconds],
        "median_pr_lead_time_hours": _round(_quantile(con, pr_seconds, 0.5), 3600),
    }


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _quantile(con, values: Sequence[float], fraction: float) -> float | None:
    """Return the interpolated quantile, computed by DuckDB like the marts compute it."""
    if not values:
        return None
    row = con.execute(
        "select quantile_cont(value, ?) from unnest(?::double[]) as samples(value)",
        [fraction, list(values)],
    ).fetchone()
    return row[0]


def _failures(con, start, end, service) -> dict[str, Any]:
    extra, params = _filters(service)
    rows = con.execute(
        "select service, is_cfr_eligible, is_failed, is_unplanned, recovery_seconds, "
        "failure_reasons, epoch(incidents_resolved_at) - epoch(deployed_at) "
        "from fct_deployments where is_counted and deployed_at >= ? and deployed_at < ?" + extra,
        [start, end, *params],
    ).fetchall()
    eligible: dict[str, int] = {}
    failed: dict[str, int] = {}
    recovery: list[float] = []
    from_deployment: list[float] = []
    unplanned = 0
    for name, is_eligible, is_failed, is_unplanned, recovery_seconds, reasons, to_resolved in rows:
        if is_eligible:
            eligible[name] = eligible.get(name, 0) + 1
            failed[name] = failed.get(name, 0) + (1 if is_failed else 0)
        if is_failed and recovery_seconds is not None:
            recovery.append(recovery_seconds)
        if is_failed and "incident" in (reasons or "").split(",") and to_resolved is not None:
            from_deployment.append(to_resolved)
        unplanned += 1 if is_unplanned else 0
    services = sorted({row[0] for row in rows})
    return {
        "change_failure_rate": _rate(sum(failed.values()), sum(eligible.values())),
        "change_failure_rate_by_service": {
            name: _rate(failed.get(name, 0), eligible.get(name, 0)) for name in services
        },
        "failed_deployment_recovery_minutes": _round(_mean(recovery), 60),
        "recovery_from_deployment_minutes": _round(_mean(from_deployment), 60),
        "rework_rate": _rate(unplanned, len(rows)),
    }


def _incidents(con, start, end, service) -> dict[str, Any]:
    extra, params = _filters(service)
    rows = con.execute(
        "select restore_seconds, is_open from fct_incidents "
        "where alert_at >= ? and alert_at < ?" + extra + " order by restore_seconds",
        [start, end, *params],
    ).fetchall()
    restore = [row[0] for row in rows]
    resolved = [row[0] for row in rows if not row[1]]
    return {
        "incident_count": len(rows),
        "open_incidents": sum(1 for row in rows if row[1]),
        "mttr_minutes": _round(_mean(restore), 60),
        "median_restore_minutes": _round(_quantile(con, restore, 0.5), 60),
        "p90_restore_minutes": _round(_quantile(con, restore, 0.9), 60),
        "max_restore_minutes": _round(max(restore) if restore else None, 60),
        "mttr_minutes_resolved_only": _round(_mean(resolved), 60),
    }


def window_metrics(
    con: duckdb.DuckDBPyConnection,
    start: datetime | str,
    end: datetime | str,
    service: str | None = None,
    timezone: str | None = None,
) -> dict[str, Any]:
    """Return the DORA metrics of the half-open window ``[start, end)``.

    ``service`` limits every metric to one service; ``timezone`` (an IANA name)
    sets the daily buckets and defaults to the zone the warehouse was built
    with (``pipeline_settings``). Raises ValueError for a timestamp without an
    offset, an unknown time zone, or an empty window.
    """
    start_at = _parse_time(start, "start")
    end_at = _parse_time(end, "end")
    if end_at <= start_at:
        raise ValueError(
            f"empty window: end {end_at.isoformat()} is not after start {start_at.isoformat()}"
        )
    zone_name = timezone or _stored_timezone(con)
    try:
        zone = ZoneInfo(zone_name)
    except (KeyError, ValueError):
        raise ValueError(
            f"unknown time zone {zone_name!r}; use an IANA name such as Europe/Berlin"
        ) from None

    days = _local_days(start_at, end_at, zone)
    result: dict[str, Any] = {}
    result.update(_deployment_counts(con, start_at, end_at, zone_name, days, service))
    total = sum(result["deployments_per_day"].values())
    result["deployments_total"] = total
    result["deployments_per_day_avg"] = _round(total / _window_days(start_at, end_at, zone, days))
    result.update(_lead_times(con, start_at, end_at, service))
    result.update(_failures(con, start_at, end_at, service))
    result.update(_incidents(con, start_at, end_at, service))
    return result
