"""Pieces shared by the incident sources (PagerDuty, Opsgenie, Statuspage).

Each source maps its own service names to the pipeline's services and decides
whether an incident concerns production. Non-production incidents are stored
with ``is_production = false`` and a reason; they are never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dagster_project.config import ConfigError
from dagster_project.timeparse import TimestampError, parse_timestamp

# Source-specific columns added to every incident raw table, after INCIDENT_COLUMNS.
INCIDENT_EXTRA_COLUMNS: dict[str, str] = {
    "title": "varchar",
    "status": "varchar",
    "created_at": "timestamptz",
    "source_services": "varchar",
    "production_reason": "varchar",
    "resolved_from": "varchar",
}


# Separates a section's source_name from the service of one partition in a
# partition key, which is also the ``_source`` of the partition's rows, such as
# ``pagerduty:PIKL83L``. The dbt staging models read the section back as the
# text before the first separator.
PARTITION_SEPARATOR = ":"


def partition_key(source_name: str, part: str) -> str:
    """Return the partition key (and ``_source``) of one part of a section, such as a service."""
    return f"{source_name}{PARTITION_SEPARATOR}{part}"


@dataclass(frozen=True)
class ProductionRule:
    """Rule that decides which incidents concern production; every configured criterion must match.

    An empty criterion matches everything, so with no rule every incident is a
    production incident. ``services`` matches the mapped service name or the
    source's own service id or name; the other lists compare case-insensitively.
    """

    services: tuple[str, ...] = ()
    urgencies: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    impacts: tuple[str, ...] = ()

    def evaluate(
        self,
        service_keys: Iterable[str],
        *,
        urgency: str | None = None,
        priority: str | None = None,
        labels: Iterable[str] = (),
        impact: str | None = None,
    ) -> tuple[bool, str]:
        """Return whether the incident is a production incident, and why."""
        checks = (
            ("service", self.services, list(service_keys), False),
            ("urgency", self.urgencies, [urgency] if urgency else [], True),
            ("priority", self.priorities, [priority] if priority else [], True),
            ("label", self.labels, list(labels), True),
            ("impact", self.impacts, [impact] if impact else [], True),
        )
        for name, allowed, values, fold in checks:
            if not allowed:
                continue
            expected = {value.casefold() for value in allowed} if fold else set(allowed)
            found = [value for value in values if (value.casefold() if fold else value) in expected]
            if not found:
                listed = ", ".join(repr(value) for value in values) or "none"
                return False, f"{name} {listed} is not in the production {name}s {list(allowed)}"
        return True, "matches the production rule" if self.is_set() else "no production rule"

    def is_set(self) -> bool:
        return any((self.services, self.urgencies, self.priorities, self.labels, self.impacts))


@dataclass(frozen=True)
class ServiceMap:
    """Source service ids or names mapped to pipeline service names.

    A source service with no entry keeps its own name (or its id when it has
    no name), so nothing is dropped for want of a mapping.
    """

    mapping: Mapping[str, str] = field(default_factory=dict)
    default_service: str | None = None

    def lookup(self, *keys: str | None) -> str | None:
        """Return the mapped service of the first key with an entry, else the default service."""
        for key in keys:
            if key and key in self.mapping:
                return self.mapping[key]
        return self.default_service

    def resolve(self, *keys: str | None) -> str | None:
        """Return the mapped service of the first key with an entry, else the first key."""
        present = [key for key in keys if key]
        for key in present:
            if key in self.mapping:
                return self.mapping[key]
        return present[0] if present else self.default_service


@dataclass
class LoadSummary:
    """Counts of one load, reported as asset metadata."""

    source: str
    window_start: datetime | None = None
    window_end: datetime | None = None
    incidents: int = 0
    production_incidents: int = 0
    open_incidents: int = 0
    refreshed_open: int = 0
    quarantined: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "source": self.source,
            "incidents_loaded": self.incidents,
            "production_incidents": self.production_incidents,
            "open_incidents": self.open_incidents,
            "open_incidents_refreshed": self.refreshed_open,
            "rows_quarantined": self.quarantined,
        }
        if self.window_start is not None:
            data["window_start"] = self.window_start.isoformat()
        if self.window_end is not None:
            data["window_end"] = self.window_end.isoformat()
        data.update(self.extra)
        return data


# Settings parsing ---------------------------------------------------------------------------


def string_list(
    section: Mapping[str, Any], key: str, where: str, errors: list[str]
) -> tuple[str, ...]:
    value = section.get(key)
    if value is None:
        return ()
    if isinstance(value, str | int):
        return (str(value),)
    if isinstance(value, list) and all(isinstance(item, str | int) for item in value):
        return tuple(str(item) for item in value)
    errors.append(f"{where}.{key}: invalid value {value!r}; expected a list of strings")
    return ()


def string_map(
    section: Mapping[str, Any], key: str, where: str, errors: list[str]
) -> dict[str, str]:
    value = section.get(key)
    if value is None:
        return {}
    if isinstance(value, dict) and all(isinstance(v, str | int) for v in value.values()):
        return {str(k): str(v) for k, v in value.items()}
    errors.append(f"{where}.{key}: invalid value {value!r}; expected source_name: service pairs")
    return {}


def positive_number(
    section: Mapping[str, Any], key: str, default: float, where: str, errors: list[str]
) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        errors.append(f"{where}.{key}: invalid value {value!r}; expected a positive number")
        return default
    return float(value)


def optional_time(
    section: Mapping[str, Any], key: str, where: str, errors: list[str]
) -> datetime | None:
    try:
        return parse_timestamp(section.get(key), f"{where}.{key}")
    except TimestampError as error:
        errors.append(str(error))
        return None


def parse_production(section: Mapping[str, Any], where: str, errors: list[str]) -> ProductionRule:
    rule = section.get("production") or {}
    if not isinstance(rule, dict):
        errors.append(
            f"{where}.production: invalid value {rule!r}; expected a mapping such as "
            "{services: [...], urgencies: [high]}"
        )
        return ProductionRule()
    known = {"services", "urgencies", "priorities", "labels", "impacts"}
    for key in rule:
        if key not in known:
            errors.append(
                f"{where}.production.{key}: unknown setting; allowed: {', '.join(sorted(known))}"
            )
    inner = f"{where}.production"
    return ProductionRule(
        services=string_list(rule, "services", inner, errors),
        urgencies=string_list(rule, "urgencies", inner, errors),
        priorities=string_list(rule, "priorities", inner, errors),
        labels=string_list(rule, "labels", inner, errors),
        impacts=string_list(rule, "impacts", inner, errors),
    )


def parse_source_name(
    section: Mapping[str, Any], default: str, where: str, errors: list[str]
) -> str:
    """Return the section's ``source_name``; one containing the partition separator is invalid."""
    name = str(section.get("source_name") or default)
    if PARTITION_SEPARATOR in name:
        errors.append(
            f"{where}.source_name: invalid value {name!r}; remove the "
            f"{PARTITION_SEPARATOR!r}, which separates the source name from the service id "
            "in the keys of per-service partitions"
        )
    return name


