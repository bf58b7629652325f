"""Production incidents of the sample: kept in memory, written sorted by alert time."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import tzinfo

from dagster_project.sample.output import JsonArrayWriter, iso


@dataclass
class Incident:
    """One incident; `merged_into` points at the incident that absorbed it."""

    service: str
    opened_at: int
    resolved_at: int | None
    caused_by_deployment_id: str | None = None
    root_cause_sha: str | None = None
    merged_into: Incident | None = None
    resolution_reason: str | None = None
    incident_id: str = ""


class IncidentBook:
    """Every incident of the organisation.

    Incidents are few (about one per 150 deployments), so they are kept in
    memory and numbered in alert order when written.
    """

    def __init__(self, end_at: int, restore_minutes: dict[str, float], rng: random.Random) -> None:
        self.end_at = end_at
        self._restore_minutes = restore_minutes
        self._services = sorted(restore_minutes)
        self._rng = rng
        self._incidents: list[Incident] = []
        self._duplicates = 0

    def open(
        self,
        service: str,
        opened_at: int,
        resolved_at: int,
        caused_by: str | None = None,
        root_cause_sha: str | None = None,
    ) -> Incident | None:
        """Record an incident and, sometimes, a duplicate alert or a downstream alert."""
        if opened_at >= self.end_at:
            return None
        incident = self._add(service, opened_at, resolved_at, caused_by, root_cause_sha)
        if self._duplicates == 0 or self._rng.random() < 0.08:
            self._add_duplicate(incident)
        if self._rng.random() < 0.15:
            self._add_downstream(incident)
        return incident

    def open_unresolved(self, service: str, opened_at: int) -> None:
        """Record an incident that is still open when the sample ends."""
        self._add(service, opened_at, None, None, None)

    def write(self, writer: JsonArrayWriter, zone: tzinfo) -> None:
        """Number the incidents in alert order and write them."""
        ordered = sorted(self._incidents, key=lambda item: (item.opened_at, item.service))
        for number, incident in enumerate(ordered, start=1001):
            incident.incident_id = f"INC-{number}"
        for incident in ordered:
            record = _record(incident, zone)
            last_change = incident.resolved_at or min(incident.opened_at + 600, self.end_at - 1)
            record["updated_at"] = iso(last_change, zone)
            writer.write(record)

    def _add(
        self,
        service: str,
        opened_at: int,
        resolved_at: int | None,
        caused_by: str | None,
        root_cause_sha: str | None,
    ) -> Incident:
        if resolved_at is not None and resolved_at >= self.end_at:
            resolved_at = None
        incident = Incident(
            service=service,
            opened_at=opened_at,
            resolved_at=resolved_at,
            caused_by_deployment_id=caused_by,
            root_cause_sha=root_cause_sha,
            resolution_reason=None if resolved_at is None else "resolved",
        )
        self._incidents.append(incident)
        return incident

    def _add_duplicate(self, incident: Incident) -> None:
        """Add a second alert on the same outage, merged into the first by a responder.

        The duplicate may have alerted a few minutes earlier than the incident it was merged
        into, so the group's first alert is the duplicate's.
        """
        opened = incident.opened_at + self._rng.randint(-240, 240)
        merged_at = max(opened, incident.opened_at) + self._rng.randint(300, 1200)
        if incident.resolved_at is not None:
            merged_at = min(merged_at, incident.resolved_at)
        if merged_at >= self.end_at:
            return
        duplicate = self._add(incident.service, opened, merged_at, None, None)
        duplicate.caused_by_deployment_id = incident.caused_by_deployment_id
        duplicate.merged_into = incident
        duplicate.resolution_reason = "merged"
        self._duplicates += 1

    def _add_downstream(self, incident: Incident) -> None:
        """Add an unlinked alert on another service during the same outage.

        The alert recovers at that service's usual pace, but not long after the outage.
        """
        service = self._rng.choice(self._services)
        opened = incident.opened_at + self._rng.randint(60, 900)
        minutes = self._rng.lognormvariate(0.0, 0.2) * self._restore_minutes[service]
        resolved = opened + int(minutes * 60)
        if incident.resolved_at is not None:
            resolved = min(resolved, max(incident.resolved_at + 900, opened + 60))
        self._add(service, opened, resolved, None, None)


def _record(incident: Incident, zone: tzinfo) -> dict:
    record: dict = {
        "id": incident.incident_id,
        "service": incident.service,
        "opened_at": iso(incident.opened_at, zone),
        "resolved_at": None if incident.resolved_at is None else iso(incident.resolved_at, zone),
    }
    if incident.caused_by_deployment_id:
        record["caused_by_deployment_id"] = incident.caused_by_deployment_id
    if incident.root_cause_sha:
        record["root_cause_sha"] = incident.root_cause_sha
    if incident.merged_into is not None:
        record["merged_into"] = incident.merged_into.incident_id
    record["resolution_reason"] = incident.resolution_reason
    return record
