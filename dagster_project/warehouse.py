"""DuckDB access for the raw layer: table definitions, idempotent loads, quarantine, cursors.

Rows are bulk-loaded through a temporary newline-delimited JSON file, which
DuckDB reads far faster than row-by-row inserts from Python.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

BOOKKEEPING_COLUMNS: dict[str, str] = {
    "_source": "varchar not null",
    "_record_key": "varchar not null",
    "_loaded_at": "timestamptz not null",
    "_payload": "varchar",
}

COMMIT_COLUMNS: dict[str, str] = {
    "repo": "varchar",
    "sha": "varchar",
    "parent_shas": "varchar",
    "parent_count": "integer",
    "authored_at": "timestamptz",
    "committed_at": "timestamptz",
    "subject": "varchar",
    "reverted_sha": "varchar",
    "patch_id": "varchar",
    "is_bot": "boolean",
    "pr_number": "integer",
    "pr_opened_at": "timestamptz",
    "pr_merged_at": "timestamptz",
    "pr_ready_for_review_at": "timestamptz",
    "pr_reopened_at": "timestamptz",
    "pr_closed_at": "timestamptz",
    "pr_created_as_draft": "boolean",
}

PULL_REQUEST_COLUMNS: dict[str, str] = {
    "repo": "varchar",
    "number": "integer",
    "opened_at": "timestamptz",
    "merged_at": "timestamptz",
    "merge_commit_sha": "varchar",
    "title": "varchar",
    "head_ref": "varchar",
    "labels": "varchar",
    "is_bot": "boolean",
    "created_as_draft": "boolean",
}

DEPLOYMENT_STATUS_COLUMNS: dict[str, str] = {
    "deployment_id": "varchar",
    "repo": "varchar",
    "service": "varchar",
    "environment": "varchar",
    "sha": "varchar",
    "state": "varchar",
    "state_at": "timestamptz",
    "started_at": "timestamptz",
    "pipeline_status": "varchar",
    "record_index": "integer",
}

INCIDENT_COLUMNS: dict[str, str] = {
    "incident_id": "varchar",
    "service": "varchar",
    "alert_at": "timestamptz",
    "resolved_at": "timestamptz",
    "updated_at": "timestamptz",
    "caused_by_deployment_id": "varchar",
    "root_cause_sha": "varchar",
    "merged_into": "varchar",
    "resolution_reason": "varchar",
    "is_production": "boolean",
    "record_index": "integer",
}

RAW_TABLES: dict[str, dict[str, str]] = {
    "raw_files__commits": COMMIT_COLUMNS,
    "raw_files__pull_requests": PULL_REQUEST_COLUMNS,
    "raw_files__deployment_statuses": DEPLOYMENT_STATUS_COLUMNS,
    "raw_files__incidents": INCIDENT_COLUMNS,
    "raw_git__commits": COMMIT_COLUMNS,
    "raw_git__pull_requests": PULL_REQUEST_COLUMNS,
    "raw_git__deployment_statuses": DEPLOYMENT_STATUS_COLUMNS,
}

QUARANTINE_DDL = """
create table if not exists quarantine (
    _source varchar not null,
    entity varchar not null,
    location varchar not null,
    raw_content varchar,
    reason varchar not null,
    _loaded_at timestamptz not null
)
"""

CURSORS_DDL = """
create table if not exists pipeline_cursors (
    _source varchar not null,
    entity varchar not null,
    cursor_value varchar,
    updated_at timestamptz not null,
    primary key (_source, entity)
)
"""


def connect(path: str | os.PathLike[str], read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file, creating its folder, with the session zone set to UTC."""
    file = Path(path)
    if not read_only:
        file.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(file), read_only=read_only)
    con.execute("set TimeZone = 'UTC'")
    return con


@contextmanager
def open_warehouse(path: str | os.PathLike[str], read_only: bool = False):
    """Yield a connection to the warehouse and close it afterwards."""
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def table_ddl(table: str, columns: Mapping[str, str]) -> str:
    """Return the ``create table if not exists`` statement of a raw table."""
    all_columns = {**BOOKKEEPING_COLUMNS, **columns}
    body = ",\n    ".join(f"{name} {kind}" for name, kind in all_columns.items())
    return f"create table if not exists {table} (\n    {body}\n)"


