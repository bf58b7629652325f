"""Read the marts of a built warehouse into the JSON-ready data of the dashboard.

Every value is a plain JSON type: dates and times become ISO 8601 strings (times
in UTC), decimals become floats. Tables are stored column-wise
(``{"column": [values...]}``) to keep the embedded JSON small. The contract
marts are optional: without them, or with no contract loaded, ``contract`` is
``{"present": False, ...}`` and the page shows that no contract is loaded.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from dagster_project.dashboard.metrics import ALL_SERVICES, METRICS

DAILY_COUNT_COLUMNS = (
    "deployment_count",
    "eligible_deployment_count",
    "failed_deployment_count",
    "unplanned_deployment_count",
    "pr_lead_time_sample_count",
    "incident_count",
    "open_incident_count",
    "recovered_deployment_count",
)
CONTRACT_TABLES = ("contract_outcomes", "contract_outcome_daily", "contract_checkpoints")
# DuckDB column types whose Python values are plain JSON types already, and float types.
PLAIN_TYPES = {
    "VARCHAR", "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
}  # fmt: skip
FLOAT_TYPES = {"DOUBLE", "FLOAT"}


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, map(_plain, row), strict=True)) for row in cursor.fetchall()]


def _column_values(type_name: str, values: tuple) -> list:
    """Return one column's values as plain JSON types (see ``_plain``).

    Text, integer and boolean values are plain already. Dates and decimals
    often repeat, so each distinct value is converted once. Every other value
    is converted on its own: two times of a repeated hour at a DST change
    compare equal in Python, so a lookup by value would merge them.
    """
    if type_name in PLAIN_TYPES:
        return list(values)
    if type_name in FLOAT_TYPES:
        return [value if value is None or math.isfinite(value) else None for value in values]
    if type_name == "DATE" or type_name.startswith("DECIMAL"):
        converted = {value: _plain(value) for value in set(values)}
        return [converted[value] for value in values]
    return [_plain(value) for value in values]


def _columns(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, list]:
    cursor = con.execute(sql)
    names = [column[0] for column in cursor.description]
    if len(set(names)) != len(names):
        raise ValueError(f"query selects a column twice: {names}")
    types = [str(column[1]) for column in cursor.description]
    rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return {
        name: _column_values(type_name, values)
        for name, type_name, values in zip(names, types, columns, strict=True)
    }


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Return the names of the tables and views in the connection's main schema."""
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'"
    ).fetchall()
    return {row[0] for row in rows}


