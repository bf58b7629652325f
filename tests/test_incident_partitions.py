"""One partition per PagerDuty or Opsgenie service, against the fake APIs on 127.0.0.1.

The recorded PagerDuty incidents all belong to service PIKL83L. The
hand-written incidents of ``tests/fixtures/pagerduty/constructed`` are served
here as a second service, ``PCONSTRUCTED``, so a section can list two
services. The Opsgenie data has a recorded service and a hand-written
incident that impacts it and a second service.
"""

from __future__ import annotations

import copy
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import yaml

from dagster_project import landing, partitions, pipeline
from dagster_project.config import ConfigError, load_config
from dagster_project.defs import incidents
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from tests.fakes.incident_servers import (
    FakeOpsgenie,
    FakePagerDuty,
    Recorded,
    load_constructed_opsgenie,
    load_constructed_pagerduty,
    load_opsgenie_fixtures,
    load_pagerduty_fixtures,
)
from tests.mart_compare import table_differences
from tests.partition_runs import materialize_source

PD_TOKEN = "pd-partition-secret-token-4d5e6f"
OG_KEY = "og-partition-secret-key-7a8b9c"
RECORDED_SERVICE = "PIKL83L"
CONSTRUCTED_SERVICE = "PCONSTRUCTED"
PD_RECORDED = f"pagerduty:{RECORDED_SERVICE}"
PD_CONSTRUCTED = f"pagerduty:{CONSTRUCTED_SERVICE}"
OG_RECORDED_SERVICE = "695bce3d-4621-4630-8ae1-24eb89c22d6e"
OG_SECOND_SERVICE = "7a1d2c3b-0000-4000-8000-00000000000b"
# Impacts both Opsgenie services.
SHARED_INCIDENT = "c0ffee00-0000-4000-8000-000000000001"
AS_OF = "2023-09-10T00:00:00+00:00"


def pagerduty_data() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    recorded, entries = load_pagerduty_fixtures()
    constructed, constructed_entries = load_constructed_pagerduty()
    moved = copy.deepcopy(constructed)
    for incident in moved:
        incident["service"] = {"id": CONSTRUCTED_SERVICE, "summary": "Constructed service"}
    return recorded + moved, {**entries, **constructed_entries}


@pytest.fixture
def pagerduty_server():
    incidents_, entries = pagerduty_data()
    with FakePagerDuty(incidents_, entries, PD_TOKEN) as fake:
        yield fake


@pytest.fixture
def opsgenie_server():
    extra, alerts = load_constructed_opsgenie()
    with FakeOpsgenie(load_opsgenie_fixtures() + extra, OG_KEY, alerts=alerts) as fake:
        yield fake


@pytest.fixture(autouse=True)
def tokens(monkeypatch):
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", PD_TOKEN)
    monkeypatch.setenv("OPSGENIE_API_KEY", OG_KEY)


def pagerduty_section(server: FakePagerDuty, service_ids: list[str]) -> dict[str, Any]:
    return {
        "base_url": server.base_url,
        "since": "2022-11-01T00:00:00Z",
        "service_ids": service_ids,
    }


def opsgenie_section(server: FakeOpsgenie, service_ids: list[str]) -> dict[str, Any]:
    return {
        "base_url": server.base_url,
        "since": "2023-09-01T00:00:00Z",
        "service_ids": service_ids,
        "include_alerts": True,
        "services": {"checkout": "checkout", OG_RECORDED_SERVICE: "checkout"},
    }


def write_config(folder: Path, **sections: dict[str, Any]) -> Path:
    path = folder / "dora.yml"
    path.write_text(yaml.safe_dump({"timezone": "UTC", "sources": sections}))
    return path


def keys_of(source: partitions.PartitionedSource, sections: dict[str, Any], folder: Path):
    return partitions.configured_keys(source, load_config(write_config(folder, **sections)))


