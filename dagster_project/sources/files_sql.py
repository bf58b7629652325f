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
of a stored row that the same code loaded keeps that row without a check
(``stage_files``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from dagster_project.config import PipelineConfig

MAX_FIELD_CHARS = 1_000_000
# Larger than any record the Python reader would accept (a field contains at
# most MAX_FIELD_CHARS characters of up to 4 bytes each).
MAX_OBJECT_BYTES = 134_217_728
RECORDS_TABLE = "_files_records"
REUSED_TABLE = "_files_reused"
STAGE_VIEW = "_files_stage"
CHECKED_TABLE = "_files_checked"
KEPT_TABLE = "_files_kept"
# The prefix of the raw-table columns that the check computes for a commit or
# pull request in the checked table.
ROW_PREFIX = "row_"
# The prefixes of the JSON type and the text of each field in the stage view.
TYPE_PREFIX = "type_"
VALUE_PREFIX = "value_"

# A timestamp that datetime.fromisoformat (Python 3.11) and DuckDB's cast to
# timestamptz read as the same instant. Years 1900 to 2999 keep the Python
# conversion to UTC away from the limits of datetime.
TIMESTAMP_PATTERN = (
    r"(19|2\d)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)"
)
# Text whose first and last characters are printable ASCII other than space,
# so Python's str.strip() leaves it unchanged.
UNTRIMMED_PATTERN = r"(?s)[!-~](.*[!-~])?"
# A list item that json.dumps writes as the item between double quotes.
PLAIN_ITEM_PATTERN = r"[ !#-\[\]-~]*"
# Text that DuckDB's JSON reader accepts and Python's json.loads reads differently
# or rejects: a trailing comma, a non-finite number, a surrogate escape.
LENIENT_JSON_PATTERN = r",\s*[\]}]|[:,\[]\s*[-+]?(?i:nan|inf)|\\u[dD][89a-fA-F]"
# The first line of a text as Python's str.splitlines() cuts it.
FIRST_LINE_PATTERN = r"^[^\n\r\x0b\x0c\x1c\x1d\x1e\x{85}\x{2028}\x{2029}]*"
# The same pattern as files.REVERT_PATTERN. RE2 and Python's re find the same first match.
REVERT_PATTERN = r"This reverts commit ([0-9a-fA-F]{7,40})"

COMMIT_FIELDS = (
    "sha", "repo", "parent_shas", "message", "subject", "reverted_sha", "patch_id",
    "authored_at", "committed_at", "is_bot", "pr_number", "pr_opened_at", "pr_merged_at",
    "pr_ready_for_review_at", "pr_reopened_at", "pr_closed_at", "pr_created_as_draft",
)  # fmt: skip
PULL_REQUEST_FIELDS = (
    "repo", "number", "opened_at", "merged_at", "merge_commit_sha", "title", "head_ref",
    "labels", "is_bot", "created_as_draft",
)  # fmt: skip
DEPLOYMENT_FIELDS = (
    "id", "service", "environment", "sha", "repo", "started_at", "pipeline_status",
    "status_history", "status", "finished_at",
)  # fmt: skip
FIELDS_OF = {
    "commits": COMMIT_FIELDS,
    "pull_requests": PULL_REQUEST_FIELDS,
    "deployments": DEPLOYMENT_FIELDS,
}
SQL_ENTITIES = tuple(FIELDS_OF)
# The deployment fields whose text ``_insert_deployments`` reads.
DEPLOYMENT_ROW_FIELDS = (
    "id", "service", "environment", "sha", "repo", "started_at", "pipeline_status",
)  # fmt: skip
# Entities whose records must have unique keys. The Python validator quarantines
# a later record with a key that is already taken.
KEYED_ENTITIES = ("commits", "pull_requests")


class NotReadable(Exception):
    """A file that DuckDB cannot read record by record like the Python reader."""


# Field checks ---------------------------------------------------------------------------------


def _field(name: str, record: str | None = None) -> str:
    """Return the field as JSON: from the staged ``fields``, or read from the JSON ``record``."""
    return f"fields.{name}" if record is None else f"({record} -> '{name}')"


def _type(name: str, record: str | None = None) -> str:
    """Return the JSON type of the field: a stage view column, or read from the JSON ``record``."""
    return f"{TYPE_PREFIX}{name}" if record is None else f"json_type({_field(name, record)})"


def _value(name: str, record: str | None = None) -> str:
    """Return the field's text: a stage view column, or read from the JSON ``record``."""
    return f"{VALUE_PREFIX}{name}" if record is None else f"({_field(name, record)} ->> '$')"


def _field_columns(entity: str) -> str:
    """Return the select list of each field's JSON type and text, parsed once per record.

    The checks and row columns name a field's type and text several times,
    and these columns spare DuckDB a parse of the field for each.
    """
    columns = []
    for name in FIELDS_OF[entity]:
        columns.append(f"json_type(fields.{name}) as {TYPE_PREFIX}{name}")
        columns.append(f"(fields.{name} ->> '$') as {VALUE_PREFIX}{name}")
    return ", ".join(columns)


def _absent(name: str, record: str | None = None) -> str:
    return f"coalesce({_type(name, record)}, 'NULL') = 'NULL'"


def _required_text(name: str, record: str | None = None) -> str:
    value = _value(name, record)
    return (
        f"({_type(name, record)} = 'VARCHAR' and regexp_full_match({value}, "
        f"'{UNTRIMMED_PATTERN}') and strlen({value}) <= {MAX_FIELD_CHARS})"
    )


def _optional_text(name: str) -> str:
    value = _value(name)
    # A text with a printable non-space ASCII character is not blank for Python either.
    return (
        f"({_absent(name)} or ({_type(name)} = 'VARCHAR' and regexp_matches({value}, '[!-~]') "
        f"and strlen({value}) <= {MAX_FIELD_CHARS}))"
    )


def _ascii_text(name: str) -> str:
    """Return the check of an optional ASCII text, which DuckDB's lower() and Python's agree on."""
    value = _value(name)
    return (
        f"({_absent(name)} or ({_type(name)} = 'VARCHAR' "
        f"and regexp_full_match({value}, '[ -~]*[!-~][ -~]*') "
        f"and strlen({value}) <= {MAX_FIELD_CHARS}))"
    )


def _time(name: str, required: bool = False, record: str | None = None) -> str:
    value = _value(name, record)
    valid = (
        f"({_type(name, record)} = 'VARCHAR' and regexp_full_match({value}, "
        f"'{TIMESTAMP_PATTERN}') and try_cast({value} as timestamptz) is not null)"
    )
    return valid if required else f"({_absent(name, record)} or {valid})"


def _boolean(name: str) -> str:
    return f"({_absent(name)} or {_type(name)} = 'BOOLEAN')"


def _integer(name: str, required: bool = False) -> str:
    valid = (
        f"({_type(name)} in ('UBIGINT', 'BIGINT') "
        f"and try_cast({_value(name)} as integer) is not null)"
    )
    return valid if required else f"({_absent(name)} or {valid})"


def _plain_list(name: str) -> str:
    items = f"json_extract({_field(name)}, '$[*]')"
    check = (
        f"json_type(item) = 'VARCHAR' and regexp_full_match(item ->> '$', '{PLAIN_ITEM_PATTERN}')"
    )
    return (
        f"({_absent(name)} or ({_type(name)} = 'ARRAY' "
        f"and coalesce(list_bool_and(list_transform({items}, lambda item: {check})), true)))"
    )


def _list_text(name: str) -> str:
    """Return the list as json.dumps writes it: quoted items separated by ', '."""
    items = f"coalesce(json_extract({_field(name)}, '$[*]'), [])"
    quoted = f"list_transform({items}, lambda item: '\"' || (item ->> '$') || '\"')"
    return f"'[' || array_to_string({quoted}, ', ') || ']'"


def _list_length(name: str) -> str:
    return f"coalesce(json_array_length({_field(name)}), 0)"


def _strict_json() -> str:
    """Return the check that the record's text is JSON that Python's json.loads reads alike.

    DuckDB also reads trailing commas and inf or nan in any case, while Python
    rejects the first and reads only NaN, Infinity and -Infinity. A record
    with such text, or with a surrogate escape, is left to Python. The check
    also matches such text inside strings, which costs speed but not accuracy.
    """
    return f"not regexp_matches(record::varchar, '{LENIENT_JSON_PATTERN}')"


def _object(record: str | None = None) -> str:
    """Return the check of a JSON object without repeated keys.

    Python keeps the last of two equal keys and DuckDB the first.
    """
    if record is None:
        return "(record_type = 'OBJECT' and distinct_keys)"
    keys = f"json_keys({record})"
    return f"(json_type({record}) = 'OBJECT' and len({keys}) = len(list_distinct({keys})))"


def _all(*conditions: str) -> str:
    return "(" + "\n    and ".join(conditions) + ")"


# Entity checks and columns --------------------------------------------------------------------


def commit_check() -> str:
    """Return the condition under which SQL loads a commit record."""
    times = ("pr_opened_at", "pr_merged_at", "pr_ready_for_review_at")
    times += ("pr_reopened_at", "pr_closed_at")
    return _all(
        _object(),
        _strict_json(),
        _required_text("sha"),
        _optional_text("repo"),
        _plain_list("parent_shas"),
        _optional_text("message"),
        _optional_text("subject"),
        _ascii_text("reverted_sha"),
        _optional_text("patch_id"),
        _time("authored_at", required=True),
        _time("committed_at", required=True),
        _boolean("is_bot"),
        _integer("pr_number"),
        *(_time(name) for name in times),
        _boolean("pr_created_as_draft"),
    )


def commit_columns() -> dict[str, str]:
    """Return the raw_files__commits columns of a checked record as SQL expressions."""
    repo = f"coalesce({_value('repo')}, 'default')"
    columns = {
        "_record_key": f"{repo} || ':' || {_value('sha')}",
        "repo": repo,
        "sha": _value("sha"),
        "parent_shas": _list_text("parent_shas"),
        "parent_count": _list_length("parent_shas"),
        "authored_at": f"cast({_value('authored_at')} as timestamptz)",
        "committed_at": f"cast({_value('committed_at')} as timestamptz)",
        # Without a subject, the first line of the message. An empty first line stays ''.
        "subject": (
            f"coalesce({_value('subject')}, "
            f"regexp_extract({_value('message')}, '{FIRST_LINE_PATTERN}', 0))"
        ),
        "reverted_sha": (
            f"lower(coalesce({_value('reverted_sha')}, "
            f"nullif(regexp_extract({_value('message')}, '{REVERT_PATTERN}', 1), '')))"
        ),
        "patch_id": _value("patch_id"),
        "is_bot": f"coalesce(cast({_value('is_bot')} as boolean), false)",
        "pr_number": f"cast({_value('pr_number')} as integer)",
        "pr_created_as_draft": f"cast({_value('pr_created_as_draft')} as boolean)",
    }
    for name in ("pr_opened_at", "pr_merged_at", "pr_ready_for_review_at"):
        columns[name] = f"cast({_value(name)} as timestamptz)"
    for name in ("pr_reopened_at", "pr_closed_at"):
        columns[name] = f"cast({_value(name)} as timestamptz)"
    return columns


def pull_request_check() -> str:
    """Return the condition under which SQL loads a pull request record."""
    return _all(
        _object(),
        _strict_json(),
        _optional_text("repo"),
        _integer("number", required=True),
        _time("opened_at", required=True),
        _time("merged_at"),
        _optional_text("merge_commit_sha"),
        _optional_text("title"),
        _optional_text("head_ref"),
        _plain_list("labels"),
        _boolean("is_bot"),
        _boolean("created_as_draft"),
    )


def pull_request_columns() -> dict[str, str]:
    """Return the raw_files__pull_requests columns of a checked record as SQL expressions."""
    repo = f"coalesce({_value('repo')}, 'default')"
    return {
        "_record_key": f"{repo} || ':' || cast(cast({_value('number')} as integer) as varchar)",
        "repo": repo,
        "number": f"cast({_value('number')} as integer)",
        "opened_at": f"cast({_value('opened_at')} as timestamptz)",
        "merged_at": f"cast({_value('merged_at')} as timestamptz)",
        "merge_commit_sha": _value("merge_commit_sha"),
        "title": _value("title"),
        "head_ref": _value("head_ref"),
        "labels": _list_text("labels"),
        "is_bot": f"coalesce(cast({_value('is_bot')} as boolean), false)",
        "created_as_draft": f"cast({_value('created_as_draft')} as boolean)",
    }


def deployment_check(known_environments: list[str]) -> str:
    """Return the condition under which SQL loads a deployment record.

    ``known_environments`` are the environment values the configuration maps.
    """
    environments = ", ".join("'" + name.replace("'", "''") + "'" for name in known_environments)
    known = f"{_value('environment')} in ({environments})" if environments else "false"
    history = "json_extract(fields.status_history, '$[*]')"
    item_check = _all(_object("item"), _required_text("state", "item"), _time("at", True, "item"))
    with_history = (
        f"({_type('status_history')} = 'ARRAY' and json_array_length(fields.status_history) > 0 "
        f"and list_bool_and(list_transform({history}, lambda item: {item_check})))"
    )
    # Without a history the status is one record, timed by finished_at or started_at.
    # A success needs a time, and the Python validator words that rejection.
    status_time = f"coalesce({_value('finished_at')}, {_value('started_at')}) is not null"
    not_success = (
        f"(regexp_full_match({_value('status')}, '[ -~]+') "
        f"and lower({_value('status')}) <> 'success')"
    )
    without_history = _all(
        f"({_absent('status_history')} or ({_type('status_history')} = 'ARRAY' "
        "and json_array_length(fields.status_history) = 0))",
        _required_text("status"),
        _time("finished_at"),
        f"({status_time} or {not_success})",
    )
    return _all(
        _object(),
        _strict_json(),
        _required_text("id"),
        _required_text("service"),
        _required_text("environment"),
        _required_text("sha"),
        known,
        _optional_text("repo"),
        _time("started_at"),
        _optional_text("pipeline_status"),
        f"({with_history} or {without_history})",
    )


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

    A reused record's text equals the payload of a stored row, so the same
    code stores the same row for it again. The stage view gives each other
    record with its type, its fields as JSON and each field's type and text
    (``_field_columns``), parsed out of the record once per read so that the
    checks read small values. A view does not copy the records again, and
    ``check_records`` reads it once.
    """
    if stored_rows is None:
        con.execute(
            f"create or replace temp table {REUSED_TABLE} "
            "(file_index integer, position bigint, record_key varchar)"
        )
    else:
        con.execute(
            f"""
            create or replace temp table {REUSED_TABLE} as
            select records.file_index, records.position, stored._record_key as record_key
            from {RECORDS_TABLE} as records
            inner join {stored_rows} as stored on records.record::varchar = stored._payload
            """
        )
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
            {_field_columns(entity)}
        from (
            select
                file_index,
                position,
                record,
                json_type(record) as record_type,
                json_keys(record) as record_keys,
                json_transform(record, '{structure}') as fields
            from {RECORDS_TABLE}
            anti join {REUSED_TABLE} using (file_index, position)
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
    try:
        con.execute(
            f"create or replace temp table {CHECKED_TABLE} as "
            f"select file_index, position, record, ok, {_checked_values(entity)}, "
            "false as reused "
            f"from (select *, coalesce({check}, false) as ok from {STAGE_VIEW}) "
            f"union all by name "
            f"select file_index, position, record, true as ok, record_key, true as reused "
            f"from {REUSED_TABLE} inner join {RECORDS_TABLE} using (file_index, position)"
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
        return _insert_deployments(con, table, columns, bookkeeping)
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
    deployment_id, sha = _value("id"), _value("sha")
    expressions = {
        "_source": "$source",
        "_loaded_at": "$loaded_at",
        "_payload": "record::varchar",
        "_record_key": (
            f"{deployment_id} || '|' || {sha} || '|' || position::varchar "
            "|| '|' || status_index::varchar"
        ),
        "deployment_id": deployment_id,
        "repo": f"coalesce({_value('repo')}, 'default')",
        "service": _value("service"),
        "environment": _value("environment"),
        "sha": sha,
        "state": "state",
        "state_at": "cast(state_at as timestamptz)",
        "started_at": f"cast({_value('started_at')} as timestamptz)",
        "pipeline_status": _value("pipeline_status"),
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
    for table in (RECORDS_TABLE, REUSED_TABLE, CHECKED_TABLE, KEPT_TABLE):
        con.execute(f"drop table if exists {table}")