def _settings(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    rows = _records(con, "select as_of, timezone, built_at from pipeline_settings")
    return rows[0] if rows else {"as_of": None, "timezone": "UTC", "built_at": None}


def _daily(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    # dict.fromkeys drops repeats: a column selected twice would misalign the columns.
    columns = ", ".join(
        dict.fromkeys([*DAILY_COUNT_COLUMNS, *(spec.daily_column for spec in METRICS)])
    )
    return _columns(
        con,
        f"select metric_date, service, {columns} from dora_daily order by metric_date, service",
    )


def _trailing(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    columns = ", ".join(
        dict.fromkeys(
            [
                "deployment_count",
                "eligible_deployment_count",
                "failed_deployment_count",
                "incident_count",
                *(spec.trailing_column for spec in METRICS),
            ]
        )
    )
    return _columns(
        con,
        f"""
        select as_of_date, window_days, service, window_start_date, {columns}
        from dora_trailing_metrics
        order by as_of_date, window_days, service
        """,
    )


def _services(con: duckdb.DuckDBPyConnection, tables: set[str]) -> list[dict[str, Any]]:
    if "dim_services" in tables:
        return _records(
            con,
            """
            select service, team, counted_deployment_count, incident_count
            from dim_services
            where service <> ?
            order by service
            """,
            [ALL_SERVICES],
        )
    rows = con.execute(
        "select distinct service from dora_daily where service <> ? order by service",
        [ALL_SERVICES],
    ).fetchall()
    return [{"service": row[0], "team": None} for row in rows]


def _levels(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _records(
        con,
        """
        select as_of_date, service, metric, metric_value, unit, level, report_year, version
        from dora_performance_levels
        order by service, metric
        """,
    )


def _open_incidents(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _records(
        con,
        """
        select incident_key, incident_id, source, service, alert_at, alert_date,
            restore_seconds, linked_deployment_keys
        from fct_incidents
        where is_open
        order by alert_at, incident_key
        """,
    )


def _failed_deployments(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _records(
        con,
        """
        select deployment_key, deployment_id, service, sha, deployed_at, deployed_date,
            failure_reasons, incident_count, restoring_deployment_key, recovered_at,
            recovery_seconds
        from fct_deployments
        where is_failed and is_counted
        order by deployed_at desc, deployment_key
        """,
    )


def _data_quality(con: duckdb.DuckDBPyConnection, tables: set[str]) -> dict[str, Any]:
    issues = []
    if "dq_issues" in tables:
        issues = _records(
            con,
            """
            select issue_type, severity, count(*) as issue_count
            from dq_issues
            group by issue_type, severity
            order by issue_type, severity
            """,
        )
    quarantine = []
    if "quarantine" in tables:
        quarantine = _records(
            con,
            """
            select _source as source, entity, reason, count(*) as row_count
            from quarantine
            group by _source, entity, reason
            order by _source, entity, reason
            """,
        )
    stale_sources = []
    if "source_freshness" in tables:
        stale_sources = _records(
            con,
            """
            select table_name, source_instance, status, loaded_at, measured_at,
                age_seconds / 3600.0 as age_hours, warn_after_seconds / 3600.0 as warn_after_hours
            from source_freshness
            where status <> 'pass'
            order by table_name, source_instance
            """,
        )
    return {"issues": issues, "quarantine": quarantine, "stale_sources": stale_sources}


def _contract(con: duckdb.DuckDBPyConnection, tables: set[str]) -> dict[str, Any]:
    missing = [name for name in CONTRACT_TABLES if name not in tables]
    if missing:
        return {
            "present": False,
            "reason": f"the contract marts are not built ({', '.join(missing)})",
        }
    outcomes = _records(
        con,
        """
        with latest as (
            select *
            from contract_outcome_daily
            qualify row_number() over (
                partition by contract_id, outcome_id order by metric_date desc
            ) = 1
        )

        select
            outcomes.contract_id, outcomes.mission_id, outcomes.outcome_id,
            outcomes.metric, outcomes.operator, outcomes.target_value, outcomes.unit,
            outcomes.target_base_value, outcomes.window_days, outcomes.sustain_days,
            outcomes.service_filter, outcomes.start_date, outcomes.timezone,
            outcomes.calendar, outcomes.baseline_date, outcomes.final_date,
            latest.metric_date as status_date, latest.status, latest.headline_value,
            latest.criterion_value, latest.margin, latest.is_criterion_met,
            latest.sample_count
        from contract_outcomes as outcomes
        left join latest
            on outcomes.contract_id = latest.contract_id
            and outcomes.outcome_id = latest.outcome_id
        order by outcomes.contract_id, outcomes.outcome_id
        """,
    )
    if not outcomes:
        return {"present": False, "reason": "no contract is loaded (contract_outcomes is empty)"}
    checkpoints = _records(
        con,
        """
        select contract_id, outcome_id, checkpoint_name, offset_weeks, measured_through_date,
            is_baseline, is_final, is_reached, headline_value, criterion_value,
            is_criterion_met, margin, status, baseline_headline_value,
            headline_change_from_baseline
        from contract_checkpoints
        order by contract_id, outcome_id, offset_weeks
        """,
    )
    return {
        "present": True,
        "reason": None,
        "outcomes": outcomes,
        "checkpoints": checkpoints,
        "history": _status_runs(con),
    }


def _status_runs(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Return each outcome's status history as runs of consecutive days with one status."""
    return _records(
        con,
        """
        with numbered as (
            select
                contract_id,
                outcome_id,
                metric_date,
                status,
                row_number() over (partition by contract_id, outcome_id order by metric_date)
                - row_number() over (
                    partition by contract_id, outcome_id, status order by metric_date
                ) as run_number
            from contract_outcome_daily
        )

        select
            contract_id,
            outcome_id,
            status,
            min(metric_date) as first_date,
            max(metric_date) as last_date,
            count(*) as day_count
        from numbered
        group by contract_id, outcome_id, status, run_number
        order by contract_id, outcome_id, first_date
        """,
    )


def read_dashboard_data(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Return everything the dashboard shows, read from the marts of ``con``."""
    tables = existing_tables(con)
    trailing = _trailing(con)
    as_of_dates = trailing["as_of_date"]
    return {
        "settings": _settings(con),
        "as_of_date": max(as_of_dates) if as_of_dates else None,
        "all_services_key": ALL_SERVICES,
        "metrics": [spec.as_json() for spec in METRICS],
        "services": _services(con, tables),
        "daily": _daily(con),
        "trailing": trailing,
        "levels": _levels(con),
        "contract": _contract(con, tables),
        "open_incidents": _open_incidents(con),
        "failed_deployments": _failed_deployments(con),
        "data_quality": _data_quality(con, tables),
    }


def read_contract_status(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Return the ``contract`` part of ``read_dashboard_data`` without reading the other marts."""
    return _contract(con, existing_tables(con))
