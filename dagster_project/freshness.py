"""Source freshness: how long before the measurement time each source last delivered rows.

The thresholds are dbt's: ``freshness.warn_after`` and ``error_after`` of each
source table in the dbt manifest, set on the ``raw`` source in
``dbt_project/models/sources.yml`` and for the API sources in
``dbt_project/dbt_project.yml`` (a table or source YAML may override them).
The newest load of a table is ``max(loaded_at_field)``, by default
``_loaded_at``, the time each row was written. It is measured separately for
each source instance in the table (``_source``, such as ``github:acme/api``),
so one repository that stopped delivering is found next to others that did not.

An incremental API source that responds with nothing new writes no row, so
its rows keep their old ``_loaded_at``. Its extractor still stores its cursor
after each successful read. The load time is therefore the later of the newest
row and the last cursor update of the same source instance whose entity is
the table's name after ``__`` (``pull_requests`` for
``raw_github__pull_requests``). A failed read stores no cursor, so it never
makes a table look fresh. A table whose entity has no cursor of that name is
measured by its rows only.

The age is counted up to the run's measurement time (``as_of``), not the
wall clock: a table loaded after ``as_of`` has age zero. A table older than
``warn_after`` is ``warn``, older than ``error_after`` is ``error``, else
``pass`` (dbt's rule: strictly older than the threshold). A table with no
rows yet is not measured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

RESULTS_TABLE = "source_freshness"
DEFAULT_LOADED_AT_FIELD = "_loaded_at"
PERIODS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

RESULTS_DDL = f"""
create or replace table {RESULTS_TABLE} (
    source_name varchar not null,
    table_name varchar not null,
    source_instance varchar not null,
    loaded_at timestamptz not null,
    measured_at timestamptz not null,
    age_seconds double not null,
    warn_after_seconds double,
    error_after_seconds double,
    status varchar not null
)
"""


@dataclass(frozen=True)
class SourceTable:
    """One dbt source table with a freshness threshold."""

    source_name: str
    table: str
    asset_key: tuple[str, ...]
    loaded_at_field: str
    warn_after: timedelta | None
    error_after: timedelta | None


@dataclass(frozen=True)
class Finding:
    """The freshness of one source instance in one table at the measurement time."""

    table: SourceTable
    source_instance: str
    loaded_at: datetime
    measured_at: datetime
    age: timedelta
    status: str

    def describe(self) -> str:
        """Describe the finding in one line, with what to check when it is stale."""
        limit = self.table.error_after if self.status == "error" else self.table.warn_after
        text = (
            f"{self.table.table} ({self.source_instance}): last loaded "
            f"{self.loaded_at.isoformat()}, {_days(self.age)} before the measurement time "
            f"{self.measured_at.isoformat()}"
        )
        if self.status == "pass":
            return text
        return (
            f"{text}, more than the {_days(limit)} allowed; check that the source "
            "still answers and that its refresh succeeds"
        )


def _days(span: timedelta | None) -> str:
    if span is None:
        return "no limit"
    hours = span.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def _threshold(value: Mapping[str, Any] | None) -> timedelta | None:
    if not value or value.get("count") is None or value.get("period") is None:
        return None
    return int(value["count"]) * PERIODS[value["period"]]


def source_tables(manifest: Mapping[str, Any]) -> list[SourceTable]:
    """Return every source table of a dbt manifest that has a freshness threshold."""
    tables = []
    for node in manifest.get("sources", {}).values():
        config = node.get("config") or {}
        rules = config.get("freshness") or node.get("freshness") or {}
        warn_after, error_after = (
            _threshold(rules.get("warn_after")),
            _threshold(rules.get("error_after")),
        )
        if warn_after is None and error_after is None:
            continue
        field = config.get("loaded_at_field") or node.get("loaded_at_field")
        key = ((node.get("meta") or {}).get("dagster") or {}).get("asset_key")
        tables.append(
            SourceTable(
                source_name=node["source_name"],
                table=node["name"],
                asset_key=tuple(key) if key else (node["source_name"], node["name"]),
                loaded_at_field=field or DEFAULT_LOADED_AT_FIELD,
                warn_after=warn_after,
                error_after=error_after,
            )
        )
    return sorted(tables, key=lambda table: table.table)


def _status(table: SourceTable, age: timedelta) -> str:
    if table.error_after is not None and age > table.error_after:
        return "error"
    if table.warn_after is not None and age > table.warn_after:
        return "warn"
    return "pass"


def _existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'"
    ).fetchall()
    return {name for (name,) in rows}


def _newest_rows(con: duckdb.DuckDBPyConnection, table: SourceTable) -> dict[str, datetime]:
    field = table.loaded_at_field
    expression = f'"{field}"' if _IDENTIFIER.match(field) else field
    rows = con.execute(
        f'select _source, max({expression}) from main."{table.table}" group by _source'
    ).fetchall()
    return {source: loaded_at for source, loaded_at in rows if loaded_at is not None}


def _cursor_updates(con: duckdb.DuckDBPyConnection, table: SourceTable) -> dict[str, datetime]:
    """Return the last cursor update per source instance for the table's entity."""
    entity = table.table.partition("__")[2]
    rows = con.execute(
        "select _source, max(updated_at) from pipeline_cursors where entity = ? group by _source",
        [entity],
    ).fetchall()
    return {source: updated_at for source, updated_at in rows if updated_at is not None}


def measure(
    con: duckdb.DuckDBPyConnection, tables: Iterable[SourceTable], as_of: datetime
) -> list[Finding]:
    """Return the freshness of every source instance of every table that has rows."""
    existing = _existing_tables(con)
    findings = []
    for table in tables:
        if table.table not in existing:
            continue
        newest = _newest_rows(con, table)
        if "pipeline_cursors" in existing:
            for source, updated_at in _cursor_updates(con, table).items():
                if source in newest:
                    newest[source] = max(newest[source], updated_at)
        for source_instance, loaded_at in sorted(newest.items()):
            age = max(as_of - loaded_at, timedelta(0))
            findings.append(
                Finding(table, source_instance, loaded_at, as_of, age, _status(table, age))
            )
    return findings


def _seconds(span: timedelta | None) -> float | None:
    return None if span is None else span.total_seconds()


def store(con: duckdb.DuckDBPyConnection, findings: Iterable[Finding]) -> int:
    """Replace the results table with ``findings``; return the number of rows."""
    rows = [
        (
            finding.table.source_name,
            finding.table.table,
            finding.source_instance,
            finding.loaded_at,
            finding.measured_at,
            finding.age.total_seconds(),
            _seconds(finding.table.warn_after),
            _seconds(finding.table.error_after),
            finding.status,
        )
        for finding in findings
    ]
    con.execute("begin transaction")
    try:
        con.execute(RESULTS_DDL)
        if rows:
            con.executemany(f"insert into {RESULTS_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return len(rows)
