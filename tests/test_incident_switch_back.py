"""A switch back to one PagerDuty partition keeps the latest copy of a moved incident.

An incident that moved from one listed service to another is loaded by both
service keys. The section-wide key that replaces them must start with the
copy the staging models would keep: the latest update.
"""

from __future__ import annotations

import copy

import dagster as dg
import pytest

from tests.fakes.incident_servers import FakePagerDuty
from tests.test_incident_partitions import (
    CONSTRUCTED_SERVICE,
    PD_TOKEN,
    RECORDED_SERVICE,
    materialize_pagerduty,
    pagerduty_data,
    pagerduty_section,
    query,
    tokens,  # noqa: F401 (the token variables the fake server expects)
    write_config,
)

LATER = "2023-12-01T00:00:00Z"


@pytest.mark.parametrize("newer", [CONSTRUCTED_SERVICE, RECORDED_SERVICE])
def test_switch_back_keeps_latest_copy_of_moved_incident(tmp_path, newer):
    incidents, entries = pagerduty_data()
    # A resolved one: the section-wide key fetches open incidents again by id.
    original = next(
        item
        for item in incidents
        if item["service"]["id"] == RECORDED_SERVICE and item["status"] == "resolved"
    )
    moved = copy.deepcopy(original)
    moved["service"] = {"id": CONSTRUCTED_SERVICE, "summary": "Constructed service"}
    (moved if newer == CONSTRUCTED_SERVICE else original)["last_status_change_at"] = LATER
    incident = f"incident_id = '{original['id']}'"
    with FakePagerDuty([*incidents, moved], entries, PD_TOKEN) as server:
        instance = dg.DagsterInstance.ephemeral()
        split = pagerduty_section(server, [RECORDED_SERVICE, CONSTRUCTED_SERVICE])
        first, db = materialize_pagerduty(
            tmp_path, write_config(tmp_path, pagerduty=split), instance=instance
        )
        assert first.success
        copies = query(db, f"select service_id from raw_pagerduty__incidents where {incident}")
        assert sorted(copies) == sorted([(RECORDED_SERVICE,), (CONSTRUCTED_SERVICE,)])
        entry_count = query(
            db,
            f"select count(distinct log_entry_id) from raw_pagerduty__log_entries where {incident}",
        )

        # Without `since`, the section-wide key does not read the incident again.
        whole = pagerduty_section(server, [])
        del whole["since"]
        second, _ = materialize_pagerduty(
            tmp_path, write_config(tmp_path, pagerduty=whole), instance=instance
        )
        assert second.success
    section_rows = query(
        db, f"select _source, service_id from raw_pagerduty__incidents where {incident}"
    )
    assert section_rows == [("pagerduty", newer)]
    section_entries = query(
        db,
        "select count(*), count(distinct log_entry_id) from raw_pagerduty__log_entries "
        f"where {incident}",
    )
    assert section_entries == [(entry_count[0][0], entry_count[0][0])]
