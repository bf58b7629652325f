"""The Opsgenie client and source against a fake Opsgenie API serving the recorded fixtures."""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime

import pytest

from dagster_project import warehouse
from dagster_project.clients.http import ApiError
from dagster_project.clients.opsgenie import OpsgenieClient, host_for_region
from dagster_project.config import ConfigError
from dagster_project.sources import incidents_opsgenie as opsgenie
from tests.fakes.incident_servers import (
    FakeOpsgenie,
    load_constructed_opsgenie,
    load_opsgenie_fixtures,
)

KEY = "og-planted-secret-key-7d41e2"
NOW = datetime(2023, 9, 10, tzinfo=UTC)
SERVICE = "695bce3d-4621-4630-8ae1-24eb89c22d6e"
OPEN_ID = "3a74524a-f492-4172-b3f5-6041c7cb404a"
RESOLVED_ID = "3f84e009-7548-4e7d-832a-fa82c1ceb6b1"
CONSTRUCTED_ID = "c0ffee00-0000-4000-8000-000000000001"


def settings(**section) -> opsgenie.OpsgenieSettings:
    section.setdefault("since", "2023-09-01T00:00:00Z")
    parsed = opsgenie.parse_settings(section)
    assert parsed is not None
    return parsed


@pytest.fixture
def server():
    extra_incidents, alerts = load_constructed_opsgenie()
    with FakeOpsgenie(load_opsgenie_fixtures() + extra_incidents, KEY, alerts=alerts) as fake:
        yield fake


def make_client(server, sleeps=None, page_size=1) -> OpsgenieClient:
    record = sleeps.append if sleeps is not None else (lambda _: None)
    return OpsgenieClient(KEY, base_url=server.base_url, page_size=page_size, sleep=record)


def load_into(path, server, config, now=NOW):
    with warehouse.open_warehouse(path) as con:
        return opsgenie.load(con, make_client(server), config, now)


def row_of(path, incident_id):
    with warehouse.open_warehouse(path, read_only=True) as con:
        cursor = con.execute(
            "select * from raw_opsgenie__incidents where incident_id = ?", [incident_id]
        )
        names = [column[0] for column in cursor.description]
        found = cursor.fetchall()
    assert len(found) == 1, f"expected one row for {incident_id}, found {len(found)}"
    return dict(zip(names, found[0], strict=True))


def test_region_hosts():
    assert host_for_region("us") == "https://api.opsgenie.com"
    assert host_for_region("EU") == "https://api.eu.opsgenie.com"
    with pytest.raises(ValueError, match="unknown Opsgenie region 'apac'"):
        host_for_region("apac")


def test_region_picks_host():
    client = OpsgenieClient(KEY, region="eu")
    assert client.item_url("incident", "x") == "https://api.eu.opsgenie.com/v1/incidents/x"


def test_incidents_paginated(server):
    client = make_client(server)
    items = list(client.list_items("incident", f"impactedServices:{SERVICE}"))
    assert [item["id"] for item in items] == [CONSTRUCTED_ID, OPEN_ID, RESOLVED_ID]
    requests = server.requests_to("/v1/incidents")
    assert [request.query["offset"][0] for request in requests] == ["0", "1", "2"]
    assert requests[0].query["query"] == [f"impactedServices:{SERVICE}"]
    assert requests[0].headers["authorization"] == f"GenieKey {KEY}"


def test_paging_stops_before_window(server):
    client = make_client(server)
    since = datetime(2023, 9, 6, tzinfo=UTC)
    items = list(client.list_items("incident", created_since=since))
    assert [item["id"] for item in items] == [CONSTRUCTED_ID, OPEN_ID]
    assert len(server.requests_to("/v1/incidents")) == 3


def test_rate_limit_honours_retry_after(server):
    sleeps: list[float] = []
    client = make_client(server, sleeps, page_size=100)
    server.fail_next(429, path_prefix="/v1/incidents", Retry_After="3")
    assert len(list(client.list_items("incident"))) == 3
    assert sleeps == [3.0]


def test_recorded_incidents_loaded(tmp_path, server):
    path = tmp_path / "w.duckdb"
    summary = load_into(path, server, settings(service_ids=[SERVICE]))
    assert summary.incidents == 3
    assert summary.open_incidents == 1
    open_row = row_of(path, OPEN_ID)
    assert open_row["resolved_at"] is None
    assert open_row["alert_at"] == datetime(2023, 9, 6, 14, 30, 56, 346000, tzinfo=UTC)
    assert open_row["service"] == SERVICE
    resolved = row_of(path, RESOLVED_ID)
    assert resolved["resolved_at"] == datetime(2023, 9, 5, 18, 21, 21, 490000, tzinfo=UTC)
    assert resolved["resolved_from"] == "impactEndDate"
    assert resolved["priority"] == "P5"