def test_pagerduty_keys_follow_service_ids(tmp_path):
    section = {"service_ids": [RECORDED_SERVICE, CONSTRUCTED_SERVICE, RECORDED_SERVICE]}
    keys = keys_of(partitions.PAGERDUTY, {"pagerduty": section}, tmp_path)
    assert keys == [PD_RECORDED, PD_CONSTRUCTED]

    named = {"source_name": "pd-eu", "service_ids": [RECORDED_SERVICE]}
    assert keys_of(partitions.PAGERDUTY, {"pagerduty": named}, tmp_path) == ["pd-eu:PIKL83L"]
    assert keys_of(partitions.PAGERDUTY, {"pagerduty": {}}, tmp_path) == ["pagerduty"]


def test_opsgenie_keys_follow_service_ids(tmp_path):
    section = {"service_ids": [OG_RECORDED_SERVICE, OG_SECOND_SERVICE], "include_alerts": True}
    keys = keys_of(partitions.OPSGENIE, {"opsgenie": section}, tmp_path)
    assert keys == [
        f"opsgenie:{OG_RECORDED_SERVICE}",
        f"opsgenie:{OG_SECOND_SERVICE}",
        "opsgenie:alerts",
    ]

    without_alerts = {"service_ids": [OG_SECOND_SERVICE]}
    keys = keys_of(partitions.OPSGENIE, {"opsgenie": without_alerts}, tmp_path)
    assert keys == [f"opsgenie:{OG_SECOND_SERVICE}"]
    whole = {"include_alerts": True}
    assert keys_of(partitions.OPSGENIE, {"opsgenie": whole}, tmp_path) == ["opsgenie"]


@pytest.mark.parametrize(
    ("name", "source"), [("pagerduty", partitions.PAGERDUTY), ("opsgenie", partitions.OPSGENIE)]
)
def test_source_name_with_separator_rejected(tmp_path, name, source):
    with pytest.raises(ConfigError, match=rf"sources\.{name}\.source_name: .*'team:a'"):
        keys_of(source, {name: {"source_name": "team:a"}}, tmp_path)


def test_opsgenie_service_named_alerts_rejected(tmp_path):
    section = {"service_ids": ["alerts"], "include_alerts": True}
    with pytest.raises(ConfigError, match=r"sources\.opsgenie\.service_ids: invalid value"):
        keys_of(partitions.OPSGENIE, {"opsgenie": section}, tmp_path)


def materialize_pagerduty(folder: Path, config: Path, keys=None, instance=None):
    db = folder / "w.duckdb"
    result = materialize_source(
        partitions.PAGERDUTY,
        [incidents.extract_pagerduty, incidents.raw_pagerduty],
        resources={
            "warehouse": WarehouseResource(path=str(db)),
            "run_settings": RunSettingsResource(config_path=str(config)),
            # No retry, so a broken service fails at once.
            "pagerduty_api": incidents.PagerDutyResource(max_retries=0),
        },
        instance=instance,
        keys=keys,
    )
    return result, db


def query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def landing_file(db: Path, kind: str, key: str) -> Path:
    return landing.landing_path(landing.landing_root(db), kind, key)


def listed_services(requests: list[Recorded]) -> set[tuple[str, ...]]:
    """Return the ``service_ids[]`` filters of the incident listings among ``requests``."""
    return {
        tuple(request.query.get("service_ids[]", []))
        for request in requests
        if request.path == "/incidents"
    }


def test_service_partition_loads_only_its_service(tmp_path, pagerduty_server):
    section = pagerduty_section(pagerduty_server, [RECORDED_SERVICE, CONSTRUCTED_SERVICE])
    config = write_config(tmp_path, pagerduty=section)
    result, db = materialize_pagerduty(tmp_path, config, keys=[PD_CONSTRUCTED])
    assert result.success

    # The window since 2022-11-01 takes several listings, each of the one service.
    assert listed_services(pagerduty_server.requests) == {(CONSTRUCTED_SERVICE,)}
    path = landing_file(db, "pagerduty", PD_CONSTRUCTED)
    rows = query(
        path, "select _source, service_id, count(*) from raw_pagerduty__incidents group by all"
    )
    assert rows == [(PD_CONSTRUCTED, CONSTRUCTED_SERVICE, 4)]
    entry_sources = query(path, "select distinct _source from raw_pagerduty__log_entries")
    assert entry_sources == [(PD_CONSTRUCTED,)]
    assert not landing_file(db, "pagerduty", PD_RECORDED).exists()


