"""The Statuspage asset run in-process by Dagster on the recorded history file."""

from __future__ import annotations

import shutil

import pytest
import yaml

from dagster_project import partitions, warehouse
from dagster_project.defs import incidents
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from tests.fakes.incident_servers import FIXTURES, run_refresh_with_incidents
from tests.partition_runs import landing_metadata, materialize_source


def materialize(tmp_path, section, **resources):
    config = tmp_path / "dora.yml"
    config.write_text(yaml.safe_dump({"sources": {"statuspage": section}}))
    db = tmp_path / "w.duckdb"
    result = materialize_source(
        partitions.STATUSPAGE,
        [incidents.extract_statuspage, incidents.raw_statuspage],
        resources={
            "warehouse": WarehouseResource(path=str(db)),
            "run_settings": RunSettingsResource(config_path=str(config)),
            "statuspage_source": resources.get("statuspage_source", incidents.StatuspageResource()),
        },
    )
    return result, db


def test_relative_location_next_to_config(tmp_path):
    shutil.copy(FIXTURES / "statuspage" / "incidents.jsonl", tmp_path / "history.jsonl")
    section = {"location": "history.jsonl", "components": {"Actions": "actions"}}
    result, db = materialize(tmp_path, section)
    assert result.success
    [extracted] = landing_metadata(result, "statuspage")
    assert extracted["incidents_loaded"] == 443
    with warehouse.open_warehouse(db, read_only=True) as con:
        actions = con.execute(
            "select count(*) from raw_statuspage__incidents where service = 'actions'"
        ).fetchone()
    assert actions == (135,)


def test_resource_location_overrides_config(tmp_path):
    resource = incidents.StatuspageResource(
        location=str(FIXTURES / "statuspage" / "incidents.jsonl")
    )
    result, _ = materialize(tmp_path, {"location": "missing.jsonl"}, statuspage_source=resource)
    assert result.success


def test_missing_file_fails_with_path(tmp_path):
    result, _ = materialize(tmp_path, {"location": "missing.jsonl"})
    assert not result.success
    failure = next(event for event in result.all_events if event.is_step_failure)
    assert "missing.jsonl" in str(failure.event_specific_data.error)


@pytest.mark.slow
def test_refresh_reports_production_components(tmp_path):
    shutil.copy(FIXTURES / "statuspage" / "incidents.jsonl", tmp_path / "history.jsonl")
    section = {
        "location": "history.jsonl",
        "components": {"Actions": "actions", "Pull Requests": "pulls"},
        "production": {"services": ["actions", "pulls"], "impacts": ["major", "critical"]},
    }
    config = tmp_path / "dora.yml"
    config.write_text(yaml.safe_dump({"sources": {"statuspage": section}}))
    result, db, _ = run_refresh_with_incidents(tmp_path, config, "2023-12-31T00:00:00+00:00")
    assert result.success
    with warehouse.open_warehouse(db, read_only=True) as con:
        expected = con.execute(
            "select incident_id, service, epoch(resolved_at) - epoch(alert_at) "
            "from raw_statuspage__incidents "
            "where is_production order by incident_id"
        ).fetchall()
        reported = con.execute(
            "select incident_id, service, restore_seconds from fct_incidents "
            "where source = 'statuspage' order by incident_id"
        ).fetchall()
        services = con.execute(
            "select distinct service from fct_incidents where source = 'statuspage' order by 1"
        ).fetchall()
    assert len(expected) > 0
    assert [row[:2] for row in reported] == [row[:2] for row in expected]
    for (incident_id, _, duration), (_, _, restore) in zip(expected, reported, strict=True):
        assert restore == pytest.approx(duration, abs=1), incident_id
    assert services == [("actions",), ("pulls",)]
