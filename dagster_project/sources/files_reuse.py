"""Find the read file records whose stored rows can be used again without a check.

A record whose text equals the payload of a stored row that the same code
and settings loaded would be stored with the same rows again, so it is not
checked or parsed:

- A commit or pull request keeps its stored rows (``REUSED_TABLE``).
- A deployment's rows also carry its position in the file, in
  ``_record_key`` and ``record_index``. At the same position it keeps its
  stored rows. At another position (records inserted or removed before it),
  its rows are copied from a stored record with the same text, with the new
  position written into both columns (``MOVED_TABLE``). They are then
  stored like newly checked rows.
"""

from __future__ import annotations

from typing import Any

import duckdb

REUSED_TABLE = "_files_reused"
MOVED_TABLE = "_files_moved"


def find_reused(
    con: duckdb.DuckDBPyConnection, records: str, entity: str, stored_rows: str | None
) -> str:
    """Create the reuse tables for the records of table ``records``; return the reused positions.

    ``stored_rows`` is None or a relation of stored rows of the entity with
    their ``_payload`` and ``_record_key``. For deployments it has every
    column and the ``position`` of each row's record. Returns a query of the
    ``file_index`` and ``position`` of every record that is not checked.
    """
    con.execute(f"drop table if exists {MOVED_TABLE}")
    if stored_rows is None:
        con.execute(
            f"create or replace temp table {REUSED_TABLE} "
            "(file_index integer, position bigint, record_key varchar)"
        )
        return f"select file_index, position from {REUSED_TABLE}"
    same_position = " and records.position = stored.position" if entity == "deployments" else ""
    con.execute(
        f"""
        create or replace temp table {REUSED_TABLE} as
        select records.file_index, records.position, stored._record_key as record_key
        from {records} as records
        inner join {stored_rows} as stored
            on records.record::varchar = stored._payload{same_position}
        """
    )
    reused = f"select file_index, position from {REUSED_TABLE}"
    if entity != "deployments":
        return reused
    _find_moved(con, records, stored_rows)
    return f"{reused} union all select file_index, position from {MOVED_TABLE}"


def _find_moved(con: duckdb.DuckDBPyConnection, records: str, stored_rows: str) -> None:
    """Create the moved table: the rows of deployment records found at another position.

    Each moved record takes the rows of the first stored record with its text,
    with its own position in ``_record_key`` and ``record_index``. The key is
    rebuilt from the row's ``deployment_id`` and ``sha``, as both readers
    build it, and the status row's index is the last part of the old key.
    """
    con.execute(
        f"""
        create or replace temp table {MOVED_TABLE} as
        with

        stored as (

            select * from {stored_rows}

        ),

        sources as (

            select _payload, min(position) as source_position
            from stored
            group by _payload

        ),

        moved as (

            select records.file_index, records.position, sources.*
            from {records} as records
            inner join sources on records.record::varchar = sources._payload
            anti join {REUSED_TABLE} as reused
                on records.file_index = reused.file_index and records.position = reused.position

        ),

        status_rows as (

            select
                moved.file_index,
                moved.position as new_position,
                stored.* exclude (position),
                cast(string_split(stored._record_key, '|')[-1] as bigint) as status_index
            from moved
            inner join stored
                on
                    stored.position = moved.source_position
                    and stored._payload = moved._payload

        )

        select
            *
            exclude (new_position, status_index)
            replace (
                deployment_id || '|' || sha || '|' || new_position::varchar || '|'
                || status_index::varchar as _record_key,
                new_position * 1000 + status_index as record_index
            ),
            new_position as position
        from status_rows
        """
    )


def insert_moved(
    con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str], bookkeeping: dict[str, Any]
) -> int:
    """Insert the rows of the moved records into ``table``; return how many.

    They get the ``_source`` and ``_loaded_at`` of this load, as checked rows do.
    """
    exists = con.execute(
        "select count(*) from duckdb_tables() where temporary and table_name = ?", [MOVED_TABLE]
    ).fetchone()[0]
    if not exists:
        return 0
    names = list(columns)
    values = ", ".join("$" + name if name in bookkeeping else name for name in names)
    return con.execute(
        f"insert into {table} ({', '.join(names)}) select {values} from {MOVED_TABLE}",
        {name: bookkeeping[name] for name in names if name in bookkeeping},
    ).fetchone()[0]


def drop_reuse_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in (REUSED_TABLE, MOVED_TABLE):
        con.execute(f"drop table if exists {table}")
