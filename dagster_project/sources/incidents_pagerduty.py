"""PagerDuty incidents and log entries to raw rows.

An incident's restore time is its ``resolved_at`` when the API sends one, else
the time of its last ``resolve_log_entry``, else ``last_status_change_at`` when
its status is ``resolved``. An incident whose log shows a resolve followed by
a later trigger or acknowledge was reopened and is open again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import duckdb

from dagster_project import landing, warehouse
from dagster_project.clients.pagerduty import DEFAULT_BASE_URL, PagerDutyClient
from dagster_project.sources.incidents_common import (
    INCIDENT_EXTRA_COLUMNS,
    LoadSummary,
    ProductionRule,
    ServiceMap,
    check_known_keys,
    load_window,
    optional_time,
    parse_production,
    parse_source_name,
    parse_time_field,
    partition_key,
    positive_number,
    raise_if_errors,
    string_list,
    string_map,
)
from dagster_project.timeparse import TimestampError, format_timestamp

log = logging.getLogger(__name__)

SOURCE = "pagerduty"
INCIDENTS_TABLE = "raw_pagerduty__incidents"
LOG_ENTRIES_TABLE = "raw_pagerduty__log_entries"
CURSOR_ENTITY = "incidents"
QUARANTINE_ENTITY = "pagerduty_incidents"
DEFAULT_TOKEN_ENV = "PAGERDUTY_API_TOKEN"

INCIDENT_COLUMNS: dict[str, str] = {
    **warehouse.INCIDENT_COLUMNS,
    **INCIDENT_EXTRA_COLUMNS,
    "incident_number": "integer",
    "urgency": "varchar",
    "priority": "varchar",
    "service_id": "varchar",
    "service_name": "varchar",
    "acknowledged_at": "timestamptz",
    "last_status_change_at": "timestamptz",
    "reopen_count": "integer",
}

LOG_ENTRY_COLUMNS: dict[str, str] = {
    "log_entry_id": "varchar",
    "incident_id": "varchar",
    "entry_type": "varchar",
    "created_at": "timestamptz",
    "channel_type": "varchar",
    "agent_type": "varchar",
    "record_index": "integer",
}

RAW_TABLES: dict[str, dict[str, str]] = {
    INCIDENTS_TABLE: INCIDENT_COLUMNS,
    LOG_ENTRIES_TABLE: LOG_ENTRY_COLUMNS,
}

# Log entry types that change an incident's state. Sorting ties by this rank
# puts a resolve after a trigger stamped in the same second.
STATE_RANK = {
    "trigger_log_entry": 0,
    "unacknowledge_log_entry": 1,
    "acknowledge_log_entry": 1,
    "resolve_log_entry": 2,
}


@dataclass(frozen=True)
class PagerDutySettings:
    """The ``sources.pagerduty`` section of the configuration file, or one partition of it."""

    # The ``_source`` of the rows: the section's source_name, or
    # ``<source_name>:<service id>`` in the partition of one service.
    source: str = SOURCE
    base_url: str = DEFAULT_BASE_URL
    token_env: str = DEFAULT_TOKEN_ENV
    service_ids: tuple[str, ...] = ()
    services: ServiceMap = field(default_factory=ServiceMap)
    production: ProductionRule = field(default_factory=ProductionRule)
    since: datetime | None = None
    initial_days: float = 90.0
    refresh_days: float = 7.0
    fetch_log_entries: bool = True


SETTING_KEYS = {
    "source_name",
    "base_url",
    "token_env",
    "service_ids",
    "services",
    "default_service",
    "production",
    "since",
    "initial_days",
    "refresh_days",
    "fetch_log_entries",
    "enabled",
}


def parse_settings(section: Any) -> PagerDutySettings | None:
    """Return the settings of a ``sources.pagerduty`` section; None when it is absent or disabled."""
    if section is None or section is False:
        return None
    where = "sources.pagerduty"
    if not isinstance(section, dict):
        raise_if_errors([f"{where}: invalid value {section!r}; expected a mapping"])
    if section.get("enabled", True) is False:
        return None
    errors: list[str] = []
    check_known_keys(section, SETTING_KEYS, where, errors)
    settings = PagerDutySettings(
        source=parse_source_name(section, SOURCE, where, errors),
        base_url=str(section.get("base_url") or DEFAULT_BASE_URL),
        token_env=str(section.get("token_env") or DEFAULT_TOKEN_ENV),
        service_ids=string_list(section, "service_ids", where, errors),
        services=ServiceMap(
            string_map(section, "services", where, errors), section.get("default_service")
        ),
        production=parse_production(section, where, errors),
        since=optional_time(section, "since", where, errors),
        initial_days=positive_number(section, "initial_days", 90.0, where, errors),
        refresh_days=positive_number(section, "refresh_days", 7.0, where, errors),
        fetch_log_entries=bool(section.get("fetch_log_entries", True)),
    )
    raise_if_errors(errors)
    return settings


def settings_by_partition(settings: PagerDutySettings) -> dict[str, PagerDutySettings]:
    """Split the section into partitions: one per listed service, else one for the whole account.

    The keys are the partitions' ``_source`` values. With ``service_ids``
    empty the services are not listed in the configuration, and discovering
    them would need a ``GET /services`` call each time the keys are synced,
    so the account stays one partition.
    """
    if not settings.service_ids:
        return {settings.source: settings}
    split = {}
    for service_id in settings.service_ids:
        key = partition_key(settings.source, service_id)
        split[key] = replace(settings, source=key, service_ids=(service_id,))
    return split


def seed_conditions(settings: PagerDutySettings, section: str) -> dict[str, tuple[str, list[Any]]]:
    """Select the warehouse rows a new partition starts with, from the section's earlier keys.

    After a switch from one partition per section to one per service, the
    service keeps the history and the cursor of the section-wide key, whose
    rows the merge deletes, instead of reading only back to ``since`` or
    ``initial_days``. The cursor is copied only when the section contains an
    incident of the service, which shows the section-wide key loaded it.
    After a switch back, the section-wide key keeps the incidents of every
    service key but no cursor: it covers services those keys never read.
    """
    if settings.source == section:
        # An incident moved between two listed services was loaded by both keys.
        prefix = f"{section}:"
        return {
            table: (
                "starts_with(_source, ?) and "
                + landing.latest_copy_condition(table, INCIDENTS_TABLE, "incident_id"),
                [prefix, prefix],
            )
            for table in (INCIDENTS_TABLE, LOG_ENTRIES_TABLE)
        }
    [service_id] = settings.service_ids
    of_service = "_source = ? and service_id = ?"
    loaded = f"exists (select 1 from seed.{INCIDENTS_TABLE} where {of_service})"
    incident_ids = f"select incident_id from seed.{INCIDENTS_TABLE} where {of_service}"
    return {
        INCIDENTS_TABLE: (of_service, [section, service_id]),
        LOG_ENTRIES_TABLE: (
            f"_source = ? and incident_id in ({incident_ids})",
            [section, section, service_id],
        ),
        "pipeline_cursors": (
            f"_source = ? and entity = ? and {loaded}",
            [section, CURSOR_ENTITY, section, service_id],
        ),
    }


# One incident -------------------------------------------------------------------------------


@dataclass
class Resolution:
    """What the incident object and its log entries say about its state."""

    resolved_at: datetime | None = None
    resolved_from: str | None = None
    reopen_count: int = 0
    acknowledged_at: datetime | None = None
    first_trigger_at: datetime | None = None
    last_entry_at: datetime | None = None


def _entry_time(entry: Mapping[str, Any], incident_id: str) -> datetime | None:
    return parse_time_field(
        entry, "created_at", f"incident {incident_id} log entry {entry.get('id')}"
    )


def resolve_incident(
    incident: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
) -> Resolution:
    """Work out restore, acknowledge and reopen times of one incident.

    Raises TimestampError for a time without an offset.
    """
    incident_id = str(incident.get("id"))
    where = f"incident {incident_id}"
    result = Resolution()
    changes: list[tuple[datetime, int, str]] = []
    for entry in entries:
        moment = _entry_time(entry, incident_id)
        if moment is None:
            continue
        result.last_entry_at = max(filter(None, (result.last_entry_at, moment)))
        kind = str(entry.get("type") or "")
        if kind in STATE_RANK:
            changes.append((moment, STATE_RANK[kind], kind))
    changes.sort()

    last_resolve: datetime | None = None
    reopened_after_resolve = False
    for moment, _, kind in changes:
        if kind == "trigger_log_entry" and result.first_trigger_at is None:
            result.first_trigger_at = moment
        if kind == "acknowledge_log_entry" and result.acknowledged_at is None:
            result.acknowledged_at = moment
        if kind == "resolve_log_entry":
            last_resolve = moment
            reopened_after_resolve = False
        elif last_resolve is not None and not reopened_after_resolve:
            result.reopen_count += 1
            reopened_after_resolve = True

    acknowledgements = [
        parse_time_field(item, "at", f"{where}.acknowledgements")
        for item in incident.get("acknowledgements") or []
        if isinstance(item, Mapping)
    ]
    known_acks = [moment for moment in (*acknowledgements, result.acknowledged_at) if moment]
    result.acknowledged_at = min(known_acks) if known_acks else None

    if incident.get("status") != "resolved" or reopened_after_resolve:
        return result
    api_resolved = parse_time_field(incident, "resolved_at", where)
    status_change = parse_time_field(incident, "last_status_change_at", where)
    if api_resolved is not None:
        result.resolved_at, result.resolved_from = api_resolved, "resolved_at"
    elif last_resolve is not None:
        result.resolved_at, result.resolved_from = last_resolve, "resolve_log_entry"
    elif status_change is not None:
        result.resolved_at, result.resolved_from = status_change, "last_status_change_at"
    return result


def _priority(incident: Mapping[str, Any]) -> str | None:
    priority = incident.get("priority")
    if isinstance(priority, Mapping):
        return priority.get("summary") or priority.get("name")
    return None


def _merged_into(incident: Mapping[str, Any]) -> str | None:
    reason = incident.get("resolve_reason")
    if isinstance(reason, Mapping) and reason.get("type") == "merge_resolve_reason":
        target = reason.get("incident")
        if isinstance(target, Mapping) and target.get("id"):
            return str(target["id"])
    return None


def incident_row(
    incident: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
    settings: PagerDutySettings,
) -> dict[str, Any]:
    """Return the raw row of one incident. Raises TimestampError or ValueError for bad input."""
    incident_id = incident.get("id")
    if not incident_id:
        raise ValueError("incident has no 'id'; PagerDuty always sends one, check the base URL")
    where = f"incident {incident_id}"
    created_at = parse_time_field(incident, "created_at", where)
    if created_at is None:
        raise ValueError(f"{where} has no created_at; its alert time is unknown")
    resolution = resolve_incident(incident, entries)
    status_change = parse_time_field(incident, "last_status_change_at", where)
    updated_at = max(
        moment
        for moment in (created_at, status_change, resolution.last_entry_at, resolution.resolved_at)
        if moment is not None
    )

    service = incident.get("service") if isinstance(incident.get("service"), Mapping) else {}
    service_id, service_name = service.get("id"), service.get("summary")
    mapped = settings.services.resolve(service_name, service_id)
    teams = [
        team.get("summary") for team in incident.get("teams") or [] if isinstance(team, Mapping)
    ]
    is_production, reason = settings.production.evaluate(
        [key for key in (mapped, service_id, service_name) if key],
        urgency=incident.get("urgency"),
        priority=_priority(incident),
        labels=[team for team in teams if team],
    )
    merged_into = _merged_into(incident)
    resolution_reason = None
    if merged_into:
        resolution_reason = "merged"
    elif resolution.resolved_at:
        resolution_reason = "resolved"
    alert_at = min(moment for moment in (created_at, resolution.first_trigger_at) if moment)
    number = incident.get("incident_number")
    if isinstance(number, int) and not -(2**31) <= number < 2**31:
        raise ValueError(
            f"{where}: incident_number {number} is outside the 32-bit range the warehouse "
            "stores; check the value PagerDuty sent"
        )
    return {
        "_source": settings.source,
        "_record_key": str(incident_id),
        "_payload": dict(incident),
        "incident_id": str(incident_id),
        "service": mapped,
        "alert_at": alert_at,
        "resolved_at": resolution.resolved_at,
        "updated_at": updated_at,
        "caused_by_deployment_id": None,
        "root_cause_sha": None,
        "merged_into": merged_into,
        "resolution_reason": resolution_reason,
        "is_production": is_production,
        "record_index": number if isinstance(number, int) else None,
        "title": incident.get("title"),
        "status": incident.get("status"),
        "created_at": created_at,
        "source_services": json.dumps([key for key in (service_id,) if key]),
        "production_reason": reason,
        "resolved_from": resolution.resolved_from,
        "incident_number": number if isinstance(number, int) else None,
        "urgency": incident.get("urgency"),
        "priority": _priority(incident),
        "service_id": service_id,
        "service_name": service_name,
        "acknowledged_at": resolution.acknowledged_at,
        "last_status_change_at": status_change,
        "reopen_count": resolution.reopen_count,
    }


def log_entry_rows(
    incident_id: str, entries: Sequence[Mapping[str, Any]], source: str
) -> list[dict[str, Any]]:
    """Return the raw rows of one incident's log entries (entries without an id are skipped)."""
    rows = []
    for index, entry in enumerate(entries):
        if not entry.get("id"):
            continue
        channel = entry.get("channel") if isinstance(entry.get("channel"), Mapping) else {}
        agent = entry.get("agent") if isinstance(entry.get("agent"), Mapping) else {}
        rows.append(
            {
                "_source": source,
                "_record_key": str(entry["id"]),
                "_payload": dict(entry),
                "log_entry_id": str(entry["id"]),
                "incident_id": incident_id,
                "entry_type": entry.get("type"),
                "created_at": _entry_time(entry, incident_id),
                "channel_type": channel.get("type"),
                "agent_type": agent.get("type"),
                "record_index": index,
            }
        )
    return rows