def ensure_raw_tables(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, Mapping[str, str]] | None = None
) -> None:
    """Create the raw, quarantine and cursor tables that do not exist yet."""
    for table, columns in (tables or RAW_TABLES).items():
        con.execute(table_ddl(table, columns))
    con.execute(QUARANTINE_DDL)
    con.execute(CURSORS_DDL)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def _bulk_insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Mapping[str, str],
    rows: Sequence[Mapping[str, Any]],
    loaded_at: datetime | None = None,
) -> None:
    """Insert ``rows`` through a temporary JSON Lines file.

    With ``loaded_at``, a row without ``_loaded_at`` gets that time and a
    payload that is not text is stored as its JSON text, as it is written,
    so the rows are never copied.
    """
    names = list(columns)
    fill = loaded_at is not None
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as out:
        for row in rows:
            values = {name: row.get(name) for name in names}
            if fill:
                if "_loaded_at" not in row:
                    values["_loaded_at"] = loaded_at
                payload = values.get("_payload")
                if payload is not None and not isinstance(payload, str):
                    values["_payload"] = json.dumps(payload, default=_json_default, sort_keys=True)
            out.write(json.dumps(values, default=_json_default))
            out.write("\n")
        temp_name = out.name
    try:
        # Every column is read as text and cast by the insert, so a JSON number
        # or null never changes the inferred type of a column.
        spec = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in names) + "}"
        select_list = ", ".join(f"cast({name} as {columns[name].split()[0]})" for name in names)
        con.execute(
            f"insert into {table} ({', '.join(names)}) "
            f"select {select_list} from read_json(?, format='newline_delimited', "
            f"columns={spec}, maximum_object_size=134217728)",
            [temp_name],
        )
    finally:
        os.unlink(temp_name)


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Mapping[str, str],
    rows: Sequence[Mapping[str, Any]],
    loaded_at: datetime,
) -> None:
    """Insert ``rows`` as they are, in the caller's transaction.

    ``columns`` maps every column of ``table`` to its type. A row without
    ``_loaded_at`` gets ``loaded_at``.
    """
    _bulk_insert(con, table, columns, rows, loaded_at=loaded_at)


def _prepare_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Keep the last row of each key, in the position of the key's first row.

    The rows are not copied: ``_bulk_insert`` fills ``_loaded_at`` and
    serialises payloads as it writes them.
    """
    unique: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in rows:
        unique[(row["_source"], row["_record_key"])] = row
    return list(unique.values())


def _write_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Iterable[Mapping[str, Any]],
    columns: Mapping[str, str] | None,
    replace_source: str | None,
) -> int:
    table_columns = {**BOOKKEEPING_COLUMNS, **(columns or RAW_TABLES[table])}
    prepared = _prepare_rows(rows)
    if not prepared and replace_source is None:
        return 0
    con.execute("begin transaction")
    try:
        if replace_source is not None:
            con.execute(f"delete from {table} where _source = ?", [replace_source])
        else:
            con.execute(
                "create or replace temp table _upsert_keys (_source varchar, _record_key varchar)"
            )
            keys = [
                {"_source": row["_source"], "_record_key": row["_record_key"]} for row in prepared
            ]
            _bulk_insert(
                con, "_upsert_keys", {"_source": "varchar", "_record_key": "varchar"}, keys
            )
            con.execute(
                f"delete from {table} using _upsert_keys as k "
                f"where {table}._source = k._source and {table}._record_key = k._record_key"
            )
            con.execute("drop table _upsert_keys")
        if prepared:
            _bulk_insert(con, table, table_columns, prepared, loaded_at=datetime.now(UTC))
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return len(prepared)


def upsert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Iterable[Mapping[str, Any]],
    columns: Mapping[str, str] | None = None,
) -> int:
    """Insert rows, replacing earlier rows with the same ``(_source, _record_key)``.

    Each row needs ``_source`` and ``_record_key``; ``_loaded_at`` defaults to now
    and ``_payload`` may be a dict, which is stored as JSON text. Within one
    call the last row with a given key wins. Returns the number of rows written.
    """
    return _write_rows(con, table, rows, columns, replace_source=None)


def replace_source_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source: str,
    rows: Iterable[Mapping[str, Any]],
    columns: Mapping[str, str] | None = None,
) -> int:
    """Replace every row of one source with ``rows`` (a full snapshot), in one transaction."""
    return _write_rows(con, table, rows, columns, replace_source=source)


def quarantine_rows(
    con: duckdb.DuckDBPyConnection,
    source: str,
    entity: str,
    rejected: Iterable[Mapping[str, Any]],
    replace: bool = True,
) -> int:
    """Record unusable rows with their reason. Returns how many were recorded.

    Each item has ``location``, ``raw_content`` and ``reason``. With ``replace``
    the source's earlier quarantine rows of this entity are removed first, so
    a re-run of the same load does not duplicate them.
    """
    items = list(rejected)
    if replace:
        con.execute("delete from quarantine where _source = ? and entity = ?", [source, entity])
    if not items:
        return 0
    now = datetime.now(UTC)
    con.executemany(
        "insert into quarantine values (?, ?, ?, ?, ?, ?)",
        [
            (source, entity, item["location"], item.get("raw_content"), item["reason"], now)
            for item in items
        ],
    )
    return len(items)


def read_cursor(con: duckdb.DuckDBPyConnection, source: str, entity: str) -> str | None:
    """Return the stored incremental cursor of a source entity, or None."""
    row = con.execute(
        "select cursor_value from pipeline_cursors where _source = ? and entity = ?",
        [source, entity],
    ).fetchone()
    return None if row is None else row[0]


def write_cursor(
    con: duckdb.DuckDBPyConnection, source: str, entity: str, value: str | None
) -> None:
    """Store the incremental cursor of a source entity."""
    con.execute(
        "insert or replace into pipeline_cursors values (?, ?, ?, ?)",
        [source, entity, value, datetime.now(UTC)],
    )
