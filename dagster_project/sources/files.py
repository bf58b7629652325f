"""The file source: events in the neutral form, read from CSV, JSON or JSONL files.

A folder holds ``commits.*``, ``pull_requests.*``, ``deployments.*`` and
``incidents.*``. Each row is validated here; a row that cannot be used goes to
quarantine with its file, line, content and reason, and nothing is guessed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster_project import config as config_module
from dagster_project import warehouse
from dagster_project.config import PipelineConfig
from dagster_project.sources import files_reuse, files_sql, files_sql_checks, files_upsert
from dagster_project.timeparse import TimestampError, parse_timestamp

SOURCE = "files"
DEFAULT_REPO = "default"
EXTENSIONS = (".csv", ".json", ".jsonl")
ENTITIES = ("commits", "pull_requests", "deployments", "incidents")
RAW_TABLE_OF = {
    "commits": "raw_files__commits",
    "pull_requests": "raw_files__pull_requests",
    "deployments": "raw_files__deployment_statuses",
    "incidents": "raw_files__incidents",
}
REVERT_PATTERN = re.compile(r"This reverts commit ([0-9a-fA-F]{7,40})")
MAX_FIELD_CHARS = files_sql_checks.MAX_FIELD_CHARS
# Integer fields are stored as DuckDB ``integer`` (32-bit).
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class RowError(ValueError):
    """A row that cannot be used; the message names the field, the value and the fix."""


@dataclass
class SourceRecord:
    """One input row with where it came from."""

    location: str
    line: int
    data: Any
    raw_text: str


@dataclass
class FileExtract:
    """Rows for the raw tables, the rejected rows, and per-entity counts."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rejected: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    # Entities ``load_events`` skipped because their content was already loaded, with
    # the counts of that load: {"loaded": n, "quarantined": m}.
    unchanged: dict[str, dict[str, int]] = field(default_factory=dict)
    # Rows loaded per entity by ``load_events``, which keeps in ``rows`` only the
    # rows that the Python validator produced (DuckDB loads the others itself).
    loaded: dict[str, int] = field(default_factory=dict)
    # Per entity stored by ``load_events``: the raw rows it kept, inserted and deleted.
    upserts: dict[str, files_upsert.UpsertCounts] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        result = {}
        for entity in ENTITIES:
            stored = self.unchanged.get(entity)
            loaded = self.loaded.get(entity, len(self.rows.get(entity, [])))
            quarantined = len(self.rejected.get(entity, []))
            result[f"{entity}_loaded"] = stored["loaded"] if stored else loaded
            result[f"{entity}_quarantined"] = stored["quarantined"] if stored else quarantined
        return result


# Reading files ------------------------------------------------------------------------------


def _decode_lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            yield number, raw.decode("utf-8", errors="replace").rstrip("\r\n")