def check_known_keys(
    section: Mapping[str, Any], known: set[str], where: str, errors: list[str]
) -> None:
    for key in section:
        if key not in known:
            errors.append(f"{where}.{key}: unknown setting; allowed: {', '.join(sorted(known))}")


def raise_if_errors(errors: list[str]) -> None:
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))


# Incremental windows ------------------------------------------------------------------------


def load_window(
    cursor: str | None,
    now: datetime,
    initial_start: datetime | None,
    initial_days: float,
    refresh_days: float,
) -> tuple[datetime, datetime]:
    """Return the ``[start, end)`` creation window of this load.

    The first load starts at ``initial_start`` (or ``initial_days`` before now).
    Later loads start ``refresh_days`` before the stored cursor, so incidents
    created shortly before it and changed since (resolved, reopened) are read again.
    """
    if cursor:
        stored = parse_timestamp(cursor, "pipeline_cursors.cursor_value")
        assert stored is not None
        start = stored - timedelta(days=refresh_days)
    else:
        start = initial_start or now - timedelta(days=initial_days)
    return min(start, now), now


def parse_time_field(record: Mapping[str, Any], key: str, where: str) -> datetime | None:
    """Parse one timestamp field of an API object; raise TimestampError naming it."""
    return parse_timestamp(record.get(key), f"{where}.{key}")
