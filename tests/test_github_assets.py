"""The GitHub Dagster assets, run in-process per partition against the fake GitHub server."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from dagster_project import partitions, warehouse
from dagster_project.defs import github as github_defs
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from tests.fakes.github_server import TOKEN, FakeGitHub
from tests.partition_runs import landing_metadata, materialize_source


@pytest.fixture(scope="session")
def dbt_manifest():
    """Replace the shared dbt parse: these tests use no dbt model."""
    return None


def write_config(tmp_path: Path, base_url: str, extra_repos: tuple[str, ...] = ()) -> Path:
    config = {
        "sources": {
            "github": {
                "base_url": base_url,
                "token_env": "DORA_TEST_GITHUB_TOKEN",
                "repos": [
                    {
                        "repo": "acme/ants",
                        "services": ["ants"],
                        "branch": "master",
                        "deploy_workflow": "CodeQL",
                        "incident_label": "bug",
                    },
                    *extra_repos,
                ],
            }
        }
    }
    path = tmp_path / "dora.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def materialize(tmp_path: Path, config_path: Path | None, github=None):
    return materialize_source(
        partitions.GITHUB,
        github_defs.GITHUB_ASSETS,
        resources={
            "warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb")),
            "run_settings": RunSettingsResource(config_path=str(config_path or "")),
            "github": github or github_defs.GitHubResource(),
        },
    )


def test_assets_load_and_report_metadata(tmp_path, monkeypatch):
    monkeypatch.setenv("DORA_TEST_GITHUB_TOKEN", TOKEN)
    with FakeGitHub() as server:
        result = materialize(tmp_path, write_config(tmp_path, server.base_url))
    assert result.success
    materializations = {
        event.asset_key.path[-1]: event.metadata
        for event in result.get_asset_materialization_events()
        for event in [event.event_specific_data.materialization]
        if event.asset_key.path[0] == "raw"
    }
    assert set(materializations) == {
        "raw_github__pull_requests",
        "raw_github__pull_request_commits",
        "raw_github__deployment_statuses",
        "raw_github__workflow_runs",
        "raw_github__commits",
        "raw_github__compares",
        "raw_github__releases",
        "raw_github__tags",
        "raw_github__incidents",
    }
    assert materializations["raw_github__pull_requests"]["rows_merged"].value == 49
    [extracted] = landing_metadata(result, "github")
    assert extracted["rows_loaded"]["raw_github__pull_requests"] == 49
    assert extracted["api_requests"] >= 1
    assert "acme/ants:pull_requests" in extracted["cursors"]
    # Summed over every entity; it includes the pull request in the issue listing.
    assert extracted["objects_skipped"] >= 1
    messages = " ".join(event.message or "" for event in result.all_events)
    assert TOKEN not in messages
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        rows = con.execute("select count(*) from raw_github__tags").fetchone()[0]
    assert rows == 30


def test_assets_without_repositories_load_nothing(tmp_path):
    result = materialize(tmp_path, None)
    assert result.success
    for event in result.get_asset_materialization_events():
        assert event.event_specific_data.materialization.metadata["rows_merged"].value == 0


def test_missing_token_variable_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.delenv("DORA_TEST_GITHUB_TOKEN", raising=False)
    with FakeGitHub() as server:
        result = materialize(tmp_path, write_config(tmp_path, server.base_url))
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures
    assert "DORA_TEST_GITHUB_TOKEN is not set" in str(failures[0].event_specific_data.error)


def test_token_from_dagster_env_var(tmp_path, monkeypatch):
    monkeypatch.delenv("DORA_TEST_GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("DORA_TEST_DAGSTER_TOKEN", TOKEN)
    with FakeGitHub() as server:
        result = materialize(
            tmp_path,
            write_config(tmp_path, server.base_url),
            github_defs.GitHubResource(token=dg.EnvVar("DORA_TEST_DAGSTER_TOKEN")),
        )
        auth = {request.headers.get("authorization") for request in server.api.requests}
    assert result.success
    assert auth == {f"Bearer {TOKEN}"}
    messages = " ".join(event.message or "" for event in result.all_events)
    assert TOKEN not in messages


def test_several_repositories_per_run(tmp_path, monkeypatch):
    monkeypatch.setenv("DORA_TEST_GITHUB_TOKEN", TOKEN)
    with FakeGitHub(also_as=("acme/billing",)) as server:
        config = write_config(tmp_path, server.base_url, extra_repos=("acme/billing",))
        result = materialize(tmp_path, config)
    assert result.success
    with warehouse.open_warehouse(tmp_path / "w.duckdb") as con:
        rows = con.execute(
            "select _source, count(*), count(distinct repo) from raw_github__pull_requests "
            "group by _source order by _source"
        ).fetchall()
        services = con.execute(
            "select distinct service from raw_github__deployment_statuses "
            "where _source = 'github:acme/billing'"
        ).fetchall()
    assert rows == [("github:acme/ants", 49, 1), ("github:acme/billing", 49, 1)]
    assert services == [("billing",)]
