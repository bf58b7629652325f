"""PagerDuty through Dagster and dbt: the asset in-process, then the whole refresh job.

The refresh job runs the real dbt build on the warehouse the asset wrote, so
these tests check what fct_incidents reports for PagerDuty incidents,
including one still open at as_of and one that was reopened.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest
import yaml

from dagster_project import partitions, warehouse
from dagster_project.defs import incidents
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from tests.fakes.incident_servers import (
    FakePagerDuty,
    load_constructed_pagerduty,
    load_pagerduty_fixtures,
    run_refresh_with_incidents,
)
from tests.partition_runs import landing_metadata, materialize_source

TOKEN = "pd-pipeline-secret-token-a1b2c3"
AS_OF = "2022-11-05T00:00:00+00:00"


@pytest.fixture
def server():
    incidents_, entries = load_pagerduty_fixtures()
    extra, extra_entries = load_constructed_pagerduty()
    with FakePagerDuty(incidents_ + extra, {**entries, **extra_entries}, TOKEN) as fake:
        yield fake


def write_config(tmp_path, section):
    path = tmp_path / "dora.yml"
    path.write_text(yaml.safe_dump({"sources": {"pagerduty": section}}))
    return path


def materialize(tmp_path, config_path, **resources):
    db = tmp_path / "w.duckdb"
    result = materialize_source(
        partitions.PAGERDUTY,
        [
            incidents.extract_pagerduty,
            incidents.raw_pagerduty,
            incidents.raw_opsgenie,
            incidents.raw_statuspage,
        ],
        resources={
            "warehouse": WarehouseResource(path=str(db)),
            "run_settings": RunSettingsResource(config_path=str(config_path)),
            "pagerduty_api": incidents.PagerDutyResource(),
            "opsgenie_api": incidents.OpsgenieResource(),
            "statuspage_source": incidents.StatuspageResource(),
            **resources,
        },
    )
    return result, db


def test_asset_loads_with_token_from_env(tmp_path, server, monkeypatch):
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", TOKEN)
    config = write_config(tmp_path, {"base_url": server.base_url, "since": "2022-11-01T00:00:00Z"})
    result, db = materialize(tmp_path, config)
    assert result.success
    [extracted] = landing_metadata(result, "pagerduty")
    assert extracted["incidents_loaded"] == 7
    with warehouse.open_warehouse(db, read_only=True) as con:
        assert con.execute("select count(*) from raw_pagerduty__incidents").fetchone() == (7,)
        # The unconfigured sources still create their empty tables.
        assert con.execute("select count(*) from raw_opsgenie__incidents").fetchone() == (0,)


def test_asset_token_from_envvar_resource(tmp_path, server, monkeypatch):
    monkeypatch.setenv("MY_PD_TOKEN", TOKEN)
    monkeypatch.delenv("PAGERDUTY_API_TOKEN", raising=False)
    config = write_config(tmp_path, {"base_url": server.base_url, "since": "2022-11-01T00:00:00Z"})
    resource = incidents.PagerDutyResource(token=dg.EnvVar("MY_PD_TOKEN"))
    result, _ = materialize(tmp_path, config, pagerduty_api=resource)
    assert result.success
    assert server.requests[0].headers["authorization"] == f"Token token={TOKEN}"


def test_missing_token_fails_with_variable_name(tmp_path, server, monkeypatch):
    monkeypatch.delenv("PAGERDUTY_API_TOKEN", raising=False)
    config = write_config(tmp_path, {"base_url": server.base_url})
    result, _ = materialize(tmp_path, config)
    assert not result.success
    failure = next(event for event in result.all_events if event.is_step_failure)
    assert "PAGERDUTY_API_TOKEN" in str(failure.event_specific_data.error)


def test_api_error_fails_run_without_token(tmp_path, server, monkeypatch):
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", TOKEN)
    config = write_config(tmp_path, {"base_url": server.base_url, "since": "2022-11-01T00:00:00Z"})
    server.fail_next(403, count=1, path_prefix="/incidents")
    result, db = materialize(tmp_path, config)
    assert not result.success
    events = "\n".join(str(event) for event in result.all_events)
    assert "403" in events
    assert TOKEN not in events
    with warehouse.open_warehouse(db, read_only=True) as con:
        assert con.execute("select count(*) from pipeline_cursors").fetchone() == (0,)


def test_unconfigured_source_loads_nothing(tmp_path):
    config = tmp_path / "dora.yml"
    config.write_text("timezone: UTC\n")
    result, db = materialize(tmp_path, config)
    assert result.success
    with warehouse.open_warehouse(db, read_only=True) as con:
        assert con.execute("select count(*) from raw_pagerduty__incidents").fetchone() == (0,)
        assert con.execute("select count(*) from raw_pagerduty__log_entries").fetchone() == (0,)


def fct_rows(db):
    with warehouse.open_warehouse(db, read_only=True) as con:
        cursor = con.execute(
            "select incident_id, is_open, alert_at, resolved_at, restore_seconds, "
            "merged_incident_count from fct_incidents where source = 'pagerduty'"
        )
        names = [column[0] for column in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


@pytest.mark.slow
def test_refresh_reports_pagerduty_incidents(tmp_path, server, monkeypatch):
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", TOKEN)
    config = write_config(
        tmp_path,
        {
            "base_url": server.base_url,
            "since": "2022-11-01T00:00:00Z",
            "production": {"urgencies": ["high"]},
        },
    )
    result, db, _ = run_refresh_with_incidents(tmp_path, config, AS_OF)
    failures = [str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure]
    assert result.success, failures
    rows = fct_rows(db)

    # The low-urgency incident is not production; the merged one joins its target.
    assert "Q1OHFWFP3GPXOG" not in rows
    assert "QCONSTRUCTED3" not in rows
    assert rows["QCONSTRUCTED2"]["merged_incident_count"] == 1
    assert rows["QCONSTRUCTED2"]["alert_at"] == datetime(2022, 11, 4, 11, tzinfo=UTC)

    # Still open at as_of: restore time counts to as_of.
    open_incident = rows["Q3YON8WNWTZMRQ"]
    assert open_incident["is_open"] is True
    as_of = datetime.fromisoformat(AS_OF)
    expected = (as_of - datetime(2022, 11, 3, 6, 23, 6, tzinfo=UTC)).total_seconds()
    assert open_incident["restore_seconds"] == expected

    # Reopened after a resolve: open again, counted to as_of.
    reopened = rows["QCONSTRUCTED1"]
    assert reopened["is_open"] is True
    assert (
        reopened["restore_seconds"]
        == (as_of - datetime(2022, 11, 4, 9, tzinfo=UTC)).total_seconds()
    )

    resolved_twice = rows["QCONSTRUCTED2"]
    assert resolved_twice["is_open"] is False
    assert resolved_twice["restore_seconds"] == 70 * 60


@pytest.mark.slow
def test_refresh_keeps_token_out_of_logs_and_warehouse(tmp_path, server, monkeypatch):
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", TOKEN)
    server.fail_next(429, path_prefix="/incidents", Retry_After="0")
    config = write_config(tmp_path, {"base_url": server.base_url, "since": "2022-11-01T00:00:00Z"})
    result, db, log_text = run_refresh_with_incidents(tmp_path, config, AS_OF)
    assert result.success
    assert "rate limited" in log_text
    assert TOKEN not in log_text
    assert TOKEN not in "\n".join(str(event) for event in result.all_events)
    assert TOKEN.encode() not in db.read_bytes()


def test_rejected_token_names_its_variable(tmp_path, server, monkeypatch):
    monkeypatch.setenv("PD_TEAM_TOKEN", "pd-wrong-token-9f8e7d")
    section = {"base_url": server.base_url, "token_env": "PD_TEAM_TOKEN"}
    result, _ = materialize(tmp_path, write_config(tmp_path, section))
    assert not result.success
    failure = next(event for event in result.all_events if event.is_step_failure)
    message = str(failure.event_specific_data.error)
    assert "401" in message
    assert "environment variable PD_TEAM_TOKEN" in message
    assert "pd-wrong-token-9f8e7d" not in message
