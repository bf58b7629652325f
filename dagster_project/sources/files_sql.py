"""Validate and load JSON and JSON Lines event files inside DuckDB.

DuckDB parses the files and checks every record with SQL. A record passes
only when the Python validator in ``files`` would accept it and store the
same values. So every field has the plain JSON type the validator expects,
timestamps have the form ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM)``, texts
need no trimming, and list items are plain ASCII. Every other record goes
to the Python validator, and so does every record whose key another record
shares, so it is stored or quarantined exactly as before. CSV files,
incidents, and files DuckDB cannot read (invalid UTF-8 or invalid JSON) are
read by the Python validator alone. A record whose text equals the payload
of a stored row that the same code loaded is not checked: it keeps or
copies that row (``files_reuse``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from dagster_project.config import PipelineConfig
from dagster_project.sources import files_reuse
from dagster_project.sources.files_reuse import REUSED_TABLE
from dagster_project.sources.files_sql_checks import (
    FIELDS_OF,
    VALUE_PREFIX,
    commit_check,
    commit_columns,
    deployment_check,
    field_columns,
    field_value,
    pull_request_check,
    pull_request_columns,
)

# Larger than any record the Python reader would accept (a field contains at
# most MAX_FIELD_CHARS characters of up to 4 bytes each).
MAX_OBJECT_BYTES = 134_217_728
RECORDS_TABLE = "_files_records"
STAGE_VIEW = "_files_stage"
CHECKED_TABLE = "_files_checked"
KEPT_TABLE = "_files_kept"
# The prefix of the raw-table columns that the check computes for a commit or
# pull request in the checked table.
ROW_PREFIX = "row_"

SQL_ENTITIES = tuple(FIELDS_OF)
# The deployment fields whose text ``_insert_deployments`` reads.
DEPLOYMENT_ROW_FIELDS = (
    "id", "service", "environment", "sha", "repo", "started_at", "pipeline_status",
)  # fmt: skip
# Entities whose records must have unique keys. The Python validator quarantines
# a later record with a key that is already taken.
KEYED_ENTITIES = ("commits", "pull_requests")
# Entities whose records may reuse the stored rows of a record with the same text
# (``files_reuse``). Deployments reuse rows only when both this load and the
# stored one read a single deployments file (``files._reusable_rows``).
REUSABLE_ENTITIES = (*KEYED_ENTITIES, "deployments")


class NotReadable(Exception):
    """A file that DuckDB cannot read record by record like the Python reader."""


# Staging and checking -------------------------------------------------------------------------


def _scan(path: Path, file_index: int) -> tuple[str, list[Any]]:
    """Return the query that reads one file: each record with its position."""
    form = "newline_delimited" if path.suffix.lower() == ".jsonl" else "array"
    # NOTE: row_number() over () numbers the records in file order because DuckDB
    # 2.0.1 runs this window in one thread over the scan. That order was checked
    # against Python's on the 205 k pull requests and 159 k deployments of the
    # large benchmark sample. The record count check below would not catch a
    # DuckDB that numbered records out of order.
    sql = f"""
        select
            {file_index} as file_index,
            row_number() over () as position,
            json as record
        from read_json_objects(?, format='{form}', maximum_object_size={MAX_OBJECT_BYTES})
    """
    return sql, [str(path)]


def mark_reused(con: duckdb.DuckDBPyConnection, entity: str, stored_rows: str | None) -> None:
    """Split the read records into reused ones and the stage view of records to check.

    ``files_reuse`` finds the records whose stored rows are used again. The
    stage view gives each other record with its type, its fields as JSON and
    each field's type and text (``_field_columns``), parsed out of the record
    once per read so that the checks read small values. A view does not copy the records again, and
    ``check_records`` reads it once.
    """
    reused = files_reuse.find_reused(con, RECORDS_TABLE, entity, stored_rows)
    structure = "{" + ", ".join(f'"{name}": "JSON"' for name in FIELDS_OF[entity]) + "}"
    con.execute(
        f"""
        create or replace temp view {STAGE_VIEW} as
        select
            file_index,
            position,
            record,
            record_type,
            len(record_keys) = len(list_distinct(record_keys)) as distinct_keys,
            fields,
            {field_columns(entity)}
        from (
            select
                file_index,
                position,
                record,
                json_type(record) as record_type,
                json_keys(record) as record_keys,
                json_transform(record, '{structure}') as fields
            from {RECORDS_TABLE}
            anti join ({reused}) as reused using (file_index, position)
        )
        """
    )


def _python_record_count(path: Path) -> int | None:
    """Return how many records the Python reader yields for a JSON Lines file.

    The count of lines that are not blank; None for a JSON list file, whose
    records DuckDB counts exactly as Python does.
    """
    if path.suffix.lower() != ".jsonl":
        return None
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def stage_files(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    entity: str,
    stored_rows: str | None = None,
) -> None:
    """Read every record of ``paths`` into the temporary stage table.

    ``stored_rows`` is a relation of the ``_payload`` and ``_record_key`` of
    rows that an earlier load with the same code stored. A record whose text
    equals one of those payloads is marked as reused with that key, and
    neither checked nor loaded again (see ``mark_reused``).

    Raises NotReadable when DuckDB rejects a file or counts its records
    differently from the Python reader.
    """
    parts, parameters = [], []
    for index, path in enumerate(paths):
        with path.open("rb") as handle:
            # DuckDB skips a byte order mark, which Python's json.loads rejects.
            if handle.read(3) == b"\xef\xbb\xbf":
                raise NotReadable(f"{path.name} starts with a byte order mark")
        sql, values = _scan(path, index)
        parts.append(sql)
        parameters.extend(values)
    try:
        con.execute(
            f"create or replace temp table {RECORDS_TABLE} as " + " union all ".join(parts),
            parameters,
        )
        mark_reused(con, entity, stored_rows)
        counts = dict(
            con.execute(
                f"select file_index, count(*) from {RECORDS_TABLE} group by file_index"
            ).fetchall()
        )
    except duckdb.Error as error:
        drop_tables(con)
        raise NotReadable(str(error)) from None
    for index, path in enumerate(paths):
        expected = _python_record_count(path)
        if expected is not None and expected != counts.get(index, 0):
            drop_tables(con)
            raise NotReadable(f"{path.name}: DuckDB read {counts.get(index, 0)} records")


def known_environments(con: duckdb.DuckDBPyConnection, config: PipelineConfig) -> list[str]:
    """Return the environment values of the read records that the configuration maps.

    The values come from every read record, reused or not, so that the stage
    view is not parsed twice. The check needs only the values of the records
    it passes, and a value the configuration does not map is left out anyway.
    """
    values = con.execute(
        f"select distinct record ->> '$.environment' from {RECORDS_TABLE} "
        "where json_type(record, '$.environment') = 'VARCHAR'"
    ).fetchall()
    return sorted(
        value for (value,) in values if value.strip() and config.canonical_environment(value)
    )


def _row_columns(entity: str) -> dict[str, str] | None:
    """Return the raw-table columns of a checked commit or pull request, or None."""
    if entity == "commits":
        return commit_columns()
    if entity == "pull_requests":
        return pull_request_columns()
    return None


def _checked_values(entity: str) -> str:
    """Return the select list of the values a checked record keeps beside its check.

    A commit or pull request that passes gets its row's columns, computed in
    the same pass as the check, as ``row_<column>`` and its key as
    ``record_key``. A deployment keeps its fields and the texts that its
    insert reads, from which the insert makes one row per status record. The
    columns are computed only for a record that passes, because their casts
    fail on other records.
    """
    columns = _row_columns(entity)
    if columns is None:
        texts = ", ".join(f"{VALUE_PREFIX}{name}" for name in DEPLOYMENT_ROW_FIELDS)
        return f"fields, {texts}, null as record_key"
    values = [f"case when ok then {columns['_record_key']} end as record_key"]
    for name, expression in columns.items():
        if name != "_record_key":
            values.append(f"case when ok then {expression} end as {ROW_PREFIX}{name}")
    return ", ".join(values)


def check_records(con: duckdb.DuckDBPyConnection, entity: str, config: PipelineConfig) -> None:
    """Mark each staged record that SQL may load, with its key for the duplicate check.

    Raises NotReadable when DuckDB fails to parse the fields of a record,
    because the stage view parses them only here.
    """
    if entity == "commits":
        check = commit_check()
    elif entity == "pull_requests":
        check = pull_request_check()
    else:
        check = deployment_check(known_environments(con, config))
    # A reused record counts as checked, so the duplicate check includes its key.
    # Nothing reads its text, which is left null.
    try:
        con.execute(
            f"create or replace temp table {CHECKED_TABLE} as "
            f"select file_index, position, record, ok, {_checked_values(entity)}, "
            "false as reused "
            f"from (select *, coalesce({check}, false) as ok from {STAGE_VIEW}) "
            f"union all by name "
            f"select file_index, position, true as ok, record_key, true as reused "
            f"from {REUSED_TABLE}"
        )
    except duckdb.Error as error:
        drop_tables(con)
        raise NotReadable(str(error)) from None
    con.execute(f"drop view {STAGE_VIEW}")
    for table in (RECORDS_TABLE, REUSED_TABLE):
        con.execute(f"drop table {table}")


def python_positions(con: duckdb.DuckDBPyConnection) -> set[tuple[int, int]]:
    """Return the records the SQL check did not pass."""
    rows = con.execute(f"select file_index, position from {CHECKED_TABLE} where not ok").fetchall()
    return {(index, position) for index, position in rows}


def keys_shared(con: duckdb.DuckDBPyConnection, python_keys: set[str]) -> set[tuple[int, int]]:
    """Return the SQL-checked records whose key another record also has.

    ``python_keys`` are the keys of the records the Python validator accepted.
    """
    con.execute("create or replace temp table _files_python_keys (record_key varchar)")
    if python_keys:
        con.executemany(
            "insert into _files_python_keys values (?)", [(key,) for key in python_keys]
        )
    rows = con.execute(
        f"""
        select file_index, position
        from {CHECKED_TABLE}
        where ok and record_key in (
            select record_key from {CHECKED_TABLE} where ok group by record_key having count(*) > 1
            union all
            select record_key from _files_python_keys
        )
        """
    ).fetchall()
    con.execute("drop table _files_python_keys")
    return {(index, position) for index, position in rows}


def mark_python(con: duckdb.DuckDBPyConnection, positions: set[tuple[int, int]]) -> None:
    """Leave ``positions`` to the Python validator."""
    if not positions:
        return
    con.execute("create or replace temp table _files_python (file_index integer, position bigint)")
    con.executemany("insert into _files_python values (?, ?)", sorted(positions))
    con.execute(
        f"update {CHECKED_TABLE} set ok = false from _files_python as p "
        f"where {CHECKED_TABLE}.file_index = p.file_index "
        f"and {CHECKED_TABLE}.position = p.position"
    )
    con.execute("drop table _files_python")


# Inserting ------------------------------------------------------------------------------------


def insert_checked(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    table: str,
    columns: dict[str, str],
    bookkeeping: dict[str, Any],
) -> int:
    """Insert the checked records that SQL loads into ``table``; return the rows inserted.

    Reused records are left out, because their rows are stored already.

    ``columns`` maps each column of the table to its type, and ``bookkeeping``
    contains the ``_source`` and ``_loaded_at`` of every row. The caller opens
    and commits the transaction.
    """
    if entity == "deployments":
        moved = files_reuse.insert_moved(con, table, columns, bookkeeping)
        return moved + _insert_deployments(con, table, columns, bookkeeping)
    # The row's columns were computed by check_records.
    expressions = {name: f"{ROW_PREFIX}{name}" for name in _row_columns(entity)}
    expressions = {
        **expressions,
        "_source": "$source",
        "_loaded_at": "$loaded_at",
        "_payload": "record::varchar",
        "_record_key": "record_key",
    }
    source = f"from {CHECKED_TABLE} where ok and not reused"
    return _insert(con, table, columns, expressions, source, bookkeeping)


def _insert_deployments(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: dict[str, str],
    bookkeeping: dict[str, Any],
) -> int:
    # One row per status record: the history items in file order, or the status.
    history = "json_extract(fields.status_history, '$[*]')"
    source = f"""
        from (
            select *, unnest(
                case when json_array_length(fields.status_history) > 0
                then list_transform({history}, lambda item: item ->> 'state')
                else [fields.status ->> '$'] end
            ) as state,
            unnest(
                case when json_array_length(fields.status_history) > 0
                then list_transform({history}, lambda item: item ->> 'at')
                else [coalesce(fields.finished_at ->> '$', fields.started_at ->> '$')] end
            ) as state_at,
            unnest(
                range(greatest(coalesce(json_array_length(fields.status_history), 0), 1)::bigint)
            ) as status_index
            from {CHECKED_TABLE} where ok and not reused
        )
    """
    deployment_id, sha = field_value("id"), field_value("sha")
    expressions = {
        "_source": "$source",
        "_loaded_at": "$loaded_at",
        "_payload": "record::varchar",
        "_record_key": (
            f"{deployment_id} || '|' || {sha} || '|' || position::varchar "
            "|| '|' || status_index::varchar"
        ),
        "deployment_id": deployment_id,
        "repo": f"coalesce({field_value('repo')}, 'default')",
        "service": field_value("service"),
        "environment": field_value("environment"),
        "sha": sha,
        "state": "state",
        "state_at": "cast(state_at as timestamptz)",
        "started_at": f"cast({field_value('started_at')} as timestamptz)",
        "pipeline_status": field_value("pipeline_status"),
        "record_index": "position * 1000 + status_index",
    }
    return _insert(con, table, columns, expressions, source, bookkeeping)


def _insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: dict[str, str],
    expressions: dict[str, str],
    source: str,
    bookkeeping: dict[str, Any],
) -> int:
    names = list(columns)
    select_list = ", ".join(
        f"cast({expressions[name]} as {columns[name].split()[0]})" for name in names
    )
    return con.execute(
        f"insert into {table} ({', '.join(names)}) select {select_list} {source}",
        {"source": bookkeeping["_source"], "loaded_at": bookkeeping["_loaded_at"]},
    ).fetchone()[0]


def keep_reused(con: duckdb.DuckDBPyConnection) -> str:
    """Create the table of the keys whose stored rows the reused records keep, and return its name."""
    con.execute(
        f"create or replace temp table {KEPT_TABLE} as "
        f"select record_key as _record_key from {CHECKED_TABLE} where ok and reused"
    )
    return KEPT_TABLE


def drop_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the temporary tables and the stage view of the SQL pass."""
    con.execute(f"drop view if exists {STAGE_VIEW}")
    for table in (RECORDS_TABLE, CHECKED_TABLE, KEPT_TABLE):
        con.execute(f"drop table if exists {table}")
    files_reuse.drop_reuse_tables(con)
