"""Extraction per partition: keys follow the configuration, runs touch only their item.

Two repositories, ``acme/ants`` and ``acme/billing``, are served by the fake
GitHub server on 127.0.0.1 with the same recorded data. The jobs run
in-process as the Dagster daemon would launch them: one run per partition,
then the refresh job that merges the landing files and builds the marts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import yaml

from dagster_project import landing, partitions, pipeline, warehouse
from dagster_project.config import load_config
from dagster_project.defs import extraction
from dagster_project.defs import github as github_defs
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.sources.github import GITHUB_TABLES
from dagster_project.sources.github_extract import EXTRACTORS
from tests.fakes.github_server import TOKEN, FakeGitHub
from tests.mart_compare import table_differences

AS_OF = "2031-01-01T00:00:00+00:00"
ANTS = "github:acme/ants"
BILLING = "github:acme/billing"
# _loaded_at is the load time; every other column must match.
IGNORED = ("_loaded_at",)


def write_config(folder: Path, base_url: str, repos: list[str]) -> Path:
    section = {
        "base_url": base_url,
        "token_env": "DORA_TEST_GITHUB_TOKEN",
        "repos": [{"repo": repo, "services": [repo.split("/")[1]]} for repo in repos],
    }
    path = folder / "dora.yml"
    path.write_text(yaml.safe_dump({"timezone": "UTC", "sources": {"github": section}}))
    return path


def stored_keys(instance: dg.DagsterInstance) -> list[str]:
    return list(instance.get_dynamic_partitions(partitions.GITHUB.partitions.name))


def run_config(folder: Path, config: Path) -> dict[str, Any]:
    path = str(folder / "w.duckdb")
    return {
        "resources": {
            "warehouse": {"config": {"path": path}},
            "landing_files": {"config": {"warehouse_path": path}},
            "run_settings": {"config": {"config_path": str(config), "as_of": AS_OF}},
            # No retry, so a broken repository fails at once.
            "github": {"config": {"max_retries": 0}},
        }
    }


def run_job(name: str, folder: Path, config: Path, instance, key: str | None = None):
    from dagster_project.definitions import defs

    return defs.resolve_job_def(name).execute_in_process(
        run_config=run_config(folder, config),
        instance=instance,
        partition_key=key,
        raise_on_error=False,
    )


def query(path: Path, sql: str) -> list[tuple]:
    with warehouse.open_warehouse(path, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_keys_follow_configuration(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    config = write_config(tmp_path, "http://127.0.0.1:9", ["acme/ants", "acme/billing"])
    changes = partitions.sync_keys(instance, load_config(config))
    assert stored_keys(instance) == [ANTS, BILLING]
    assert {change.source.kind: change.added for change in changes}["github"] == [ANTS, BILLING]

    config = write_config(tmp_path, "http://127.0.0.1:9", ["acme/billing", "acme/cats"])
    [github] = partitions.sync_keys(instance, load_config(config), [partitions.GITHUB])
    assert github.added == ["github:acme/cats"]
    assert github.deleted == [ANTS]
    assert sorted(stored_keys(instance)) == [BILLING, "github:acme/cats"]


def test_incident_sections_are_one_key_each(tmp_path):
    config = tmp_path / "dora.yml"
    sources = {
        "pagerduty": {"source_name": "pagerduty-eu"},
        "opsgenie": {"enabled": False},
        "statuspage": {"location": "history.jsonl"},
    }
    config.write_text(yaml.safe_dump({"sources": sources}))
    loaded = load_config(config)
    assert partitions.configured_keys(partitions.PAGERDUTY, loaded) == ["pagerduty-eu"]
    assert partitions.configured_keys(partitions.OPSGENIE, loaded) == []
    assert partitions.configured_keys(partitions.STATUSPAGE, loaded) == ["statuspage"]


def test_sensor_syncs_keys_and_requests_runs_hourly(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(partitions.GITHUB.partitions.name, [ANTS])
    config = write_config(tmp_path, "http://127.0.0.1:9", ["acme/billing"])
    resources = {"run_settings": RunSettingsResource(config_path=str(config))}
    context = dg.build_sensor_context(instance=instance, resources=resources)
    result = extraction.extract_sources_sensor(context)

    requests = {
        (type(request).__name__, request.partitions_def_name, tuple(request.partition_keys))
        for request in result.dynamic_partitions_requests
    }
    assert requests == {
        ("AddDynamicPartitionsRequest", "github_repositories", (BILLING,)),
        ("DeleteDynamicPartitionsRequest", "github_repositories", (ANTS,)),
    }
    [run] = result.run_requests
    assert run.job_name == "extract_github"
    assert run.partition_key == BILLING
    assert run.tags[extraction.BATCH_TAG] == result.cursor

    context = dg.build_sensor_context(instance=instance, resources=resources, cursor=result.cursor)
    assert extraction.extract_sources_sensor(context).run_requests == []


def test_partition_fetches_only_its_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("DORA_TEST_GITHUB_TOKEN", TOKEN)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(partitions.GITHUB.partitions.name, [ANTS, BILLING])
    with FakeGitHub(also_as=("acme/billing",)) as server:
        config = write_config(tmp_path, server.base_url, ["acme/ants", "acme/billing"])
        result = run_job("extract_github", tmp_path, config, instance, key=BILLING)
        paths = [request.path for request in server.api.requests]
    assert result.success
    repo_paths = [path for path in paths if path.startswith("/repos/")]
    assert repo_paths
    assert all(path.startswith("/repos/acme/billing") for path in repo_paths), repo_paths[:5]

    root = landing.landing_root(tmp_path / "w.duckdb")
    assert landing.landing_path(root, "github", BILLING).is_file()
    assert not landing.landing_path(root, "github", ANTS).exists()
    assert not (tmp_path / "w.duckdb").exists(), "an extraction run must not write the warehouse"
    assert list((root / "github").glob("*.draft.duckdb")) == []
    sources = query(
        landing.landing_path(root, "github", BILLING),
        "select distinct _source from raw_github__pull_requests",
    )
    assert sources == [(BILLING,)]
    check_merge_sensor(instance, result)


def job_success_event(result) -> dg.DagsterEvent:
    return next(
        event for event in result.all_events if event.event_type_value == "PIPELINE_SUCCESS"
    )


def merge_decision(instance, result, run: dg.DagsterRun):
    context = dg.build_run_status_sensor_context(
        "merge_after_extraction_success", job_success_event(result), instance, run
    )
    return extraction._request_merge(context)


def check_merge_sensor(instance: dg.DagsterInstance, result) -> None:
    """The merge is requested after a run without a batch, or after the last run of a batch."""
    alone = merge_decision(instance, result, result.dagster_run)
    assert isinstance(alone, dg.RunRequest)

    batch = {extraction.BATCH_TAG: "2031-01-01T00:00Z"}
    finished = result.dagster_run.with_tags(batch)
    waiting = dg.DagsterRun(
        job_name="extract_github", tags=batch, status=dg.DagsterRunStatus.STARTED
    )
    instance.add_run(waiting)
    assert isinstance(merge_decision(instance, result, finished), dg.SkipReason)
    instance.delete_run(waiting.run_id)
    assert isinstance(merge_decision(instance, result, finished), dg.RunRequest)

    refresh = dg.DagsterRun(job_name="refresh_incremental")
    assert isinstance(merge_decision(instance, result, refresh), dg.SkipReason)


def break_repository(server: FakeGitHub, prefix: str) -> dict[str, bool]:
    """Return status 500 for every request under ``prefix`` while the returned switch is on."""
    switch = {"on": True}
    dispatch = server.api._dispatch

    def failing(path, query, headers, request):
        if switch["on"] and path.startswith(prefix):
            return 500, {}, '{"message": "server error"}'
        return dispatch(path, query, headers, request)

    server.api._dispatch = failing
    return switch


@pytest.mark.slow
def test_failed_partition_reruns_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("DORA_TEST_GITHUB_TOKEN", TOKEN)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(partitions.GITHUB.partitions.name, [ANTS, BILLING])
    path = tmp_path / "w.duckdb"
    services_sql = "select distinct service from fct_deployments order by service"
    with FakeGitHub(also_as=("acme/billing",)) as server:
        config = write_config(tmp_path, server.base_url, ["acme/ants", "acme/billing"])
        switch = break_repository(server, "/repos/acme/billing")
        ants = run_job("extract_github", tmp_path, config, instance, key=ANTS)
        billing = run_job("extract_github", tmp_path, config, instance, key=BILLING)
        merged = run_job("refresh_all", tmp_path, config, instance)
        services_before = query(path, services_sql)

        switch["on"] = False
        requests_before = len(server.api.requests)
        rerun = run_job("extract_github", tmp_path, config, instance, key=BILLING)
        rerun_paths = [request.path for request in server.api.requests[requests_before:]]
        merged_again = run_job("refresh_incremental", tmp_path, config, instance)

    assert ants.success
    assert not billing.success
    failure = next(event for event in billing.all_events if event.is_step_failure)
    assert "acme/billing" in str(failure.event_specific_data.error)
    assert merged.success
    assert services_before == [("ants",)]

    assert rerun.success
    assert all(p.startswith("/repos/acme/billing") for p in rerun_paths if p.startswith("/repos"))
    assert merged_again.success
    assert query(path, services_sql) == [("ants",), ("billing",)]
    pulls = query(
        path, "select _source, count(*) from raw_github__pull_requests group by 1 order by 1"
    )
    assert pulls == [(ANTS, 49), (BILLING, 49)]


def load_directly(path: Path, config: Path) -> None:
    """Load both repositories straight into the warehouse, as the assets did before partitions."""
    resource = github_defs.GitHubResource(max_retries=0)
    run_settings = RunSettingsResource(config_path=str(config))
    context = dg.build_asset_context()
    github_config = resource.settings(run_settings)
    with warehouse.open_warehouse(path) as con:
        warehouse.ensure_raw_tables(con)
    for repo in github_config.repos:

        def connect(repo_path=path):
            return warehouse.open_warehouse(repo_path)

        resource.run(context, run_settings, repo.source, connect, list(EXTRACTORS))


@pytest.mark.slow
def test_partitioned_refresh_matches_direct_load(tmp_path, monkeypatch):
    monkeypatch.setenv("DORA_TEST_GITHUB_TOKEN", TOKEN)
    direct, partitioned = tmp_path / "direct", tmp_path / "partitioned"
    direct.mkdir()
    partitioned.mkdir()
    with FakeGitHub(also_as=("acme/billing",)) as server:
        repos = ["acme/ants", "acme/billing"]
        direct_config = write_config(direct, server.base_url, repos)
        load_directly(direct / "w.duckdb", direct_config)
        # No landing file exists here, so the merge keeps the directly loaded rows.
        reference = run_job("refresh_all", direct, direct_config, dg.DagsterInstance.ephemeral())
        result = pipeline.run_refresh_job(
            str(partitioned / "w.duckdb"),
            {"config_path": str(write_config(partitioned, server.base_url, repos)), "as_of": AS_OF},
        )
    assert reference.success
    assert result.success
    assert len(result.runs) == 3, "two partition runs, then the refresh job"

    tables = [*GITHUB_TABLES, "quarantine", "pipeline_cursors"]
    with (
        duckdb.connect(str(direct / "w.duckdb"), read_only=True) as expected,
        duckdb.connect(str(partitioned / "w.duckdb"), read_only=True) as actual,
    ):
        marts = [
            row[0]
            for row in expected.execute(
                "select table_name from duckdb_tables() "
                "where regexp_matches(table_name, '^(fct|dim|dora|dq)_')"
            ).fetchall()
        ]
        assert "fct_deployments" in marts
        assert expected.execute("select count(*) from fct_deployments").fetchone()[0] > 0
        for table in tables:
            ignored = ("updated_at",) if table == "pipeline_cursors" else IGNORED
            assert table_differences(expected, actual, table, ignored) == [], table
        for table in marts:
            assert table_differences(expected, actual, table) == [], table