def break_service(server: FakePagerDuty, service_id: str) -> dict[str, bool]:
    """Return status 500 for listings of ``service_id`` while the returned switch is on."""
    switch = {"on": True}
    route = server.route

    def failing(path, query_):
        if switch["on"] and path == "/incidents" and query_.get("service_ids[]") == [service_id]:
            return 500, {"error": {"message": "server error"}}
        return route(path, query_)

    server.route = failing
    return switch


def cursors(db: Path) -> dict[str, str]:
    return dict(query(db, "select _source, cursor_value from pipeline_cursors"))


def sources_of(db: Path, table: str) -> dict[str, int]:
    return dict(query(db, f"select _source, count(*) from {table} group by 1"))


def merge_metadata(result) -> dict[str, Any]:
    [event] = [
        event
        for event in result.get_asset_materialization_events()
        if event.materialization.asset_key == dg.AssetKey(["raw", "raw_pagerduty__incidents"])
    ]
    return {name: value.value for name, value in event.materialization.metadata.items()}


def test_failed_service_reruns_alone(tmp_path, pagerduty_server):
    instance = dg.DagsterInstance.ephemeral()
    whole = write_config(tmp_path, pagerduty=pagerduty_section(pagerduty_server, []))
    first, db = materialize_pagerduty(tmp_path, whole, instance=instance)
    assert first.success
    assert sources_of(db, "raw_pagerduty__incidents") == {"pagerduty": 7}

    # Switch to one partition per service while the constructed service fails.
    split = pagerduty_section(pagerduty_server, [RECORDED_SERVICE, CONSTRUCTED_SERVICE])
    config = write_config(tmp_path, pagerduty=split)
    switch = break_service(pagerduty_server, CONSTRUCTED_SERVICE)
    broken, _ = materialize_pagerduty(tmp_path, config, instance=instance)
    [recorded_run, constructed_run, broken_merge] = broken.runs
    assert recorded_run.success
    assert not constructed_run.success
    failure = next(event for event in constructed_run.all_events if event.is_step_failure)
    message = str(failure.event_specific_data.error)
    assert "500" in message
    assert f"PagerDuty partition {PD_CONSTRUCTED}:" in message
    assert f"run job extract_pagerduty for partition {PD_CONSTRUCTED} again" in message
    assert "environment variable" not in message
    assert broken_merge.success
    # The section's earlier key keeps its rows until every service has a landing file.
    assert merge_metadata(broken_merge)["retired_partitions_deleted"] == []
    assert sources_of(db, "raw_pagerduty__incidents") == {"pagerduty": 7, PD_RECORDED: 3}
    recorded_cursor = cursors(db)[PD_RECORDED]
    assert PD_CONSTRUCTED not in cursors(db)

    switch["on"] = False
    requests_before = len(pagerduty_server.requests)
    rerun, _ = materialize_pagerduty(tmp_path, config, keys=[PD_CONSTRUCTED], instance=instance)
    assert rerun.success
    rerun_requests = pagerduty_server.requests[requests_before:]
    assert listed_services(rerun_requests) == {(CONSTRUCTED_SERVICE,)}
    assert merge_metadata(rerun.runs[-1])["retired_partitions_deleted"] == ["pagerduty"]

    assert sources_of(db, "raw_pagerduty__incidents") == {PD_RECORDED: 3, PD_CONSTRUCTED: 4}
    assert set(sources_of(db, "raw_pagerduty__log_entries")) == {PD_RECORDED, PD_CONSTRUCTED}
    for table in ("pipeline_cursors", "quarantine", "http_cache"):
        assert "pagerduty" not in sources_of(db, table), table
    # Each service's cursor moves only with its own runs.
    assert cursors(db)[PD_RECORDED] == recorded_cursor
    assert cursors(db)[PD_CONSTRUCTED] > recorded_cursor


