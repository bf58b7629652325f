"""Loading helpers shared by the API sources (GitHub, GitLab): batches, quarantine, parsing.

An API object becomes one raw row, or a quarantine entry whose reason names
the field, the value and the fix. A batch is written in one upsert keyed by
``(_source, _record_key)``, so loading the same objects twice changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from dagster_project import warehouse
from dagster_project.timeparse import TimestampError, parse_timestamp

_REVERT = re.compile(r"This reverts commit ([0-9a-fA-F]{7,40})")


@dataclass
class Batch:
    """Rows built from API objects and the objects that could not be used."""

    source: str
    entity: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        location: str,
        item: Any,
        build: Callable[[], dict[str, Any] | list[dict[str, Any]]],
    ) -> None:
        """Add the row (or rows) ``build`` returns, or quarantine ``item`` when it raises.

        Only TimestampError, KeyError, TypeError, ValueError and AttributeError
        are caught: they mean the object lacks a field or contains an unusable
        value (AttributeError: text or a number where an object belongs).
        """
        try:
            built = build()
        except (TimestampError, KeyError, TypeError, ValueError, AttributeError) as error:
            reason = str(error) if not isinstance(error, KeyError) else f"missing field {error}"
            self.rejected.append(
                {
                    "location": location,
                    "raw_content": json.dumps(item, sort_keys=True, default=str),
                    "reason": f"{self.entity} at {location}: {reason}",
                }
            )
            return
        for row in built if isinstance(built, list) else [built]:
            row.setdefault("_source", self.source)
            row.setdefault("_payload", item)
            row.setdefault("_location", location)
            self.rows.append(row)


def write_batch(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Mapping[str, str],
    batch: Batch,
) -> int:
    """Upsert the batch rows and record its rejects; return the number of rows written.

    Earlier quarantine entries at the same locations are replaced, so a re-run
    neither duplicates a reject nor keeps one whose object now loads.
    """
    _reject_unstorable(batch, columns)
    locations = {row.pop("_location") for row in batch.rows if "_location" in row}
    locations |= {item["location"] for item in batch.rejected}
    if locations:
        con.executemany(
            "delete from quarantine where _source = ? and entity = ? and location = ?",
            [(batch.source, batch.entity, location) for location in sorted(locations)],
        )
    if batch.rejected:
        warehouse.quarantine_rows(con, batch.source, batch.entity, batch.rejected, replace=False)
    return warehouse.upsert_rows(con, table, batch.rows, columns)


INTEGER_RANGES = {"integer": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}


def unstorable_reason(row: Mapping[str, Any], columns: Mapping[str, str]) -> str | None:
    """Name the first integer or boolean value DuckDB could not store in its column."""
    for name, spec in columns.items():
        value, kind = row.get(name), spec.split()[0].lower()
        if value is None:
            continue
        if kind in INTEGER_RANGES:
            low, high = INTEGER_RANGES[kind]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                return f"{name}: {value!r} is not an integer from {low} to {high}"
        elif kind == "boolean" and not isinstance(value, bool):
            return f"{name}: {value!r} is not true or false"
    return None


def _reject_unstorable(batch: Batch, columns: Mapping[str, str]) -> None:
    """Move rows whose values do not fit their column types to the batch's rejects."""
    kept = []
    for row in batch.rows:
        reason = unstorable_reason(row, columns)
        if reason is None:
            kept.append(row)
            continue
        location = row.pop("_location", None) or f"{batch.source}/{row.get('_record_key')}"
        batch.rejected.append(
            {
                "location": location,
                "raw_content": json.dumps(row.get("_payload"), sort_keys=True, default=str),
                "reason": f"{batch.entity} at {location}: {reason}; check the value in the API",
            }
        )
    batch.rows = kept


