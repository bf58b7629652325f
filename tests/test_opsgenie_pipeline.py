"""The Opsgenie asset run in-process by Dagster against the fake Opsgenie API."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest
import yaml

from dagster_project import partitions, warehouse
from dagster_project.config import ConfigError
from dagster_project.defs import incidents
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from tests.fakes.incident_servers import (
    FakeOpsgenie,
    load_opsgenie_fixtures,
    run_refresh_with_incidents,
)
from tests.partition_runs import landing_metadata, materialize_source

KEY = "og-pipeline-secret-key-9f8e7d"
SERVICE = "695bce3d-4621-4630-8ae1-24eb89c22d6e"
OPEN_ID = "3a74524a-f492-4172-b3f5-6041c7cb404a"
RESOLVED_ID = "3f84e009-7548-4e7d-832a-fa82c1ceb6b1"


def materialize(tmp_path, section, **resources):
    config = tmp_path / "dora.yml"
    config.write_text(yaml.safe_dump({"sources": {"opsgenie": section}}))
    db = tmp_path / "w.duckdb"
    result = materialize_source(
        partitions.OPSGENIE,
        [incidents.extract_opsgenie, incidents.raw_opsgenie],
        resources={
            "warehouse": WarehouseResource(path=str(db)),
            "run_settings": RunSettingsResource(config_path=str(config)),
            "opsgenie_api": resources.get("opsgenie_api", incidents.OpsgenieResource()),
        },
    )
    return result, db


def test_asset_loads_with_key_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSGENIE_API_KEY", KEY)
    with FakeOpsgenie(load_opsgenie_fixtures(), KEY) as fake:
        section = {"base_url": fake.base_url, "since": "2023-09-01T00:00:00Z"}
        result, db = materialize(tmp_path, section)
    assert result.success
    [extracted] = landing_metadata(result, "opsgenie")
    assert extracted["incidents_loaded"] == 2
    assert extracted["open_incidents"] == 1
    with warehouse.open_warehouse(db, read_only=True) as con:
        assert con.execute("select count(*) from raw_opsgenie__incidents").fetchone() == (2,)
        dump = str(con.execute("select * from raw_opsgenie__incidents").fetchall())
    assert KEY not in dump


def test_asset_key_from_envvar_resource(tmp_path, monkeypatch):
    monkeypatch.setenv("TEAM_GENIE_KEY", KEY)
    monkeypatch.delenv("OPSGENIE_API_KEY", raising=False)
    resource = incidents.OpsgenieResource(api_key=dg.EnvVar("TEAM_GENIE_KEY"))
    with FakeOpsgenie(load_opsgenie_fixtures(), KEY) as fake:
        section = {"base_url": fake.base_url, "since": "2023-09-01T00:00:00Z"}
        result, _ = materialize(tmp_path, section, opsgenie_api=resource)
        assert fake.requests[0].headers["authorization"] == f"GenieKey {KEY}"
    assert result.success


def test_invalid_section_fails_with_field(tmp_path):
    # The partition keys come from the section, so it is validated before any run.
    with pytest.raises(ConfigError, match=r"sources\.opsgenie\.region"):
        materialize(tmp_path, {"region": "mars"})


@pytest.mark.slow
def test_refresh_counts_open_incident_to_as_of(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSGENIE_API_KEY", KEY)
    as_of = "2023-09-08T00:00:00+00:00"
    config = tmp_path / "dora.yml"
    with FakeOpsgenie(load_opsgenie_fixtures(), KEY) as fake:
        section = {
            "base_url": fake.base_url,
            "since": "2023-09-01T00:00:00Z",
            "services": {SERVICE: "checkout"},
            "production": {"priorities": ["P1", "P2", "P3", "P4", "P5"]},
        }
        config.write_text(yaml.safe_dump({"sources": {"opsgenie": section}}))
        result, db, log_text = run_refresh_with_incidents(tmp_path, config, as_of)
    assert result.success
    assert KEY not in log_text
    with warehouse.open_warehouse(db, read_only=True) as con:
        rows = con.execute(
            "select incident_id, service, is_open, restore_seconds from fct_incidents "
            "where source = 'opsgenie' order by incident_id"
        ).fetchall()
    open_start = datetime(2023, 9, 6, 14, 30, 56, 346000, tzinfo=UTC)
    to_as_of = (datetime.fromisoformat(as_of) - open_start).total_seconds()
    assert rows[0][:3] == (OPEN_ID, "checkout", True)
    assert rows[0][3] == pytest.approx(to_as_of, abs=1)
    # impactStartDate 18:20:28.003 to impactEndDate 18:21:21.49.
    assert rows[1][:3] == (RESOLVED_ID, "checkout", False)
    assert rows[1][3] == pytest.approx(53.487, abs=1)
