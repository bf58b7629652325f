"""Opsgenie incidents (and optionally alerts) to raw rows.

An incident's alert time is its ``impactStartDate`` when given, else its
``createdAt``. A ``resolved`` or ``closed`` incident is restored at its
``impactEndDate`` when given, else at its ``updatedAt`` (the list API carries
no resolve time of its own). An ``open`` incident stays open even when its
impact dates are set. Alerts are restored at ``createdAt`` plus ``report.closeTime``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import duckdb

from dagster_project import landing, warehouse
from dagster_project.clients.opsgenie import OpsgenieClient, host_for_region
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

SOURCE = "opsgenie"
TABLE = "raw_opsgenie__incidents"
QUARANTINE_ENTITY = "opsgenie_incidents"
DEFAULT_TOKEN_ENV = "OPSGENIE_API_KEY"
RESOLVED_STATUSES = {"resolved", "closed"}
# Suffix of the partition key that loads the alerts when incidents are split by service.
ALERTS_PARTITION = "alerts"

COLUMNS: dict[str, str] = {
    **warehouse.INCIDENT_COLUMNS,
    **INCIDENT_EXTRA_COLUMNS,
    "record_kind": "varchar",
    "tiny_id": "varchar",
    "priority": "varchar",
    "tags": "varchar",
    "impact_start_at": "timestamptz",
    "impact_end_at": "timestamptz",
}

RAW_TABLES: dict[str, dict[str, str]] = {TABLE: COLUMNS}


@dataclass(frozen=True)
class OpsgenieSettings:
    """The ``sources.opsgenie`` section of the configuration file, or one partition of it."""

    # The ``_source`` of the rows: the section's source_name, or
    # ``<source_name>:<service id>`` and ``<source_name>:alerts`` in per-service partitions.
    source: str = SOURCE
    region: str = "us"
    base_url: str | None = None
    token_env: str = DEFAULT_TOKEN_ENV
    service_ids: tuple[str, ...] = ()
    services: ServiceMap = field(default_factory=ServiceMap)
    production: ProductionRule = field(default_factory=ProductionRule)
    include_alerts: bool = False
    # False only in the alerts partition of a section split by service.
    include_incidents: bool = True
    alert_query: str | None = None
    since: datetime | None = None
    initial_days: float = 90.0
    refresh_days: float = 7.0


SETTING_KEYS = {
    "source_name", "region", "base_url", "token_env", "service_ids", "services",
    "default_service", "production", "include_alerts", "alert_query", "since",
    "initial_days", "refresh_days", "enabled",
}  # fmt: skip


def parse_settings(section: Any) -> OpsgenieSettings | None:
    """Return the settings of a ``sources.opsgenie`` section; None when it is absent or disabled."""
    if section is None or section is False:
        return None
    where = "sources.opsgenie"
    if not isinstance(section, dict):
        raise_if_errors([f"{where}: invalid value {section!r}; expected a mapping"])
    if section.get("enabled", True) is False:
        return None
    errors: list[str] = []
    check_known_keys(section, SETTING_KEYS, where, errors)
    region = str(section.get("region") or "us").strip().lower()
    try:
        host_for_region(region)
    except ValueError as error:
        errors.append(f"{where}.region: {error}")
    settings = OpsgenieSettings(
        source=parse_source_name(section, SOURCE, where, errors),
        region=region,
        base_url=section.get("base_url") or None,
        token_env=str(section.get("token_env") or DEFAULT_TOKEN_ENV),
        service_ids=string_list(section, "service_ids", where, errors),
        services=ServiceMap(
            string_map(section, "services", where, errors), section.get("default_service")
        ),
        production=parse_production(section, where, errors),
        include_alerts=bool(section.get("include_alerts", False)),
        alert_query=section.get("alert_query") or None,
        since=optional_time(section, "since", where, errors),
        initial_days=positive_number(section, "initial_days", 90.0, where, errors),
        refresh_days=positive_number(section, "refresh_days", 7.0, where, errors),
    )
    if settings.include_alerts and ALERTS_PARTITION in settings.service_ids:
        errors.append(
            f"{where}.service_ids: invalid value {ALERTS_PARTITION!r}; it is the partition "
            "of the alerts when include_alerts is true, so list the service's id instead"
        )
    raise_if_errors(errors)
    return settings


def settings_by_partition(settings: OpsgenieSettings) -> dict[str, OpsgenieSettings]:
    """Split the section into partitions: one per listed service, plus one for the alerts.

    The keys are the partitions' ``_source`` values. An incident that impacts
    two listed services is loaded by both partitions, and the dbt staging
    model keeps one row of it. The alerts have no service filter of their
    own (``alert_query`` selects them), so they are one partition. With
    ``service_ids`` empty the section stays one partition of incidents and alerts.
    """
    if not settings.service_ids:
        return {settings.source: settings}
    split = {}
    for service_id in settings.service_ids:
        key = partition_key(settings.source, service_id)
        split[key] = replace(settings, source=key, service_ids=(service_id,), include_alerts=False)
    if settings.include_alerts:
        key = partition_key(settings.source, ALERTS_PARTITION)
        split[key] = replace(settings, source=key, service_ids=(), include_incidents=False)
    return split


def seed_conditions(settings: OpsgenieSettings, section: str) -> dict[str, tuple[str, list[Any]]]:
    """Select the warehouse rows a new partition starts with, from the section's earlier keys.

    After a switch from one partition per section to one per service, each
    partition keeps the history and the cursor of the section-wide key, whose
    rows the merge deletes. A cursor is copied only when the section contains a
    row the partition would load, which shows the section-wide key loaded them.
    After a switch back, the section-wide key keeps the rows of every earlier
    key that it loads itself (incidents, alerts or both) but no cursor: it
    covers services those keys never read.
    """
    if settings.source == section:
        return {TABLE: _section_seed(settings, section)}
    if settings.include_incidents:
        [service_id] = settings.service_ids
        rows = (
            "_source = ? and record_kind = 'incident' "
            "and list_contains(json_extract_string(source_services, '$[*]'), ?)"
        )
        parameters: list[Any] = [section, service_id]
        entity = "incidents"
    else:
        rows, parameters, entity = "_source = ? and record_kind = 'alert'", [section], "alerts"
    loaded = f"exists (select 1 from seed.{TABLE} where {rows})"
    return {
        TABLE: (rows, parameters),
        "pipeline_cursors": (
            f"_source = ? and entity = ? and {loaded}",
            [section, entity, *parameters],
        ),
    }


def _section_seed(settings: OpsgenieSettings, section: str) -> tuple[str, list[Any]]:
    """Select one row per item of the section's service and alert keys, the latest copy.

    An incident that impacts two listed services was loaded by both keys.
    """
    latest = landing.latest_copy_condition(TABLE, TABLE, "_record_key")
    condition = f"starts_with(_source, ?) and list_contains(?, record_kind) and {latest}"
    return condition, [f"{section}:", _kinds(settings), f"{section}:"]


def _kinds(settings: OpsgenieSettings) -> list[str]:
    """Return the record kinds a partition loads: ``incident``, ``alert`` or both."""
    return [
        kind
        for kind, included in (
            ("incident", settings.include_incidents),
            ("alert", settings.include_alerts),
        )
        if included
    ]


# One item -----------------------------------------------------------------------------------


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def incident_row(item: Mapping[str, Any], settings: OpsgenieSettings) -> dict[str, Any]:
    """Return the raw row of one Opsgenie incident. Raises TimestampError or ValueError."""
    incident_id = item.get("id")
    if not incident_id:
        raise ValueError("incident has no 'id'; check the region or base URL")
    where = f"incident {incident_id}"
    created_at = parse_time_field(item, "createdAt", where)
    if created_at is None:
        raise ValueError(f"{where} has no createdAt; its alert time is unknown")
    impact_start = parse_time_field(item, "impactStartDate", where)
    impact_end = parse_time_field(item, "impactEndDate", where)
    updated = parse_time_field(item, "updatedAt", where)
    status = str(item.get("status") or "").lower()

    resolved_at, resolved_from = None, None
    if status in RESOLVED_STATUSES:
        if impact_end is not None:
            resolved_at, resolved_from = impact_end, "impactEndDate"
        else:
            # NOTE: updatedAt moves with any later edit (a note, a tag), so this
            # restore time can be late; impactEndDate is exact when Opsgenie sets it.
            resolved_at, resolved_from = updated or created_at, "updatedAt"

    impacted = _strings(item.get("impactedServices"))
    tags = _strings(item.get("tags"))
    service = settings.services.resolve(*impacted)
    is_production, reason = settings.production.evaluate(
        [key for key in (service, *impacted) if key],
        priority=item.get("priority"),
        labels=tags,
    )
    if service is None and is_production:
        is_production = False
        reason = "the incident has no impacted service and no default_service is set"
    return _row(
        item, "incident", settings, service, is_production, reason,
        alert_at=impact_start or created_at, resolved_at=resolved_at,
        resolved_from=resolved_from, created_at=created_at,
        updated_at=max(moment for moment in (created_at, updated, impact_end) if moment),
        services=impacted, tags=tags, impact_start=impact_start, impact_end=impact_end,
    )  # fmt: skip


def alert_row(item: Mapping[str, Any], settings: OpsgenieSettings) -> dict[str, Any]:
    """Return the raw row of one Opsgenie alert. Raises TimestampError or ValueError."""
    alert_id = item.get("id")
    if not alert_id:
        raise ValueError("alert has no 'id'; check the region or base URL")
    where = f"alert {alert_id}"
    created_at = parse_time_field(item, "createdAt", where)
    if created_at is None:
        raise ValueError(f"{where} has no createdAt; its alert time is unknown")
    updated = parse_time_field(item, "updatedAt", where)
    status = str(item.get("status") or "").lower()
    report = item.get("report") if isinstance(item.get("report"), Mapping) else {}
    close_ms = report.get("closeTime")

    resolved_at, resolved_from = None, None
    if status == "closed":
        if isinstance(close_ms, int | float) and not isinstance(close_ms, bool):
            resolved_at = created_at + timedelta(milliseconds=close_ms)
            resolved_from = "report.closeTime"
        else:
            resolved_at, resolved_from = updated or created_at, "updatedAt"

    tags = _strings(item.get("tags"))
    keys = [*tags, item.get("entity"), item.get("source")]
    service = settings.services.lookup(*keys)
    if service is None:
        is_production = False
        reason = "no configured service matches the alert's tags, entity or source"
    else:
        is_production, reason = settings.production.evaluate(
            [service], priority=item.get("priority"), labels=tags
        )
    return _row(
        item, "alert", settings, service, is_production, reason,
        alert_at=created_at, resolved_at=resolved_at, resolved_from=resolved_from,
        created_at=created_at,
        updated_at=max(moment for moment in (created_at, updated, resolved_at) if moment),
        services=[], tags=tags, impact_start=None, impact_end=None,
    )  # fmt: skip


def _row(
    item: Mapping[str, Any],
    kind: str,
    settings: OpsgenieSettings,
    service: str | None,
    is_production: bool,
    reason: str,
    **values: Any,
) -> dict[str, Any]:
    tiny_id = item.get("tinyId")
    return {
        "_source": settings.source,
        "_record_key": f"{kind}:{item['id']}",
        "_payload": dict(item),
        "incident_id": str(item["id"]),
        "service": service,
        "alert_at": values["alert_at"],
        "resolved_at": values["resolved_at"],
        "updated_at": values["updated_at"],
        "caused_by_deployment_id": None,
        "root_cause_sha": None,
        "merged_into": None,
        "resolution_reason": "resolved" if values["resolved_at"] else None,
        "is_production": is_production,
        "record_index": int(tiny_id) if str(tiny_id or "").isdigit() else None,
        "title": item.get("message"),
        "status": item.get("status"),
        "created_at": values["created_at"],
        "source_services": json.dumps(values["services"]),
        "production_reason": reason,
        "resolved_from": values["resolved_from"],
        "record_kind": kind,
        "tiny_id": None if tiny_id is None else str(tiny_id),
        "priority": item.get("priority"),
        "tags": json.dumps(values["tags"]),
        "impact_start_at": values["impact_start"],
        "impact_end_at": values["impact_end"],
    }


ROW_BUILDERS = {"incident": incident_row, "alert": alert_row}


# A load -------------------------------------------------------------------------------------


def _fetch(
    con: duckdb.DuckDBPyConnection,
    client: OpsgenieClient,
    settings: OpsgenieSettings,
    kind: str,
    start: datetime,
) -> tuple[list[dict[str, Any]], int]:
    """Return the items of one kind created since ``start``, plus stored open ones fetched again."""
    items: dict[str, dict[str, Any]] = {}
    if kind == "incident":
        queries = [f"impactedServices:{service_id}" for service_id in settings.service_ids] or [
            None
        ]
    else:
        queries = [settings.alert_query]
    for query in queries:
        for item in client.list_items(kind, query, created_since=start):
            items.setdefault(str(item.get("id")), item)
    stored_open = con.execute(
        f"select incident_id from {TABLE} where _source = ? and record_kind = ? "
        "and resolved_at is null order by incident_id",
        [settings.source, kind],
    ).fetchall()
    refreshed = 0
    for (item_id,) in stored_open:
        if item_id in items:
            continue
        item = client.get_item(kind, item_id)
        if item is not None:
            items[item_id] = item
            refreshed += 1
    return list(items.values()), refreshed


def load(
    con: duckdb.DuckDBPyConnection,
    client: OpsgenieClient,
    settings: OpsgenieSettings,
    now: datetime,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> LoadSummary:
    """Load the incidents and alerts of this partition created since the stored cursor.

    Items stored as open and created before the window are fetched again by id.
    """
    logger = logger or log
    warehouse.ensure_raw_tables(con, RAW_TABLES)
    kinds = _kinds(settings)
    summary = LoadSummary(settings.source, window_end=now)
    rows, rejected, locations = [], [], []
    for kind in kinds:
        cursor = warehouse.read_cursor(con, settings.source, f"{kind}s")
        start, _ = load_window(
            cursor, now, settings.since, settings.initial_days, settings.refresh_days
        )
        summary.window_start = min(filter(None, (summary.window_start, start)))
        logger.info("Opsgenie: reading %ss created from %s", kind, format_timestamp(start))
        items, refreshed = _fetch(con, client, settings, kind, start)
        summary.refreshed_open += refreshed
        for item in items:
            location = client.item_url(kind, str(item.get("id") or ""))
            locations.append(location)
            try:
                rows.append(ROW_BUILDERS[kind](item, settings))
            except (TimestampError, ValueError) as error:
                rejected.append(
                    {
                        "location": location,
                        "raw_content": json.dumps(item)[:100_000],
                        "reason": str(error),
                    }
                )
                logger.warning("Opsgenie: quarantined %s at %s: %s", kind, location, error)
        summary.extra[f"{kind}s_loaded"] = sum(1 for row in rows if row["record_kind"] == kind)

    warehouse.upsert_rows(con, TABLE, rows, COLUMNS)
    if locations:
        con.execute(
            "delete from quarantine where _source = ? and entity = ? and list_contains(?, location)",
            [settings.source, QUARANTINE_ENTITY, locations],
        )
    warehouse.quarantine_rows(con, settings.source, QUARANTINE_ENTITY, rejected, replace=False)
    for kind in kinds:
        warehouse.write_cursor(con, settings.source, f"{kind}s", format_timestamp(now))

    summary.incidents = len(rows)
    summary.production_incidents = sum(1 for row in rows if row["is_production"])
    summary.open_incidents = sum(1 for row in rows if row["resolved_at"] is None)
    summary.quarantined = len(rejected)
    return summary