def test_closed_without_impact_end_uses_updated(tmp_path, server):
    path = tmp_path / "w.duckdb"
    load_into(path, server, settings())
    closed = row_of(path, CONSTRUCTED_ID)
    assert closed["alert_at"] == datetime(2023, 9, 7, 9, 55, tzinfo=UTC)
    assert closed["resolved_at"] == datetime(2023, 9, 7, 11, 30, tzinfo=UTC)
    assert closed["resolved_from"] == "updatedAt"


def test_service_mapping_and_priority_rule(tmp_path, server):
    path = tmp_path / "w.duckdb"
    config = settings(
        services={SERVICE: "checkout"},
        production={"services": ["checkout"], "priorities": ["P1", "P3"]},
    )
    load_into(path, server, config)
    assert row_of(path, OPEN_ID)["service"] == "checkout"
    assert row_of(path, OPEN_ID)["is_production"] is True
    low = row_of(path, RESOLVED_ID)
    assert low["is_production"] is False
    assert "priority 'P5'" in low["production_reason"]
    # The first impacted service with a mapping names the service.
    assert row_of(path, CONSTRUCTED_ID)["service"] == "checkout"


def test_alerts_loaded_when_enabled(tmp_path, server):
    path = tmp_path / "w.duckdb"
    config = settings(include_alerts=True, services={"checkout": "checkout"})
    summary = load_into(path, server, config)
    assert summary.extra["alerts_loaded"] == 2
    closed = row_of(path, "a1e7-0000-4000-8000-000000000001")
    assert closed["record_kind"] == "alert"
    assert closed["service"] == "checkout"
    assert closed["resolved_at"] == datetime(2023, 9, 8, 8, 30, tzinfo=UTC)
    assert closed["is_production"] is True
    unmapped = row_of(path, "a1e7-0000-4000-8000-000000000002")
    assert unmapped["service"] is None
    assert unmapped["is_production"] is False
    assert unmapped["resolved_at"] is None


def test_alerts_off_by_default(tmp_path, server):
    path = tmp_path / "w.duckdb"
    load_into(path, server, settings())
    assert server.requests_to("/v2/alerts") == []


def test_open_incident_refetched_later(tmp_path):
    incidents = load_opsgenie_fixtures()
    path = tmp_path / "w.duckdb"
    with FakeOpsgenie(copy.deepcopy(incidents), KEY) as fake:
        load_into(path, fake, settings(refresh_days=1))
    changed = copy.deepcopy(incidents)
    changed[0].update(status="resolved", impactEndDate="2023-09-20T10:00:00Z")
    later = datetime(2023, 9, 25, tzinfo=UTC)
    with FakeOpsgenie(changed, KEY) as fake:
        summary = load_into(path, fake, settings(refresh_days=1), now=later)
        assert fake.requests_to(f"/v1/incidents/{OPEN_ID}")
    assert summary.refreshed_open == 1
    assert row_of(path, OPEN_ID)["resolved_at"] == datetime(2023, 9, 20, 10, tzinfo=UTC)


def test_bad_timestamp_quarantined(tmp_path):
    incidents = copy.deepcopy(load_opsgenie_fixtures())
    incidents[1]["impactEndDate"] = "2023-09-05 18:21"
    path = tmp_path / "w.duckdb"
    with FakeOpsgenie(incidents, KEY) as fake:
        summary = load_into(path, fake, settings())
    assert summary.quarantined == 1
    with warehouse.open_warehouse(path, read_only=True) as con:
        ((location, reason),) = con.execute("select location, reason from quarantine").fetchall()
    assert location.endswith(f"/v1/incidents/{RESOLVED_ID}")
    assert "impactEndDate" in reason


def test_invalid_region_rejected():
    with pytest.raises(ConfigError, match=r"sources\.opsgenie\.region"):
        opsgenie.parse_settings({"region": "apac"})


def test_key_never_stored_or_logged(tmp_path, server, caplog):
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "w.duckdb"
    server.fail_next(429, path_prefix="/v1/incidents", Retry_After="1")
    load_into(path, server, settings())
    assert "rate limited" in caplog.text
    assert KEY not in caplog.text
    assert KEY.encode() not in path.read_bytes()


def test_wrong_key_error_hides_key(server):
    wrong = "og-wrong-secret-key-31337"
    client = OpsgenieClient(wrong, base_url=server.base_url, sleep=lambda _: None)
    with pytest.raises(ApiError) as failure:
        list(client.list_items("incident"))
    assert failure.value.status == 401
    assert wrong not in str(failure.value)


def test_incident_without_service_not_production(tmp_path):
    incidents = copy.deepcopy(load_opsgenie_fixtures())
    incidents[0]["impactedServices"] = []
    path = tmp_path / "w.duckdb"
    with FakeOpsgenie(incidents, KEY) as fake:
        load_into(path, fake, settings())
    row = row_of(path, OPEN_ID)
    assert row["service"] is None
    assert row["is_production"] is False
    assert "no impacted service" in row["production_reason"]
    with FakeOpsgenie(incidents, KEY) as fake:
        load_into(path, fake, settings(default_service="checkout"))
    assert row_of(path, OPEN_ID)["service"] == "checkout"
    assert row_of(path, OPEN_ID)["is_production"] is True