# A load -------------------------------------------------------------------------------------


def _stored_open_incidents(con: duckdb.DuckDBPyConnection, source: str) -> list[str]:
    rows = con.execute(
        f"select incident_id from {INCIDENTS_TABLE} "
        "where _source = ? and resolved_at is null and incident_id is not null "
        "order by incident_id",
        [source],
    ).fetchall()
    return [row[0] for row in rows]


def _clear_quarantine(con: duckdb.DuckDBPyConnection, source: str, locations: list[str]) -> None:
    if locations:
        con.execute(
            "delete from quarantine where _source = ? and entity = ? and list_contains(?, location)",
            [source, QUARANTINE_ENTITY, locations],
        )


def load(
    con: duckdb.DuckDBPyConnection,
    client: PagerDutyClient,
    settings: PagerDutySettings,
    now: datetime,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> LoadSummary:
    """Load the incidents created since the stored cursor, and refresh the open ones.

    Incidents stored as open and created before the window are fetched again
    one by one, so a long incident is resolved in the warehouse when it ends.
    """
    logger = logger or log
    warehouse.ensure_raw_tables(con, RAW_TABLES)
    cursor = warehouse.read_cursor(con, settings.source, CURSOR_ENTITY)
    start, end = load_window(
        cursor, now, settings.since, settings.initial_days, settings.refresh_days
    )
    summary = LoadSummary(settings.source, start, end)
    logger.info(
        "PagerDuty: reading incidents created from %s to %s (services: %s)",
        format_timestamp(start),
        format_timestamp(end),
        ", ".join(settings.service_ids) or "all",
    )
    incidents = list(client.list_incidents(start, end, settings.service_ids))
    listed = {str(incident.get("id")) for incident in incidents}
    for incident_id in _stored_open_incidents(con, settings.source):
        if incident_id in listed:
            continue
        refreshed = client.get_incident(incident_id)
        if refreshed is None:
            logger.warning(
                "PagerDuty: open incident %s is no longer found (404); kept as stored", incident_id
            )
            continue
        incidents.append(refreshed)
        summary.refreshed_open += 1

    rows, entry_rows, rejected = [], [], []
    for incident in incidents:
        incident_id = str(incident.get("id") or "")
        location = (
            client.incident_url(incident_id) if incident_id else f"{client.base_url}/incidents"
        )
        try:
            entries = (
                client.list_log_entries(incident_id)
                if incident_id and settings.fetch_log_entries
                else []
            )
            row = incident_row(incident, entries, settings)
            entry_rows.extend(log_entry_rows(incident_id, entries, settings.source))
        except (TimestampError, ValueError, TypeError, KeyError, AttributeError) as error:
            # TypeError, KeyError, AttributeError: a field of an unexpected JSON type.
            rejected.append(
                {
                    "location": location,
                    "raw_content": json.dumps(incident)[:100_000],
                    "reason": str(error),
                }
            )
            logger.warning("PagerDuty: quarantined incident at %s: %s", location, error)
            continue
        rows.append(row)

    warehouse.upsert_rows(con, INCIDENTS_TABLE, rows, INCIDENT_COLUMNS)
    warehouse.upsert_rows(con, LOG_ENTRIES_TABLE, entry_rows, LOG_ENTRY_COLUMNS)
    _clear_quarantine(
        con,
        settings.source,
        [client.incident_url(i) for i in listed | {r["incident_id"] for r in rows}],
    )
    warehouse.quarantine_rows(con, settings.source, QUARANTINE_ENTITY, rejected, replace=False)
    warehouse.write_cursor(con, settings.source, CURSOR_ENTITY, format_timestamp(end))

    summary.incidents = len(rows)
    summary.production_incidents = sum(1 for row in rows if row["is_production"])
    summary.open_incidents = sum(1 for row in rows if row["resolved_at"] is None)
    summary.quarantined = len(rejected)
    summary.extra["log_entries_loaded"] = len(entry_rows)
    return summary