def iter_records(path: Path) -> Iterator[SourceRecord]:
    """Yield every record of one file; a line that does not parse yields a string record."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        for number, text in _decode_lines(path):
            if text.strip():
                yield _jsonl_record(path, number, text)
    elif suffix == ".json":
        text = path.read_bytes().decode("utf-8", errors="replace")
        if not text.strip():
            return
        try:
            items = json.loads(text)
        except json.JSONDecodeError as error:
            yield SourceRecord(
                f"{path.name}:{error.lineno}",
                error.lineno,
                RowError(f"invalid JSON ({error}); the whole file was not loaded"),
                text[:2000],
            )
            return
        if not isinstance(items, list):
            yield SourceRecord(
                f"{path.name}:1",
                1,
                RowError("expected a JSON list of objects at the top level"),
                text[:2000],
            )
            return
        for index, item in enumerate(items, start=1):
            yield SourceRecord(f"{path.name}[{index}]", index, item, json.dumps(item, default=str))
    elif suffix == ".csv":
        yield from _iter_csv_records(path)


def _jsonl_record(path: Path, number: int, text: str) -> SourceRecord:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        data = RowError(f"invalid JSON ({error.msg}: column {error.colno}); fix the line")
    return SourceRecord(f"{path.name}:{number}", number, data, text)


def _records_at(path: Path, positions: set[int]) -> Iterator[tuple[int, SourceRecord]]:
    """Yield (position, record) for the records of one file at ``positions`` (from 1).

    A JSON Lines file parses only those lines.
    """
    if path.suffix.lower() != ".jsonl":
        for position, record in enumerate(iter_records(path), start=1):
            if position in positions:
                yield position, record
        return
    position = 0
    for number, text in _decode_lines(path):
        if not text.strip():
            continue
        position += 1
        if position in positions:
            yield position, _jsonl_record(path, number, text)


def _iter_csv_records(path: Path) -> Iterator[SourceRecord]:
    """Yield one record per physical line of a CSV file.

    Each line is parsed on its own, so a stray quote costs only its own line
    (which goes to quarantine) instead of swallowing the lines after it. A
    field value therefore cannot contain a line break.
    """
    header: list[str] | None = None
    header_problem: RowError | None = None
    for number, text in _decode_lines(path):
        if not text.strip():
            continue
        if header_problem is not None:
            yield SourceRecord(f"{path.name}:{number}", number, header_problem, text)
            continue
        try:
            values = next(csv.reader([text], strict=True))
        except csv.Error as error:
            if header is None:
                # Without a readable header no later line can be read, so each is
                # quarantined with the header's problem.
                header_problem = RowError(
                    f"the header (line {number}) is invalid CSV ({error}); fix the header line"
                )
                continue
            problem = RowError(
                f"invalid CSV ({error}); close the quote or quote the whole field, "
                "and keep each row on one line"
            )
            yield SourceRecord(f"{path.name}:{number}", number, problem, text)
            continue
        if header is None:
            header = [name.strip() for name in values]
            continue
        if len(values) > len(header):
            problem = RowError("more values than header columns; quote fields that contain commas")
            yield SourceRecord(f"{path.name}:{number}", number, problem, text)
            continue
        item = dict(zip(header, values + [""] * (len(header) - len(values)), strict=True))
        cleaned = {key: (value if value != "" else None) for key, value in item.items()}
        yield SourceRecord(f"{path.name}:{number}", number, cleaned, json.dumps(item))


def entity_files(folder: Path, entity: str) -> list[Path]:
    """Return the files of one entity in a folder, in a stable order."""
    return sorted(path for path in folder.glob(f"{entity}.*") if path.suffix.lower() in EXTENSIONS)


# Field helpers --------------------------------------------------------------------------------

WHOLE_NUMBER = "use a whole number such as 42"


def _text(data: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(f"missing required field '{name}'; add it to the record")
        return None
    if isinstance(value, dict | list):
        raise RowError(
            f"field '{name}' must be text, got {json.dumps(value)[:80]}; write it as a JSON string"
        )
    text = str(value)
    if len(text) > MAX_FIELD_CHARS:
        raise RowError(f"field '{name}' is longer than {MAX_FIELD_CHARS} characters; shorten it")
    return text.strip() if required else text


def _time(data: dict[str, Any], name: str, required: bool = False):
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise RowError(
                f"missing required field '{name}'; add a timestamp with an offset, "
                "such as 2024-03-04T10:00:00+00:00"
            )
        return None
    try:
        return parse_timestamp(value, name)
    except TimestampError as error:
        raise RowError(str(error)) from None


def _bool(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "y"}:
        return True
    if text in {"false", "0", "no", "n"}:
        return False
    raise RowError(f"field '{name}': invalid boolean {value!r}; use true or false")


def _int(data: dict[str, Any], name: str, required: bool = False) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise RowError(f"missing required field '{name}'; add it to the record")
        return None
    if isinstance(value, bool):
        raise RowError(f"field '{name}': invalid integer {value!r}; {WHOLE_NUMBER}")
    try:
        number = int(str(value).strip().lstrip("#"))
    except ValueError:
        raise RowError(f"field '{name}': invalid integer {value!r}; {WHOLE_NUMBER}") from None
    if not INT32_MIN <= number <= INT32_MAX:
        raise RowError(
            f"field '{name}': {value!r} is outside the range the warehouse stores "
            f"({INT32_MIN} to {INT32_MAX}); check the value"
        )
    return number


def _list(data: dict[str, Any], name: str) -> list[str]:
    """Read a list field: a JSON list, JSON text of a list, or text split on ; , or spaces."""
    value = data.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise RowError(f"field '{name}': invalid JSON list {value!r}") from None
        else:
            return [part for part in re.split(r"[;,\s]+", text) if part]
    if not isinstance(value, list) or not all(isinstance(item, str | int) for item in value):
        raise RowError(
            f"field '{name}': expected a list of strings, got {json.dumps(value)[:80]}; "
            'write a JSON list such as ["a1b2c3", "d4e5f6"]'
        )
    return [str(item) for item in value]


def _require_object(record: SourceRecord) -> dict[str, Any]:
    if isinstance(record.data, RowError):
        raise record.data
    if not isinstance(record.data, dict):
        raise RowError(f"expected an object, got {json.dumps(record.data, default=str)[:80]}")
    return record.data


# Entity parsers -----------------------------------------------------------------------------


def parse_commit(data: dict[str, Any]) -> dict[str, Any]:
    """Turn one neutral-form commit into a raw_files__commits row."""
    sha = _text(data, "sha", required=True)
    repo = _text(data, "repo") or DEFAULT_REPO
    parents = _list(data, "parent_shas")
    message = _text(data, "message") or ""
    subject = _text(data, "subject") or (message.splitlines()[0] if message else None)
    reverted_sha = _text(data, "reverted_sha")
    if reverted_sha is None:
        match = REVERT_PATTERN.search(message)
        reverted_sha = match.group(1) if match else None
    return {
        "_record_key": f"{repo}:{sha}",
        "repo": repo,
        "sha": sha,
        "parent_shas": json.dumps(parents),
        "parent_count": len(parents),
        "authored_at": _time(data, "authored_at", required=True),
        "committed_at": _time(data, "committed_at", required=True),
        "subject": subject,
        "reverted_sha": reverted_sha.lower() if reverted_sha else None,
        "patch_id": _text(data, "patch_id"),
        "is_bot": bool(_bool(data, "is_bot")),
        "pr_number": _int(data, "pr_number"),
        "pr_opened_at": _time(data, "pr_opened_at"),
        "pr_merged_at": _time(data, "pr_merged_at"),
        "pr_ready_for_review_at": _time(data, "pr_ready_for_review_at"),
        "pr_reopened_at": _time(data, "pr_reopened_at"),
        "pr_closed_at": _time(data, "pr_closed_at"),
        "pr_created_as_draft": _bool(data, "pr_created_as_draft"),
    }


def parse_pull_request(data: dict[str, Any]) -> dict[str, Any]:
    """Turn one neutral-form pull request into a raw_files__pull_requests row."""
    repo = _text(data, "repo") or DEFAULT_REPO
    number = _int(data, "number", required=True)
    return {
        "_record_key": f"{repo}:{number}",
        "repo": repo,
        "number": number,
        "opened_at": _time(data, "opened_at", required=True),
        "merged_at": _time(data, "merged_at"),
        "merge_commit_sha": _text(data, "merge_commit_sha"),
        "title": _text(data, "title"),
        "head_ref": _text(data, "head_ref"),
        "labels": json.dumps(_list(data, "labels")),
        "is_bot": bool(_bool(data, "is_bot")),
        "created_as_draft": _bool(data, "created_as_draft"),
    }


def parse_deployment(
    data: dict[str, Any], line: int, config: PipelineConfig
) -> list[dict[str, Any]]:
    """Turn one neutral-form deployment into one raw row per status record."""
    deployment_id = _text(data, "id", required=True)
    service = _text(data, "service", required=True)
    environment = _text(data, "environment", required=True)
    sha = _text(data, "sha", required=True)
    if config.canonical_environment(environment) is None:
        raise RowError(
            f"unknown environment {environment!r}; map it in the configuration under "
            "environments.mapping (to production or another name) or list it under "
            "environments.non_production"
        )
    base = {
        "deployment_id": deployment_id,
        "repo": _text(data, "repo") or DEFAULT_REPO,
        "service": service,
        "environment": environment,
        "sha": sha,
        "started_at": _time(data, "started_at"),
        "pipeline_status": _text(data, "pipeline_status"),
    }
    history = data.get("status_history")
    records: list[tuple[str, Any]] = []
    if history not in (None, "", []):
        if isinstance(history, str):
            try:
                history = json.loads(history)
            except json.JSONDecodeError:
                raise RowError(f"field 'status_history': invalid JSON {history[:80]!r}") from None
        if not isinstance(history, list) or not all(isinstance(item, dict) for item in history):
            raise RowError("field 'status_history' must be a list of {state, at} objects")
        for index, item in enumerate(history):
            state = _text(item, "state", required=True)
            records.append((state, _time(item, "at", required=True)))
            if records[-1][1] is None:
                raise RowError(f"status_history[{index}] has no time")
    else:
        state = _text(data, "status", required=True)
        at = _time(data, "finished_at") or base["started_at"]
        records.append((state, at))
    rows = []
    for index, (state, at) in enumerate(records):
        if at is None and state.strip().lower() == "success":
            raise RowError(
                "a success status needs a time: set finished_at (the time the success was reported)"
            )
        rows.append(
            {
                **base,
                "_record_key": f"{deployment_id}|{sha}|{line}|{index}",
                "state": state,
                "state_at": at,
                "record_index": line * 1000 + index,
            }
        )
    return rows


def parse_incident(data: dict[str, Any], line: int) -> dict[str, Any]:
    """Turn one neutral-form incident record into a raw_files__incidents row."""
    incident_id = _text(data, "id", required=True)
    alert_at = _time(data, "opened_at") or _time(data, "alert_at")
    if alert_at is None:
        raise RowError(
            "missing required field 'opened_at' (the alert time); add a timestamp with an "
            "offset, such as 2024-03-04T10:00:00+00:00"
        )
    production = _bool(data, "is_production")
    return {
        "_record_key": f"{incident_id}|{line}",
        "incident_id": incident_id,
        "service": _text(data, "service", required=True),
        "alert_at": alert_at,
        "resolved_at": _time(data, "resolved_at"),
        "updated_at": _time(data, "updated_at"),
        "caused_by_deployment_id": _text(data, "caused_by_deployment_id"),
        "root_cause_sha": _text(data, "root_cause_sha"),
        "merged_into": _text(data, "merged_into"),
        "resolution_reason": _text(data, "resolution_reason"),
        "is_production": True if production is None else production,
        "record_index": line,
    }


# Reading a folder -----------------------------------------------------------------------------


def _reject(record: SourceRecord, reason: str) -> dict[str, Any]:
    return {"location": record.location, "raw_content": record.raw_text[:100_000], "reason": reason}


def _payload(record: SourceRecord) -> str:
    """Return the record as the JSON text stored in ``_payload`` (keys sorted).

    Serialised at once, so the parsed record is not held until the bulk load.
    """
    if isinstance(record.data, dict):
        return json.dumps(record.data, sort_keys=True, default=str)
    return record.raw_text


def _outside_folder(path: Path, root: Path) -> str | None:
    """Explain why a file that links out of the events folder is not read, or None."""
    target = path.resolve()
    if target.is_relative_to(root.resolve()):
        return None
    return (
        f"{path.name} is a link to {target}, outside the events folder {root}; "
        "links out of the folder are not followed: copy the file into the folder"
    )


def read_events(folder: str | Path, config: PipelineConfig) -> FileExtract:
    """Read and validate every entity file of ``folder``."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(
            f"events folder not found: {root}; pass an existing folder with --events "
            "or set sources.files.path in the configuration"
        )
    extract = FileExtract()
    for entity in ENTITIES:
        _read_entity(root, entity, config, extract)
    return extract