@dataclass
class LoadResult:
    """Outcome of one extraction: row counts per table, rejects, skips and the new cursor."""

    rows: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    skipped: int = 0
    cursor: str | None = None
    notes: list[str] = field(default_factory=list)

    def merge(self, other: LoadResult) -> None:
        for table, count in other.rows.items():
            self.rows[table] = self.rows.get(table, 0) + count
        self.rejected += other.rejected
        self.skipped += other.skipped
        self.notes.extend(other.notes)


def later(current: datetime | None, value: Any) -> datetime | None:
    """Return the later of ``current`` and ``value`` (a timestamp or its ISO text)."""
    parsed = parse_timestamp(value, "cursor") if isinstance(value, str) else value
    if parsed is None:
        return current
    return parsed if current is None or parsed > current else current


def newest_time(items: Iterable[Mapping[str, Any]], time_of: Callable[[Any], Any]) -> str | None:
    """Return the latest ``time_of(item)`` over ``items`` as ISO 8601 text, or None."""
    newest = None
    for item in items:
        newest = later(newest, time_of(item))
    return iso(newest)


def read_from_cursor(
    fetch: Callable[[str | None], Iterable[dict[str, Any]]],
    cursor: str | None,
    page_size: int,
    advance: Callable[[list[dict[str, Any]]], str | None],
    key_of: Callable[[dict[str, Any]], Any],
) -> tuple[list[dict[str, Any]], str | None]:
    """Read a listing filtered by ``cursor`` (``since=``, ``updated_after=``); return its items and the next cursor.

    The cursor moves, to ``advance(items)``, only when the listing fills more
    than one page of ``page_size`` items. A listing that fits in one page keeps
    its URL, so the next run sends the stored ETag with it and an unchanged
    listing is answered 304. GitHub does not count a 304 against the rate
    limit. When the cursor moves, the listing from the new cursor is read at
    once as well: that stores its ETag for the next run, and an item that
    arrived between the two requests is returned here instead of being hidden
    behind a later 304. Items listed by both requests are returned once, as
    listed by the later one.
    """
    items = list(fetch(cursor))
    if len(items) <= page_size:
        return items, cursor
    moved = advance(items)
    if moved is None or moved == cursor:
        return items, cursor
    by_key = {key_of(item): item for item in items}
    for item in fetch(moved):
        by_key[key_of(item)] = item
    return list(by_key.values()), moved


def timestamp(item: Mapping[str, Any], *path: str) -> Any:
    """Return the timestamp at ``path`` inside ``item``, parsed to UTC (None when absent)."""
    value: Any = item
    for key in path:
        value = None if value is None else value.get(key)
    return parse_timestamp(value, ".".join(path))


def required_timestamp(item: Mapping[str, Any], *path: str) -> Any:
    """Return the timestamp at ``path``; raise TimestampError when it is missing."""
    value = timestamp(item, *path)
    if value is None:
        raise TimestampError(f"{'.'.join(path)} is missing; the object cannot be placed in time")
    return value


def reverted_sha(message: str | None) -> str | None:
    """Return the sha named by ``This reverts commit <sha>`` in a commit message, or None."""
    match = _REVERT.search(message or "")
    return match.group(1).lower() if match else None


def first_line(message: str | None) -> str | None:
    return (message or "").splitlines()[0] if message else None


def services_for_paths(paths: Iterable[str], prefixes: Mapping[str, str]) -> list[str]:
    """Return the services whose path prefix matches any of ``paths``, sorted.

    ``prefixes`` maps a folder such as ``services/api/`` to a service. A path
    matches a prefix when it starts with it. A trailing ``/`` is added to a
    prefix that lacks one, so ``services/api`` does not match ``services/api2``.
    """
    normalized = {prefix.rstrip("/") + "/": service for prefix, service in prefixes.items()}
    found = {
        service
        for path in paths
        for prefix, service in normalized.items()
        if path.startswith(prefix)
    }
    return sorted(found)


def iso(value: Any) -> str | None:
    """Return a parsed timestamp as ISO 8601 text (the form the cursors keep)."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")
