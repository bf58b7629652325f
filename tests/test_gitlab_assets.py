"""The GitLab Dagster assets, run in-process per partition against the fake GitLab server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dagster_project import partitions, warehouse
from dagster_project.defs import gitlab as gitlab_defs
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from tests.fakes.gitlab_server import TOKEN, FakeGitLab
from tests.partition_runs import landing_metadata, materialize_source


@pytest.fixture(scope="session")
def dbt_manifest():
    """Replace the shared dbt parse: these tests use no dbt model."""
    return None


def write_config(tmp_path: Path, base_url: str) -> Path:
    config = {
        "sources": {
            "gitlab": {
                "base_url": base_url,
                "token_env": "DORA_TEST_GITLAB_TOKEN",
                "projects": [
                    {"project": "acme/app", "services": ["app"], "deploy_pipeline_ref": "master"}
                ],
            }
        }
    }
    path = tmp_path / "dora.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def materialize(tmp_path: Path, config_path: Path | None):
    return materialize_source(
        partitions.GITLAB,
        gitlab_defs.GITLAB_ASSETS,
        resources={
            "warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb")),
            "run_settings": RunSettingsResource(config_path=str(config_path or "")),
            "gitlab": gitlab_defs.GitLabResource(),
        },
    )


def materializations(result) -> dict:
    return {
        event.asset_key.path[-1]: event.event_specific_data.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key.path[0] == "raw"
    }


def test_assets_load_and_report_metadata(tmp_path, monkeypatch):
    monkeypatch.setenv("DORA_TEST_GITLAB_TOKEN", TOKEN)
    with FakeGitLab() as server:
        first = materialize(tmp_path, write_config(tmp_path, server.base_url))
        second = materialize(tmp_path, write_config(tmp_path, server.base_url))
    assert first.success
    assert second.success
    loaded = materializations(first)
    assert set(loaded) == {
        "raw_gitlab__merge_requests",
        "raw_gitlab__merge_request_commits",
        "raw_gitlab__deployment_statuses",
        "raw_gitlab__pipelines",
        "raw_gitlab__commits",
        "raw_gitlab__compares",
        "raw_gitlab__incidents",
    }
    assert loaded["raw_gitlab__merge_requests"]["rows_merged"].value == 19
    [extracted] = landing_metadata(second, "gitlab")
    assert extracted["rows_loaded"]["raw_gitlab__merge_request_commits"] == 0
    messages = " ".join(event.message or "" for event in first.all_events)
    assert TOKEN not in messages
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        assert con.execute("select count(*) from raw_gitlab__merge_requests").fetchone()[0] == 19


def test_assets_without_projects_load_nothing(tmp_path):
    result = materialize(tmp_path, None)
    assert result.success
    for metadata in materializations(result).values():
        assert metadata["rows_merged"].value == 0