def _read_entity(root: Path, entity: str, config: PipelineConfig, extract: FileExtract) -> None:
    """Read and validate the files of one entity into ``extract``."""
    rows: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    # key -> (location, hash of the raw text) of the first row with that key
    seen: dict[str, tuple[str, int]] = {}
    for path in _readable_files(root, entity, extract, rejected):
        for position, record in enumerate(iter_records(path), start=1):
            _validate(record, position, entity, config, seen, rows, rejected)
    extract.rows[entity] = rows
    extract.rejected[entity] = rejected


def _readable_files(
    root: Path, entity: str, extract: FileExtract, rejected: list[dict[str, Any]]
) -> list[Path]:
    """Return the files of one entity inside ``root``; quarantine links out of it."""
    paths = []
    for path in entity_files(root, entity):
        outside = _outside_folder(path, root)
        if outside is not None:
            rejected.append({"location": path.name, "raw_content": None, "reason": outside})
            continue
        extract.files.append(str(path))
        paths.append(path)
    return paths


def _validate(
    record: SourceRecord,
    line: int,
    entity: str,
    config: PipelineConfig,
    seen: dict[str, tuple[str, int]],
    rows: list[dict[str, Any]],
    rejected: list[dict[str, Any]],
) -> None:
    """Append the raw rows of one record to ``rows``, or its rejection to ``rejected``.

    ``line`` is the record's position in its file, which orders records that
    carry no time of their own. ``seen`` contains the keys taken so far.
    """
    try:
        data = _require_object(record)
        if entity == "commits":
            parsed = [parse_commit(data)]
        elif entity == "pull_requests":
            parsed = [parse_pull_request(data)]
        elif entity == "deployments":
            parsed = parse_deployment(data, line, config)
        else:
            parsed = [parse_incident(data, line)]
    except RowError as error:
        rejected.append(_reject(record, str(error)))
        return
    if entity in ("commits", "pull_requests"):
        key = parsed[0]["_record_key"]
        if key in seen:
            first_location, first_hash = seen[key]
            identical = first_hash == hash(record.raw_text)
            same = "identical to" if identical else "conflicts with"
            rejected.append(
                _reject(
                    record,
                    f"duplicate {key}: {same} the row at {first_location}; "
                    "the first row was kept, remove one of them",
                )
            )
            return
        seen[key] = (record.location, hash(record.raw_text))
    for row in parsed:
        row["_source"] = SOURCE
        row["_payload"] = _payload(record)
        rows.append(row)