def test_switch_keeps_history_before_initial_days(tmp_path, pagerduty_server):
    instance = dg.DagsterInstance.ephemeral()
    whole = write_config(tmp_path, pagerduty=pagerduty_section(pagerduty_server, []))
    first, db = materialize_pagerduty(tmp_path, whole, instance=instance)
    assert first.success
    section_cursor = cursors(db)["pagerduty"]

    # Without `since`, a partition with no rows would read only the last 90 days,
    # which hold none of the recorded incidents of 2022.
    split = pagerduty_section(pagerduty_server, [RECORDED_SERVICE, CONSTRUCTED_SERVICE])
    del split["since"]
    requests_before = len(pagerduty_server.requests)
    second, _ = materialize_pagerduty(
        tmp_path, write_config(tmp_path, pagerduty=split), instance=instance
    )
    assert second.success
    starts = [
        datetime.fromisoformat(request.query["since"][0].replace("Z", "+00:00"))
        for request in pagerduty_server.requests[requests_before:]
        if request.path == "/incidents"
    ]
    # Each service continues from the section's cursor, less refresh_days.
    expected_start = datetime.fromisoformat(section_cursor) - timedelta(days=7)
    assert starts == [expected_start, expected_start]
    assert merge_metadata(second.runs[-1])["retired_partitions_deleted"] == ["pagerduty"]
    assert sources_of(db, "raw_pagerduty__incidents") == {PD_RECORDED: 3, PD_CONSTRUCTED: 4}
    entries = query(
        db,
        "select distinct entries._source, incidents.service_id "
        "from raw_pagerduty__log_entries as entries join raw_pagerduty__incidents as incidents "
        "using (_source, incident_id)",
    )
    assert sorted(entries) == [
        (PD_CONSTRUCTED, CONSTRUCTED_SERVICE),
        (PD_RECORDED, RECORDED_SERVICE),
    ]


def opsgenie_materializer(db: Path, config: Path):
    """Return a function that runs every Opsgenie partition and the merge on one instance."""
    resources = {
        "warehouse": WarehouseResource(path=str(db)),
        "run_settings": RunSettingsResource(config_path=str(config)),
        "opsgenie_api": incidents.OpsgenieResource(max_retries=0),
    }
    assets = [incidents.extract_opsgenie, incidents.raw_opsgenie]
    instance = dg.DagsterInstance.ephemeral()
    return lambda: materialize_source(partitions.OPSGENIE, assets, resources, instance)


def test_opsgenie_switch_seeds_each_partition(tmp_path, opsgenie_server):
    db = tmp_path / "w.duckdb"
    materialize = opsgenie_materializer(db, tmp_path / "dora.yml")
    write_config(tmp_path, opsgenie=opsgenie_section(opsgenie_server, []))
    assert materialize().success

    # Without `since`, no incident or alert of 2023 is inside the first window.
    split = opsgenie_section(opsgenie_server, [OG_RECORDED_SERVICE, OG_SECOND_SERVICE])
    del split["since"]
    write_config(tmp_path, opsgenie=split)
    assert materialize().success
    assert sources_of(db, "raw_opsgenie__incidents") == {
        f"opsgenie:{OG_RECORDED_SERVICE}": 3,
        f"opsgenie:{OG_SECOND_SERVICE}": 1,
        "opsgenie:alerts": 2,
    }
    kinds = query(
        db, "select distinct _source, record_kind from raw_opsgenie__incidents order by 1"
    )
    assert kinds == [
        (f"opsgenie:{OG_RECORDED_SERVICE}", "incident"),
        (f"opsgenie:{OG_SECOND_SERVICE}", "incident"),
        ("opsgenie:alerts", "alert"),
    ]
    cursor_entities = set(query(db, "select _source, entity from pipeline_cursors"))
    assert cursor_entities == {
        (f"opsgenie:{OG_RECORDED_SERVICE}", "incidents"),
        (f"opsgenie:{OG_SECOND_SERVICE}", "incidents"),
        ("opsgenie:alerts", "alerts"),
    }


