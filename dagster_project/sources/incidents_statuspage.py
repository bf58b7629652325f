"""Statuspage incident history to raw rows.

An incident's alert time is the earlier of ``created_at`` and ``started_at``
(Statuspage lets the author set the impact start before the post). A
``resolved`` or ``postmortem`` incident is restored at its ``resolved_at``,
else at its last ``resolved`` update. Components map to services through the
configuration. An incident with several components gets the first component
that is a production service, or the first mapped one when no service rule is set.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from dagster_project import warehouse
from dagster_project.clients import statuspage
from dagster_project.sources.incidents_common import (
    INCIDENT_EXTRA_COLUMNS,
    LoadSummary,
    ProductionRule,
    ServiceMap,
    check_known_keys,
    parse_production,
    parse_time_field,
    raise_if_errors,
    string_map,
)
from dagster_project.timeparse import TimestampError

log = logging.getLogger(__name__)

SOURCE = "statuspage"
TABLE = "raw_statuspage__incidents"
QUARANTINE_ENTITY = "statuspage_incidents"
RESOLVED_STATUSES = {"resolved", "postmortem"}

COLUMNS: dict[str, str] = {
    **warehouse.INCIDENT_COLUMNS,
    **INCIDENT_EXTRA_COLUMNS,
    "impact": "varchar",
    "components": "varchar",
    "started_at": "timestamptz",
    "monitoring_at": "timestamptz",
    "page_id": "varchar",
    "shortlink": "varchar",
}

RAW_TABLES: dict[str, dict[str, str]] = {TABLE: COLUMNS}


@dataclass(frozen=True)
class StatuspageSettings:
    """The ``sources.statuspage`` section of the configuration file."""

    location: str
    source: str = SOURCE
    components: ServiceMap = field(default_factory=ServiceMap)
    production: ProductionRule = field(default_factory=ProductionRule)


SETTING_KEYS = {"location", "source_name", "components", "default_service", "production", "enabled"}


def parse_settings(section: Any, base: Path | None = None) -> StatuspageSettings | None:
    """Return the settings of a ``sources.statuspage`` section; None when absent or disabled.

    A relative file ``location`` is resolved against ``base`` (the folder of
    the configuration file).
    """
    if section is None or section is False:
        return None
    where = "sources.statuspage"
    if not isinstance(section, dict):
        raise_if_errors([f"{where}: invalid value {section!r}; expected a mapping"])
    if section.get("enabled", True) is False:
        return None
    errors: list[str] = []
    check_known_keys(section, SETTING_KEYS, where, errors)
    location = str(section.get("location") or "").strip()
    if not location:
        errors.append(
            f"{where}.location: missing; give a .jsonl/.json file or an incidents.json URL"
        )
    elif not statuspage.is_url(location):
        path = Path(location).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        location = str(path.resolve())
    settings = StatuspageSettings(
        location=location,
        source=str(section.get("source_name") or SOURCE),
        components=ServiceMap(
            string_map(section, "components", where, errors), section.get("default_service")
        ),
        production=parse_production(section, where, errors),
    )
    raise_if_errors(errors)
    return settings


# One incident -------------------------------------------------------------------------------


def _components(incident: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = incident.get("components")
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


def _mapped(component: Mapping[str, Any], settings: StatuspageSettings) -> str | None:
    mapping = settings.components.mapping
    return mapping.get(str(component.get("name"))) or mapping.get(str(component.get("id")))


def choose_service(
    components: Iterable[Mapping[str, Any]], settings: StatuspageSettings
) -> str | None:
    """Return the incident's service.

    That is the first component that is a production service, else the first
    mapped component, else the first component's own name, else the default service.
    """
    components = list(components)
    mapped = [(_mapped(item, settings), item) for item in components]
    rule = settings.production
    if rule.services:
        for service, item in mapped:
            keys = [key for key in (service, item.get("name"), item.get("id")) if key]
            if service and rule.evaluate(keys)[0]:
                return service
    for service, _ in mapped:
        if service:
            return service
    for item in components:
        if item.get("name"):
            return str(item["name"])
    return settings.components.default_service


def incident_row(
    incident: Mapping[str, Any], settings: StatuspageSettings, index: int
) -> dict[str, Any]:
    """Return the raw row of one Statuspage incident. Raises TimestampError or ValueError."""
    incident_id = incident.get("id")
    if not incident_id:
        raise ValueError("incident has no 'id'; every Statuspage incident has one")
    where = f"incident {incident_id}"
    created_at = parse_time_field(incident, "created_at", where)
    if created_at is None:
        raise ValueError(f"{where} has no created_at; its alert time is unknown")
    started_at = parse_time_field(incident, "started_at", where)
    updated_at = parse_time_field(incident, "updated_at", where)
    status = str(incident.get("status") or "").lower()

    resolved_at, resolved_from = None, None
    if status in RESOLVED_STATUSES:
        resolved_at = parse_time_field(incident, "resolved_at", where)
        resolved_from = "resolved_at" if resolved_at else None
        if resolved_at is None:
            updates = [
                parse_time_field(update, "created_at", f"{where} update {update.get('id')}")
                for update in incident.get("incident_updates") or []
                if isinstance(update, Mapping) and update.get("status") == "resolved"
            ]
            known = [moment for moment in updates if moment]
            if known:
                resolved_at, resolved_from = max(known), "incident_update"

    components = _components(incident)
    service = choose_service(components, settings)
    names = [str(item.get("name")) for item in components if item.get("name")]
    ids = [str(item.get("id")) for item in components if item.get("id")]
    mapped = [_mapped(item, settings) for item in components]
    impact = incident.get("impact")
    is_production, reason = settings.production.evaluate(
        [key for key in (service, *mapped, *names, *ids) if key],
        impact=str(impact) if impact else None,
        labels=names,
    )
    if service is None and is_production:
        is_production, reason = (
            False,
            "the incident names no component and no default_service is set",
        )
    return {
        "_source": settings.source,
        "_record_key": str(incident_id),
        "_payload": dict(incident),
        "incident_id": str(incident_id),
        "service": service,
        "alert_at": min(moment for moment in (created_at, started_at) if moment),
        "resolved_at": resolved_at,
        "updated_at": max(moment for moment in (created_at, updated_at, resolved_at) if moment),
        "caused_by_deployment_id": None,
        "root_cause_sha": None,
        "merged_into": None,
        "resolution_reason": "resolved" if resolved_at else None,
        "is_production": is_production,
        "record_index": index,
        "title": incident.get("name"),
        "status": incident.get("status"),
        "created_at": created_at,
        "source_services": json.dumps(ids),
        "production_reason": reason,
        "resolved_from": resolved_from,
        "impact": impact,
        "components": json.dumps(names),
        "started_at": started_at,
        "monitoring_at": parse_time_field(incident, "monitoring_at", where),
        "page_id": incident.get("page_id"),
        "shortlink": incident.get("shortlink"),
    }


# A load -------------------------------------------------------------------------------------


def load(
    con: duckdb.DuckDBPyConnection,
    settings: StatuspageSettings,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
    **read_options: Any,
) -> LoadSummary:
    """Read the whole history and upsert it; incidents no longer listed are kept.

    A URL lists only recent incidents, so rows are never deleted here: the
    history grows run by run, and a re-read incident replaces its stored row.
    """
    logger = logger or log
    warehouse.ensure_raw_tables(con, RAW_TABLES)
    logger.info("Statuspage: reading incidents from %s", settings.location)
    rows, rejected, locations = [], [], []
    for record in statuspage.read_incidents(settings.location, **read_options):
        locations.append(record.location)
        problem = record.error
        if record.data is not None and problem is None:
            try:
                rows.append(incident_row(record.data, settings, record.index))
                continue
            except (TimestampError, ValueError) as error:
                problem = str(error)
        rejected.append(
            {"location": record.location, "raw_content": record.raw_text, "reason": problem}
        )
        logger.warning("Statuspage: quarantined %s: %s", record.location, problem)

    warehouse.upsert_rows(con, TABLE, rows, COLUMNS)
    if statuspage.is_url(settings.location):
        # A URL lists only recent incidents: rejections of incidents it no longer
        # lists stay, and only the ones read again are replaced.
        con.execute(
            "delete from quarantine where _source = ? and entity = ? and list_contains(?, location)",
            [settings.source, QUARANTINE_ENTITY, locations],
        )
        warehouse.quarantine_rows(con, settings.source, QUARANTINE_ENTITY, rejected, replace=False)
    else:
        # A file holds the whole history, so its earlier rejections are replaced.
        warehouse.quarantine_rows(con, settings.source, QUARANTINE_ENTITY, rejected, replace=True)
    summary = LoadSummary(settings.source)
    summary.incidents = len(rows)
    summary.production_incidents = sum(1 for row in rows if row["is_production"])
    summary.open_incidents = sum(1 for row in rows if row["resolved_at"] is None)
    summary.quarantined = len(rejected)
    return summary