def content_fingerprint(root: Path, entity: str, config: PipelineConfig) -> str:
    """Return a hash of everything the load of one entity depends on.

    That is the name and bytes of each of its files, the code that reads them
    (``code_fingerprint``), and for deployments the environment settings that
    decide which rows are quarantined. Equal fingerprints give equal raw rows
    and quarantine rows.
    """
    digest = hashlib.sha256(code_fingerprint().encode())
    digest.update(settings_fingerprint(entity, config).encode())
    for path in entity_files(root, entity):
        digest.update(f"\0{path.name}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def settings_fingerprint(entity: str, config: PipelineConfig) -> str:
    """Return the settings that the raw rows of ``entity`` depend on, as text.

    Deployments depend on the environment settings, which decide the records
    that are quarantined. The other entities depend on no setting.
    """
    if entity != "deployments":
        return ""
    settings = [
        sorted(config.environment_mapping.items()),
        list(config.non_production_environments),
    ]
    return json.dumps(settings)


def code_fingerprint() -> str:
    """Return a hash of the code that turns records into raw rows."""
    digest = hashlib.sha256()
    modules = (
        __file__, files_sql.__file__, files_sql_checks.__file__, files_upsert.__file__,
        files_reuse.__file__, config_module.__file__,
    )  # fmt: skip
    for module in modules:
        digest.update(Path(module).read_bytes())
    return digest.hexdigest()


def _reusable_rows(con, entity: str, config: PipelineConfig, file_count: int) -> str | None:
    """Return the relation of stored rows that records with the same text may reuse, or None.

    A commit's or pull request's rows depend on its record alone. A
    deployment's rows depend on its position in the file too, which their
    keys and ``record_index`` contain. So the relation then has every column
    and the position of each row's record, from which ``files_reuse`` copies
    the rows of a record that moved. The keys do not name the file, so
    deployments reuse rows only when both this load and the stored one read
    one file (``file_count``). The stored rows must come from a load by the
    same code and settings, and have unique keys.
    NOTE: a row changed in the warehouse by anything but this load is reused as it is.
    """
    if entity not in files_sql.REUSABLE_ENTITIES:
        return None
    if entity == "deployments" and file_count != 1:
        return None
    stored = warehouse.read_cursor(con, SOURCE, f"{entity}:content")
    if stored is None:
        return None
    cursor = json.loads(stored)
    if cursor.get("code") != code_fingerprint():
        return None
    if cursor.get("settings", "") != settings_fingerprint(entity, config):
        return None
    # From several files, the Python reader keeps the last row of each repeated
    # key, so a stored deployment record may have lost some of its status rows.
    if entity == "deployments" and cursor.get("files") != 1:
        return None
    table = RAW_TABLE_OF[entity]
    if files_upsert.repeats_a_key(con, table, SOURCE):
        return None
    # The key ends in the record's position and the status row's index.
    columns = (
        "*, cast(string_split(_record_key, '|')[-2] as bigint) as position"
        if entity == "deployments"
        else "_payload, _record_key"
    )
    return f"(select {columns} from {table} where _source = '{SOURCE}')"


def _unchanged_counts(con, entity: str, fingerprint: str) -> dict[str, int] | None:
    """Return the stored counts when the last load of ``entity`` had this fingerprint.

    The stored row counts must still match the tables, so rows removed since
    (a refresh without an events folder) are loaded again.
    """
    stored = warehouse.read_cursor(con, SOURCE, f"{entity}:content")
    if stored is None:
        return None
    cursor = json.loads(stored)
    if cursor.get("sha256") != fingerprint:
        return None
    loaded = con.execute(
        f"select count(*) from {RAW_TABLE_OF[entity]} where _source = ?", [SOURCE]
    ).fetchone()[0]
    quarantined = con.execute(
        "select count(*) from quarantine where _source = ? and entity = ?", [SOURCE, entity]
    ).fetchone()[0]
    if (loaded, quarantined) != (cursor.get("rows"), cursor.get("quarantined")):
        return None
    return {"loaded": cursor["loaded"], "quarantined": quarantined}


def load_entity_sql(
    con, root: Path, entity: str, config: PipelineConfig, extract: FileExtract
) -> int | None:
    """Store the raw rows of one entity, checking and loading clean records in DuckDB.

    A record whose text equals the payload of a stored row keeps that row
    (``_reusable_rows``). The records that the SQL check does not pass, and
    every record whose key another record shares, go through ``_validate`` in
    file order. Fills
    ``extract`` as ``_read_entity`` does, except that ``rows`` contains only the
    rows ``_validate`` produced. Returns the rows stored, or None, having
    changed nothing, when the entity's files must be read by Python alone.
    """
    paths = entity_files(root, entity)
    if entity not in files_sql.SQL_ENTITIES or not paths:
        return None
    if any(path.suffix.lower() == ".csv" for path in paths):
        return None
    rejected: list[dict[str, Any]] = []
    files_before = len(extract.files)
    paths = _readable_files(root, entity, extract, rejected)
    try:
        if not paths:
            raise files_sql.NotReadable("every file links out of the events folder")
        reusable = _reusable_rows(con, entity, config, len(paths))
        files_sql.stage_files(con, paths, entity, reusable)
        files_sql.check_records(con, entity, config)
    except files_sql.NotReadable:
        # The Python path reads the folder again, files and links out of it alike.
        del extract.files[files_before:]
        return None
    try:
        positions = files_sql.python_positions(con)
        rows, python_rejected = _validate_at(paths, positions, entity, config)
        while entity in files_sql.KEYED_ENTITIES:
            shared = files_sql.keys_shared(con, {row["_record_key"] for row in rows})
            if not shared:
                break
            # Those records and the Python ones with their keys are checked again
            # together, in file order, so the first of each key is kept.
            files_sql.mark_python(con, shared)
            positions |= shared
            rows, python_rejected = _validate_at(paths, positions, entity, config)
        counts = _store_entity_rows(con, entity, rows, with_checked=True)
    finally:
        files_sql.drop_tables(con)
    extract.rows[entity] = rows
    extract.rejected[entity] = rejected + python_rejected
    extract.loaded[entity] = counts.stored
    extract.upserts[entity] = counts
    return counts.stored


def _validate_at(
    paths: list[Path], positions: set[tuple[int, int]], entity: str, config: PipelineConfig
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Validate the records at ``positions`` (file index, position) with ``_validate``."""
    rows: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    seen: dict[str, tuple[str, int]] = {}
    for index, path in enumerate(paths):
        selected = {position for file_index, position in positions if file_index == index}
        if not selected:
            continue
        for position, record in _records_at(path, selected):
            _validate(record, position, entity, config, seen, rows, rejected)
    return rows, rejected


def _store_entity_rows(
    con, entity: str, rows: list[dict[str, Any]], with_checked: bool
) -> files_upsert.UpsertCounts:
    """Store ``rows``, and with ``with_checked`` the SQL-checked records, as the entity's rows.

    Rows equal to a stored row keep its ``_loaded_at`` (see ``files_upsert``),
    and so do the stored rows of reused records. Runs in one transaction.
    """
    table = RAW_TABLE_OF[entity]
    columns = {**warehouse.BOOKKEEPING_COLUMNS, **warehouse.RAW_TABLES[table]}
    loaded_at = datetime.now(UTC)
    if not files_upsert.has_rows(con, table, SOURCE):
        # Nothing to keep, so the rows go straight into the table without a second copy.
        return _insert_entity_rows(con, entity, rows, with_checked, loaded_at)
    files_upsert.create_new_table(con, table)
    try:
        kept = None
        if with_checked:
            bookkeeping = {"_source": SOURCE, "_loaded_at": loaded_at}
            files_sql.insert_checked(con, entity, files_upsert.NEW_TABLE, columns, bookkeeping)
            kept = files_sql.keep_reused(con)
        if rows:
            warehouse.insert_rows(con, files_upsert.NEW_TABLE, columns, rows, loaded_at)
        con.execute("begin transaction")
        try:
            counts = files_upsert.upsert_from_new_table(con, table, list(columns), SOURCE, kept)
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        files_upsert.drop_new_table(con)
    return counts


def _insert_entity_rows(
    con, entity: str, rows: list[dict[str, Any]], with_checked: bool, loaded_at: datetime
) -> files_upsert.UpsertCounts:
    """Insert ``rows``, and with ``with_checked`` the SQL-checked records, in one transaction."""
    table = RAW_TABLE_OF[entity]
    columns = {**warehouse.BOOKKEEPING_COLUMNS, **warehouse.RAW_TABLES[table]}
    con.execute("begin transaction")
    try:
        inserted = 0
        if with_checked:
            bookkeeping = {"_source": SOURCE, "_loaded_at": loaded_at}
            inserted = files_sql.insert_checked(con, entity, table, columns, bookkeeping)
        if rows:
            warehouse.insert_rows(con, table, columns, rows, loaded_at)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return files_upsert.UpsertCounts(kept=0, inserted=inserted + len(rows), deleted=0)


def load_events(con, folder: str | Path, config: PipelineConfig) -> FileExtract:
    """Make the file source's raw rows and quarantine entries match the folder's contents.

    Raw rows whose content did not change keep their ``_loaded_at``
    (``files_upsert``). An entity whose files, settings and parser are unchanged since its last
    load (same content fingerprint, stored in ``pipeline_cursors``) is not
    read again: its ``rows`` and ``rejected`` are empty and ``unchanged``
    holds the counts of that load.
    """
    root = Path(folder)
    if not root.is_dir():
        read_events(root, config)  # raises the folder-not-found error
    warehouse.ensure_raw_tables(con)
    extract = FileExtract()
    for entity in ENTITIES:
        fingerprint = content_fingerprint(root, entity, config)
        unchanged = _unchanged_counts(con, entity, fingerprint)
        if unchanged is not None:
            extract.unchanged[entity] = unchanged
            extract.rows[entity], extract.rejected[entity] = [], []
            continue
        stored = load_entity_sql(con, root, entity, config, extract)
        if stored is None:
            _read_entity(root, entity, config, extract)
            # The last row of a repeated key wins, as in warehouse.upsert_rows.
            unique = {row["_record_key"]: row for row in extract.rows[entity]}
            counts = _store_entity_rows(con, entity, list(unique.values()), with_checked=False)
            extract.upserts[entity] = counts
            extract.loaded[entity] = len(extract.rows[entity])
            stored = counts.stored
        quarantined = warehouse.quarantine_rows(con, SOURCE, entity, extract.rejected[entity])
        cursor = {
            "sha256": fingerprint,
            "code": code_fingerprint(),
            "settings": settings_fingerprint(entity, config),
            "files": len(entity_files(root, entity)),
            "loaded": extract.loaded[entity],
            "rows": stored,
            "quarantined": quarantined,
        }
        warehouse.write_cursor(con, SOURCE, f"{entity}:content", json.dumps(cursor))
    return extract


def describe_rejections(extract: FileExtract, limit: int = 5) -> list[str]:
    """Return readable lines for the first rejected rows of each entity."""
    lines = []
    for entity, items in extract.rejected.items():
        for item in items[:limit]:
            lines.append(f"{entity} {item['location']}: {item['reason']}")
        if len(items) > limit:
            lines.append(f"{entity}: {len(items) - limit} more rows in quarantine")
    return lines


__all__ = [
    "ENTITIES",
    "FileExtract",
    "RowError",
    "describe_rejections",
    "load_events",
    "read_events",
]