def test_opsgenie_partitions_split_incidents_and_alerts(tmp_path, opsgenie_server):
    section = opsgenie_section(opsgenie_server, [OG_RECORDED_SERVICE, OG_SECOND_SERVICE])
    config = write_config(tmp_path, opsgenie=section)
    db = tmp_path / "w.duckdb"
    result = materialize_source(
        partitions.OPSGENIE,
        [incidents.extract_opsgenie, incidents.raw_opsgenie],
        resources={
            "warehouse": WarehouseResource(path=str(db)),
            "run_settings": RunSettingsResource(config_path=str(config)),
            "opsgenie_api": incidents.OpsgenieResource(max_retries=0),
        },
    )
    assert result.success

    def items(key: str) -> list[tuple]:
        return query(
            landing_file(db, "opsgenie", key),
            "select _source, record_kind, incident_id from raw_opsgenie__incidents "
            "order by record_kind, incident_id",
        )

    recorded = f"opsgenie:{OG_RECORDED_SERVICE}"
    second = f"opsgenie:{OG_SECOND_SERVICE}"
    assert [row[2] for row in items(recorded)] == [
        "3a74524a-f492-4172-b3f5-6041c7cb404a",
        "3f84e009-7548-4e7d-832a-fa82c1ceb6b1",
        SHARED_INCIDENT,
    ]
    assert items(second) == [(second, "incident", SHARED_INCIDENT)]
    assert {row[:2] for row in items("opsgenie:alerts")} == {("opsgenie:alerts", "alert")}
    assert len(items("opsgenie:alerts")) == 2
    # Only the alerts partition reads alerts, and it reads no incidents.
    cursor_entities = set(query(db, "select _source, entity from pipeline_cursors"))
    assert cursor_entities == {
        (recorded, "incidents"),
        (second, "incidents"),
        ("opsgenie:alerts", "alerts"),
    }


def refresh(folder: Path, config: Path, instance: dg.DagsterInstance) -> Path:
    db = folder / "w.duckdb"
    result = pipeline.run_refresh_job(
        str(db), {"config_path": str(config), "as_of": AS_OF}, instance=instance
    )
    failures = [str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure]
    assert result.success, failures
    return db


def mart_tables(path: Path) -> list[str]:
    rows = query(
        path,
        "select table_name from duckdb_tables() where regexp_matches(table_name, '^(fct|dim|dora|dq)_')",
    )
    return sorted(row[0] for row in rows)


def mart_differences(expected: Path, actual: Path) -> dict[str, list]:
    with (
        duckdb.connect(str(expected), read_only=True) as reference,
        duckdb.connect(str(actual), read_only=True) as other,
    ):
        return {
            table: differences
            for table in mart_tables(expected)
            if (differences := table_differences(reference, other, table))
        }


def both_sections(pagerduty_server, opsgenie_server, split: bool) -> dict[str, Any]:
    pd_services = [RECORDED_SERVICE, CONSTRUCTED_SERVICE] if split else []
    og_services = [OG_RECORDED_SERVICE, OG_SECOND_SERVICE] if split else []
    return {
        "pagerduty": pagerduty_section(pagerduty_server, pd_services),
        "opsgenie": opsgenie_section(opsgenie_server, og_services),
    }


def incident_counts(db: Path) -> list[tuple]:
    return query(db, "select source, count(*) from fct_incidents group by 1 order by 1")


@pytest.mark.slow
def test_split_marts_equal_section_wide(tmp_path, pagerduty_server, opsgenie_server):
    whole_dir, split_dir = tmp_path / "whole", tmp_path / "split"
    whole_dir.mkdir()
    split_dir.mkdir()
    sections = both_sections(pagerduty_server, opsgenie_server, split=False)
    whole = refresh(whole_dir, write_config(whole_dir, **sections), dg.DagsterInstance.ephemeral())
    sections = both_sections(pagerduty_server, opsgenie_server, split=True)
    split = refresh(split_dir, write_config(split_dir, **sections), dg.DagsterInstance.ephemeral())

    assert sources_of(split, "raw_opsgenie__incidents") == {
        f"opsgenie:{OG_RECORDED_SERVICE}": 3,
        f"opsgenie:{OG_SECOND_SERVICE}": 1,
        "opsgenie:alerts": 2,
    }
    # The shared incident is stored twice but counted once.
    shared = f"select count(*) from fct_incidents where incident_id = '{SHARED_INCIDENT}'"
    assert query(split, shared) == [(1,)]
    assert [row[0] for row in incident_counts(whole)] == ["opsgenie", "pagerduty"]
    assert incident_counts(split) == incident_counts(whole)
    assert "fct_incidents" in mart_tables(whole)
    assert mart_differences(whole, split) == {}


