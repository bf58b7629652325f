"""The git source per partition: one key and one landing file per local repository.

The repositories are real git repositories built in ``tmp_path`` with the git
command. The jobs run in-process as the Dagster daemon would launch them: one
``extract_git`` run per partition, then the refresh job that merges the
landing files and builds the marts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import yaml

from dagster_project import landing, partitions, pipeline, warehouse
from dagster_project.config import ConfigError, load_config
from dagster_project.defs import extraction
from dagster_project.defs import git as git_defs
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.sources.git import GitSourceConfig, load_git_repository
from tests.mart_compare import table_differences
from tests.partition_runs import landing_metadata, materialize_source
from tests.test_git_source import GitRepo

AS_OF = "2026-12-01T00:00:00+00:00"
SHOP = "git:shop"
BILLING = "git:billing"
GIT_TABLES = list(git_defs.GIT_TABLES)


def build_repository(path: Path, changes: int, first_day: int) -> GitRepo:
    """Build a repository with merged and squashed pull requests, a revert and ``v*`` tags.

    Change ``i`` lands on day ``first_day + i // 3`` of November 2026. The tag
    ``v-tree`` points at a tree, so the repository also has one quarantined row.
    """
    repo = GitRepo(path)
    for index in range(1, changes + 1):
        day = f"2026-11-{first_day + index // 3:02d}"
        hour = index % 12 + 8
        repo.commit(f"Change {index} (#{100 + index})", authored=f"{day}T{hour:02d}:00:00Z")
        repo.git("checkout", "-q", "-b", f"feature-{index}")
        repo.commit(f"Work {index}", file="b.txt", authored=f"{day}T{hour:02d}:20:00Z")
        repo.git("checkout", "-q", "main")
        merge_message = f"Merge pull request #{200 + index} from o/feature-{index}"
        merge_time = repo.dates(f"{day}T{hour:02d}:40:00Z")
        repo.git("merge", "-q", "--no-ff", f"feature-{index}", "-m", merge_message, env=merge_time)
        if index % 3 == 0:
            repo.git("tag", f"v1.{index}")
    revert_time = repo.dates(f"2026-11-{first_day + changes // 3 + 1:02d}T09:00:00Z")
    repo.git("revert", "--no-edit", "HEAD~1", env=revert_time)
    repo.git("tag", "v2.0")
    repo.git("tag", "v-tree", repo.git("rev-parse", "HEAD^{tree}"))
    return repo


def write_config(folder: Path, repos: dict[str, Path]) -> Path:
    entries = [{"path": str(path), "repo": name} for name, path in repos.items()]
    path = folder / "dora.yml"
    path.write_text(yaml.safe_dump({"timezone": "UTC", "sources": {"git": entries}}))
    return path


def run_config(warehouse_path: Path, config: Path) -> dict[str, Any]:
    return {
        "resources": {
            "warehouse": {"config": {"path": str(warehouse_path)}},
            "landing_files": {"config": {"warehouse_path": str(warehouse_path)}},
            "run_settings": {"config": {"config_path": str(config), "as_of": AS_OF}},
        }
    }


def run_job(name: str, warehouse_path: Path, config: Path, instance, key: str | None = None):
    from dagster_project.definitions import defs

    return defs.resolve_job_def(name).execute_in_process(
        run_config=run_config(warehouse_path, config),
        instance=instance,
        partition_key=key,
        raise_on_error=False,
    )


def query(path: Path, sql: str) -> list[tuple]:
    with warehouse.open_warehouse(path, read_only=True) as con:
        return con.execute(sql).fetchall()


def failure_message(result) -> str:
    failure = next(event for event in result.all_events if event.is_step_failure)
    return str(failure.event_specific_data.error.message)


def rows_per_source(path: Path, table: str) -> dict[str, int]:
    return dict(query(path, f"select _source, count(*) from {table} group by 1"))


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("repos")
    return {
        "shop": build_repository(root / "shop", changes=12, first_day=2).path,
        "billing": build_repository(root / "billing", changes=7, first_day=10).path,
    }


def test_keys_follow_configuration(tmp_path, repos):
    instance = dg.DagsterInstance.ephemeral()
    config = write_config(tmp_path, repos)
    [change] = partitions.sync_keys(instance, load_config(config), [partitions.GIT])
    assert change.added == [SHOP, BILLING]
    assert instance.get_dynamic_partitions("git_repositories") == [SHOP, BILLING]

    config = write_config(tmp_path, {"billing": repos["billing"], "cats": tmp_path / "cats"})
    [change] = partitions.sync_keys(instance, load_config(config), [partitions.GIT])
    assert change.added == ["git:cats"]
    assert change.deleted == [SHOP]
    assert sorted(instance.get_dynamic_partitions("git_repositories")) == [BILLING, "git:cats"]

    override = RunSettingsResource(config_path=str(config), git_repo=str(repos["shop"]))
    assert partitions.configured_keys(partitions.GIT, override.load()) == [SHOP]


def test_repeated_repo_name_rejected(tmp_path, repos):
    path = tmp_path / "dora.yml"
    entries = [{"path": str(repos["shop"])}, {"path": str(repos["billing"]), "repo": "shop"}]
    path.write_text(yaml.safe_dump({"sources": {"git": entries}}))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "sources.git[1].repo: repo name 'shop' is already used by sources.git[0]" in message
    assert "set a distinct repo" in message


def test_sensor_requests_git_runs(tmp_path, repos):
    instance = dg.DagsterInstance.ephemeral()
    resources = {
        "run_settings": RunSettingsResource(config_path=str(write_config(tmp_path, repos)))
    }
    context = dg.build_sensor_context(instance=instance, resources=resources)
    result = extraction.extract_sources_sensor(context)

    added = [
        tuple(request.partition_keys)
        for request in result.dynamic_partitions_requests
        if request.partitions_def_name == "git_repositories"
    ]
    assert added == [(SHOP, BILLING)]
    git_runs = [run for run in result.run_requests if run.job_name == "extract_git"]
    assert [run.partition_key for run in git_runs] == [SHOP, BILLING]
    assert "extract_git" in extraction.EXTRACTION_JOB_NAMES


def test_partition_writes_only_its_landing_file(tmp_path, repos):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("git_repositories", [SHOP, BILLING])
    path = tmp_path / "w.duckdb"
    result = run_job("extract_git", path, write_config(tmp_path, repos), instance, key=BILLING)
    assert result.success

    root = landing.landing_root(path)
    billing = landing.landing_path(root, "git", BILLING)
    assert billing.is_file()
    assert not landing.landing_path(root, "git", SHOP).exists()
    assert not path.exists(), "an extraction run must not write the warehouse"
    assert list((root / "git").glob("*.draft.duckdb")) == []
    for table in GIT_TABLES:
        assert query(billing, f"select distinct _source from {table}") == [(BILLING,)], table
    assert query(billing, "select _source, entity from quarantine") == [
        (BILLING, "deployment_statuses")
    ]

    [metadata] = landing_metadata(pipeline.RefreshResult([result]), "git")
    assert metadata["rows_loaded"]["raw_git__commits"] == 7 * 3 + 1
    assert metadata["rows_loaded"]["raw_git__deployment_statuses"] == 3
    assert metadata["rows_quarantined"] == 1
    assert isinstance(extraction._request_merge(merge_context(instance, result)), dg.RunRequest)


def merge_context(instance, result) -> dg.RunStatusSensorContext:
    success = next(
        event for event in result.all_events if event.event_type_value == "PIPELINE_SUCCESS"
    )
    return dg.build_run_status_sensor_context(
        "merge_after_extraction_success", success, instance, result.dagster_run
    )


@pytest.mark.parametrize("broken", ["missing", "plain folder"])
def test_broken_repository_fails_alone(tmp_path, repos, broken):
    bad_path = tmp_path / "billing"
    if broken == "plain folder":
        bad_path.mkdir()
    config = write_config(tmp_path, {"shop": repos["shop"], "billing": bad_path})
    resources = {
        "warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb")),
        "run_settings": RunSettingsResource(config_path=str(config), as_of=AS_OF),
    }
    result = materialize_source(partitions.GIT, git_defs.defs.assets, resources)
    shop, billing, merge = result.runs

    assert shop.success
    assert not billing.success
    message = failure_message(billing)
    assert f"git partition {BILLING}" in message
    assert str(bad_path) in message
    expected = "does not exist" if broken == "missing" else "is not a git repository"
    assert expected in message
    assert f"run job extract_git for partition {BILLING} again" in message
    root = landing.landing_root(tmp_path / "w.duckdb")
    assert not landing.landing_path(root, "git", BILLING).exists()

    assert merge.success
    assert rows_per_source(tmp_path / "w.duckdb", "raw_git__commits") == {SHOP: 12 * 3 + 1}


def load_directly(path: Path, repos: dict[str, Path]) -> None:
    """Load each repository straight into the warehouse, as raw_git did before partitions."""
    with warehouse.open_warehouse(path) as con:
        for name, repo_path in repos.items():
            load_git_repository(con, GitSourceConfig(repo_path, repo=name))


def test_removed_repository_rows_deleted(tmp_path, repos):
    path = tmp_path / "w.duckdb"
    instance = dg.DagsterInstance.ephemeral()
    both = write_config(tmp_path, repos)
    resources = {
        "warehouse": WarehouseResource(path=str(path)),
        "run_settings": RunSettingsResource(config_path=str(both), as_of=AS_OF),
    }
    assert materialize_source(partitions.GIT, git_defs.defs.assets, resources, instance).success
    # Rows of a repository loaded before partitions existed, never a partition key.
    load_directly(path, {"legacy": repos["billing"]})
    assert set(rows_per_source(path, "raw_git__commits")) == {SHOP, BILLING, "git:legacy"}

    resources["run_settings"] = RunSettingsResource(
        config_path=str(write_config(tmp_path, {"shop": repos["shop"]})), as_of=AS_OF
    )
    result = materialize_source(partitions.GIT, git_defs.defs.assets, resources, instance)
    assert result.success
    for table in [*GIT_TABLES, "quarantine"]:
        assert set(rows_per_source(path, table)) == {SHOP}, table
    [materialization, *_] = result.asset_materializations_for_node("raw_git")
    deleted = materialization.metadata["removed_repositories_deleted"].value
    assert deleted == [BILLING, "git:legacy"]


def test_new_landing_file_keeps_moved_tag(tmp_path):
    repo = GitRepo(tmp_path / "moving")
    first = repo.commit("One")
    repo.git("tag", "v1")
    second = repo.commit("Two")
    path = tmp_path / "w.duckdb"
    load_directly(path, {"moving": repo.path})
    repo.git("tag", "-f", "v1", second)

    config = write_config(tmp_path, {"moving": repo.path})
    resources = {
        "warehouse": WarehouseResource(path=str(path)),
        "run_settings": RunSettingsResource(config_path=str(config), as_of=AS_OF),
    }
    result = materialize_source(partitions.GIT, git_defs.defs.assets, resources)
    assert result.success
    shas = query(
        path, "select sha from raw_git__deployment_statuses where deployment_id = 'tag:v1'"
    )
    assert sorted(row[0] for row in shas) == sorted([first, second])
    [metadata] = landing_metadata(result, "git")
    assert metadata["moved_tag_deployments"] == 1


@pytest.mark.slow
def test_fixed_partition_makes_marts_whole(tmp_path, repos):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("git_repositories", [SHOP, BILLING])
    path = tmp_path / "w.duckdb"
    billing_path = tmp_path / "clones" / "billing"
    config = write_config(tmp_path, {"shop": repos["shop"], "billing": billing_path})
    services_sql = "select distinct service from fct_deployments order by service"

    shop = run_job("extract_git", path, config, instance, key=SHOP)
    billing = run_job("extract_git", path, config, instance, key=BILLING)
    merged = run_job("refresh_all", path, config, instance)
    services_before = query(path, services_sql)

    build_repository(billing_path, changes=7, first_day=10)
    rerun = run_job("extract_git", path, config, instance, key=BILLING)
    merged_again = run_job("refresh_incremental", path, config, instance)

    assert shop.success
    assert not billing.success
    assert str(billing_path) in failure_message(billing)
    assert merged.success
    assert services_before == [("shop",)]
    assert rerun.success
    assert merged_again.success
    assert query(path, services_sql) == [("billing",), ("shop",)]
    assert rows_per_source(path, "raw_git__commits") == {SHOP: 12 * 3 + 1, BILLING: 7 * 3 + 1}


@pytest.mark.slow
def test_partitioned_refresh_matches_direct_load(tmp_path, repos):
    direct, partitioned = tmp_path / "direct", tmp_path / "partitioned"
    direct.mkdir()
    partitioned.mkdir()
    direct_config = write_config(direct, repos)
    load_directly(direct / "w.duckdb", repos)
    # No landing file exists here, so the merge keeps the directly loaded rows.
    reference = run_job(
        "refresh_all", direct / "w.duckdb", direct_config, dg.DagsterInstance.ephemeral()
    )
    result = pipeline.run_refresh_job(
        str(partitioned / "w.duckdb"),
        {"config_path": str(write_config(partitioned, repos)), "as_of": AS_OF},
    )
    assert reference.success
    assert result.success
    git_runs = [run for run in result.runs if run.dagster_run.job_name == "extract_git"]
    assert [run.dagster_run.tags["dagster/partition"] for run in git_runs] == [SHOP, BILLING]

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
        assert expected.execute("select count(*) from fct_deployments").fetchone()[0] > 0
        assert expected.execute("select count(*) from fct_changes").fetchone()[0] > 0
        for table in [*GIT_TABLES, "quarantine"]:
            assert table_differences(expected, actual, table, ("_loaded_at",)) == [], table
        for table in marts:
            assert table_differences(expected, actual, table) == [], table
