"""The SQL expressions that check JSON event records like the Python validator.

``files_sql`` stages each record with the JSON type (``TYPE_PREFIX``) and
the text (``VALUE_PREFIX``) of every field (``field_columns``). The checks
here accept a record only when the Python validator in ``files`` would store
it with the same values, and the column expressions compute those values.
"""

from __future__ import annotations

MAX_FIELD_CHARS = 1_000_000
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


# Field checks ---------------------------------------------------------------------------------


def _field(name: str, record: str | None = None) -> str:
    """Return the field as JSON: from the staged ``fields``, or read from the JSON ``record``."""
    return f"fields.{name}" if record is None else f"({record} -> '{name}')"


def field_type(name: str, record: str | None = None) -> str:
    """Return the JSON type of the field: a stage view column, or read from the JSON ``record``."""
    return f"{TYPE_PREFIX}{name}" if record is None else f"json_type({_field(name, record)})"


def field_value(name: str, record: str | None = None) -> str:
    """Return the field's text: a stage view column, or read from the JSON ``record``."""
    return f"{VALUE_PREFIX}{name}" if record is None else f"({_field(name, record)} ->> '$')"


def field_columns(entity: str) -> str:
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
    return f"coalesce({field_type(name, record)}, 'NULL') = 'NULL'"


def _required_text(name: str, record: str | None = None) -> str:
    value = field_value(name, record)
    return (
        f"({field_type(name, record)} = 'VARCHAR' and regexp_full_match({value}, "
        f"'{UNTRIMMED_PATTERN}') and strlen({value}) <= {MAX_FIELD_CHARS})"
    )


def _optional_text(name: str) -> str:
    value = field_value(name)
    # A text with a printable non-space ASCII character is not blank for Python either.
    return (
        f"({_absent(name)} or ({field_type(name)} = 'VARCHAR' and regexp_matches({value}, '[!-~]') "
        f"and strlen({value}) <= {MAX_FIELD_CHARS}))"
    )


def _ascii_text(name: str) -> str:
    """Return the check of an optional ASCII text, which DuckDB's lower() and Python's agree on."""
    value = field_value(name)
    return (
        f"({_absent(name)} or ({field_type(name)} = 'VARCHAR' "
        f"and regexp_full_match({value}, '[ -~]*[!-~][ -~]*') "
        f"and strlen({value}) <= {MAX_FIELD_CHARS}))"
    )


def _time(name: str, required: bool = False, record: str | None = None) -> str:
    value = field_value(name, record)
    valid = (
        f"({field_type(name, record)} = 'VARCHAR' and regexp_full_match({value}, "
        f"'{TIMESTAMP_PATTERN}') and try_cast({value} as timestamptz) is not null)"
    )
    return valid if required else f"({_absent(name, record)} or {valid})"


def _boolean(name: str) -> str:
    return f"({_absent(name)} or {field_type(name)} = 'BOOLEAN')"


def _integer(name: str, required: bool = False) -> str:
    valid = (
        f"({field_type(name)} in ('UBIGINT', 'BIGINT') "
        f"and try_cast({field_value(name)} as integer) is not null)"
    )
    return valid if required else f"({_absent(name)} or {valid})"


def _plain_list(name: str) -> str:
    items = f"json_extract({_field(name)}, '$[*]')"
    check = (
        f"json_type(item) = 'VARCHAR' and regexp_full_match(item ->> '$', '{PLAIN_ITEM_PATTERN}')"
    )
    return (
        f"({_absent(name)} or ({field_type(name)} = 'ARRAY' "
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
    repo = f"coalesce({field_value('repo')}, 'default')"
    columns = {
        "_record_key": f"{repo} || ':' || {field_value('sha')}",
        "repo": repo,
        "sha": field_value("sha"),
        "parent_shas": _list_text("parent_shas"),
        "parent_count": _list_length("parent_shas"),
        "authored_at": f"cast({field_value('authored_at')} as timestamptz)",
        "committed_at": f"cast({field_value('committed_at')} as timestamptz)",
        # Without a subject, the first line of the message. An empty first line stays ''.
        "subject": (
            f"coalesce({field_value('subject')}, "
            f"regexp_extract({field_value('message')}, '{FIRST_LINE_PATTERN}', 0))"
        ),
        "reverted_sha": (
            f"lower(coalesce({field_value('reverted_sha')}, "
            f"nullif(regexp_extract({field_value('message')}, '{REVERT_PATTERN}', 1), '')))"
        ),
        "patch_id": field_value("patch_id"),
        "is_bot": f"coalesce(cast({field_value('is_bot')} as boolean), false)",
        "pr_number": f"cast({field_value('pr_number')} as integer)",
        "pr_created_as_draft": f"cast({field_value('pr_created_as_draft')} as boolean)",
    }
    for name in ("pr_opened_at", "pr_merged_at", "pr_ready_for_review_at"):
        columns[name] = f"cast({field_value(name)} as timestamptz)"
    for name in ("pr_reopened_at", "pr_closed_at"):
        columns[name] = f"cast({field_value(name)} as timestamptz)"
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
    repo = f"coalesce({field_value('repo')}, 'default')"
    return {
        "_record_key": f"{repo} || ':' || cast(cast({field_value('number')} as integer) as varchar)",
        "repo": repo,
        "number": f"cast({field_value('number')} as integer)",
        "opened_at": f"cast({field_value('opened_at')} as timestamptz)",
        "merged_at": f"cast({field_value('merged_at')} as timestamptz)",
        "merge_commit_sha": field_value("merge_commit_sha"),
        "title": field_value("title"),
        "head_ref": field_value("head_ref"),
        "labels": _list_text("labels"),
        "is_bot": f"coalesce(cast({field_value('is_bot')} as boolean), false)",
        "created_as_draft": f"cast({field_value('created_as_draft')} as boolean)",
    }


def deployment_check(known_environments: list[str]) -> str:
    """Return the condition under which SQL loads a deployment record.

    ``known_environments`` are the environment values the configuration maps.
    """
    environments = ", ".join("'" + name.replace("'", "''") + "'" for name in known_environments)
    known = f"{field_value('environment')} in ({environments})" if environments else "false"
    history = "json_extract(fields.status_history, '$[*]')"
    item_check = _all(_object("item"), _required_text("state", "item"), _time("at", True, "item"))
    with_history = (
        f"({field_type('status_history')} = 'ARRAY' and json_array_length(fields.status_history) > 0 "
        f"and list_bool_and(list_transform({history}, lambda item: {item_check})))"
    )
    # Without a history the status is one record, timed by finished_at or started_at.
    # A success needs a time, and the Python validator words that rejection.
    status_time = f"coalesce({field_value('finished_at')}, {field_value('started_at')}) is not null"
    not_success = (
        f"(regexp_full_match({field_value('status')}, '[ -~]+') "
        f"and lower({field_value('status')}) <> 'success')"
    )
    without_history = _all(
        f"({_absent('status_history')} or ({field_type('status_history')} = 'ARRAY' "
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