@pytest.mark.slow
def test_switch_keeps_each_incident_once(tmp_path, pagerduty_server, opsgenie_server):
    instance = dg.DagsterInstance.ephemeral()
    sections = both_sections(pagerduty_server, opsgenie_server, split=False)
    db = refresh(tmp_path, write_config(tmp_path, **sections), instance)
    before = tmp_path / "section-wide.duckdb"
    shutil.copyfile(db, before)

    sections = both_sections(pagerduty_server, opsgenie_server, split=True)
    refresh(tmp_path, write_config(tmp_path, **sections), instance)
    assert sources_of(db, "raw_pagerduty__incidents") == {PD_RECORDED: 3, PD_CONSTRUCTED: 4}
    assert set(sources_of(db, "raw_opsgenie__incidents")) == {
        f"opsgenie:{OG_RECORDED_SERVICE}",
        f"opsgenie:{OG_SECOND_SERVICE}",
        "opsgenie:alerts",
    }
    assert mart_differences(before, db) == {}

    sections = both_sections(pagerduty_server, opsgenie_server, split=False)
    refresh(tmp_path, write_config(tmp_path, **sections), instance)
    assert sources_of(db, "raw_pagerduty__incidents") == {"pagerduty": 7}
    assert sources_of(db, "raw_opsgenie__incidents") == {"opsgenie": 5}
    cursor_sources = {row[0] for row in query(db, "select _source from pipeline_cursors")}
    assert cursor_sources == {"pagerduty", "opsgenie"}
    assert mart_differences(before, db) == {}


def test_switch_back_keeps_history_before_initial_days(tmp_path, pagerduty_server):
    instance = dg.DagsterInstance.ephemeral()
    split = pagerduty_section(pagerduty_server, [RECORDED_SERVICE, CONSTRUCTED_SERVICE])
    first, db = materialize_pagerduty(
        tmp_path, write_config(tmp_path, pagerduty=split), instance=instance
    )
    assert first.success
    entries_before = query(db, "select count(*) from raw_pagerduty__log_entries")[0][0]

    # Without `since`, the section-wide key reads only the last 90 days, which
    # hold none of the incidents the service keys loaded.
    whole = pagerduty_section(pagerduty_server, [])
    del whole["since"]
    requests_before = len(pagerduty_server.requests)
    second, _ = materialize_pagerduty(
        tmp_path, write_config(tmp_path, pagerduty=whole), instance=instance
    )
    assert second.success
    starts = {
        request.query["since"][0]
        for request in pagerduty_server.requests[requests_before:]
        if request.path == "/incidents"
    }
    # The service keys' cursors are not copied: the whole account is read from initial_days.
    assert len(starts) == 1, starts
    assert min(starts) > "2023-09-30", starts
    assert sorted(merge_metadata(second.runs[-1])["retired_partitions_deleted"]) == [
        PD_CONSTRUCTED,
        PD_RECORDED,
    ]
    assert sources_of(db, "raw_pagerduty__incidents") == {"pagerduty": 7}
    assert sources_of(db, "raw_pagerduty__log_entries") == {"pagerduty": entries_before}
    assert set(cursors(db)) == {"pagerduty"}


def test_opsgenie_switch_back_keeps_each_item_once(tmp_path, opsgenie_server):
    db = tmp_path / "w.duckdb"
    materialize = opsgenie_materializer(db, tmp_path / "dora.yml")
    split = opsgenie_section(opsgenie_server, [OG_RECORDED_SERVICE, OG_SECOND_SERVICE])
    write_config(tmp_path, opsgenie=split)
    assert materialize().success
    shared = query(
        db, f"select count(*) from raw_opsgenie__incidents where incident_id = '{SHARED_INCIDENT}'"
    )
    assert shared == [(2,)], "the shared incident is loaded by both service keys"
    items = query(db, "select distinct record_kind, incident_id from raw_opsgenie__incidents")

    # Without `since`, no incident or alert of 2023 is inside the first window.
    whole = opsgenie_section(opsgenie_server, [])
    del whole["since"]
    write_config(tmp_path, opsgenie=whole)
    assert materialize().success
    after = query(db, "select record_kind, incident_id from raw_opsgenie__incidents")
    assert sorted(after) == sorted(items)
    assert sources_of(db, "raw_opsgenie__incidents") == {"opsgenie": len(items)}
