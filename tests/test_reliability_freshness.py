"""Source freshness: dbt's thresholds, measured in every refresh at its measurement time.

`dbt source freshness` warns for a raw table whose newest ``_loaded_at`` is
older than ``warn_after`` (2 days on the ``raw`` source in
dbt_project/models/sources.yml). Each refresh measures the same thresholds
itself in the ``source_freshness`` asset, counted to ``--as-of``, with one
Dagster asset check per raw table that warns when a source instance is stale.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import yaml

from dagster_project import cli, freshness, settings, warehouse
from dagster_project.dashboard import data as dashboard_data
from dagster_project.defs import files as files_defs
from dagster_project.defs import freshness as freshness_defs
from dagster_project.defs import github as github_defs
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.partitions import GITHUB
from dagster_project.pipeline import RefreshResult
from tests.fakes.api_server import Fault
from tests.fakes.github_server import TOKEN, FakeGitHub
from tests.partition_runs import materialize_source
from tests.reliability_helpers import tiny_events


def _commit(sha: str, loaded_at: datetime) -> dict:
    return {
        "_source": "test",
        "_record_key": sha,
        "_loaded_at": loaded_at,
        "repo": "default",
        "sha": sha,
        "parent_shas": "[]",
        "parent_count": 0,
        "authored_at": loaded_at,
        "committed_at": loaded_at,
        "is_bot": False,
    }


def test_stale_source_warns_and_fresh_source_passes(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    now = datetime.now(UTC)
    with warehouse.open_warehouse(path) as con:
        warehouse.ensure_raw_tables(con)
        warehouse.upsert_rows(con, "raw_files__commits", [_commit("old", now - timedelta(days=10))])
        warehouse.upsert_rows(con, "raw_git__commits", [_commit("new", now)])
    target = tmp_path / "target"
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "source",
            "freshness",
            "--select",
            "source:raw.raw_files__commits source:raw.raw_git__commits",
            "--target-path",
            str(target),
            "--project-dir",
            str(settings.DBT_PROJECT_DIR),
            "--profiles-dir",
            str(settings.DBT_PROJECT_DIR),
        ],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            settings.WAREHOUSE_ENV: str(path),
            "DBT_LOG_PATH": str(tmp_path / "logs"),
            **settings.OFFLINE_ENVIRONMENT,
        },
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = json.loads((target / "sources.json").read_text())["results"]
    status = {result["unique_id"].rsplit(".", 1)[-1]: result["status"] for result in results}
    assert status == {"raw_files__commits": "warn", "raw_git__commits": "pass"}
    assert "WARN" in completed.stdout


# Freshness in every refresh -------------------------------------------------------------------
#
# The source_freshness asset measures each raw table at the run's measurement
# time against the dbt thresholds and reports one asset check per table.

AS_OF = datetime(2024, 3, 20, tzinfo=UTC)


def _plant(path: Path, table: str, source: str, sha: str, loaded_at: datetime) -> None:
    row = {**_commit(sha, loaded_at), "_source": source}
    with warehouse.open_warehouse(path) as con:
        warehouse.ensure_raw_tables(con)
        if not table.startswith(("raw_files__", "raw_git__")):
            con.execute(
                f"create table if not exists {table} as select * from raw_files__commits limit 0"
            )
            warehouse.upsert_rows(
                con, table, [row], columns=warehouse.RAW_TABLES["raw_git__commits"]
            )
        else:
            warehouse.upsert_rows(con, table, [row])


def _measure(path: Path, as_of: datetime) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [freshness_defs.source_freshness],
        resources={
            "warehouse": WarehouseResource(path=str(path)),
            "run_settings": RunSettingsResource(as_of=as_of.isoformat()),
        },
    )


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()
    }


def test_stale_source_warns_fresh_passes(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    _plant(path, "raw_files__commits", "files", "old", AS_OF - timedelta(days=10))
    _plant(path, "raw_git__commits", "git:app", "new", AS_OF - timedelta(hours=1))
    # Two instances in one table: one stopped delivering, one did not.
    _plant(path, "raw_github__commits", "github:acme/down", "g1", AS_OF - timedelta(days=3))
    _plant(path, "raw_github__commits", "github:acme/up", "g2", AS_OF - timedelta(hours=2))

    result = _measure(path, AS_OF)

    assert result.success, "a stale source warns; it does not fail the run"
    checks = _checks(result)
    stale = checks["raw_files__commits_is_fresh"]
    assert not stale.passed
    assert stale.severity == dg.AssetCheckSeverity.WARN
    assert "raw_files__commits (files)" in stale.description
    assert "10.0 days before the measurement time 2024-03-20T00:00:00+00:00" in stale.description
    assert checks["raw_git__commits_is_fresh"].passed
    github = checks["raw_github__commits_is_fresh"]
    assert not github.passed
    assert "github:acme/down" in github.description
    assert "github:acme/up" not in github.description
    assert checks["raw_files__incidents_is_fresh"].passed, "an empty table is not measured"
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select table_name, source_instance, status, age_seconds from source_freshness "
            "order by 1, 2"
        ).fetchall()
    assert rows == [
        ("raw_files__commits", "files", "warn", 10 * 86400.0),
        ("raw_git__commits", "git:app", "pass", 3600.0),
        ("raw_github__commits", "github:acme/down", "warn", 3 * 86400.0),
        ("raw_github__commits", "github:acme/up", "pass", 7200.0),
    ]
    [materialization] = result.asset_materializations_for_node("source_freshness")
    assert [item["source_instance"] for item in materialization.metadata["stale"].value] == [
        "files",
        "github:acme/down",
    ]


def test_stale_source_shown_by_cli_and_dashboard(tmp_path: Path, capsys) -> None:
    path = tmp_path / "w.duckdb"
    _plant(path, "raw_files__commits", "files", "old", AS_OF - timedelta(days=10))
    _plant(path, "raw_git__commits", "git:app", "new", AS_OF - timedelta(hours=1))
    result = _measure(path, AS_OF)
    capsys.readouterr()  # drop the run's own log lines

    cli._print_freshness_warnings(result)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("dora refresh: warn: stale: raw_files__commits (files)")
    with duckdb.connect(str(path), read_only=True) as con:
        quality = dashboard_data._data_quality(con, dashboard_data.existing_tables(con))
    assert [(row["table_name"], row["status"]) for row in quality["stale_sources"]] == [
        ("raw_files__commits", "warn")
    ]
    assert quality["stale_sources"][0]["age_hours"] == 240.0


def test_age_counted_to_as_of(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    _plant(path, "raw_files__commits", "files", "old", AS_OF - timedelta(days=10))

    early = _checks(_measure(path, AS_OF - timedelta(days=9)))["raw_files__commits_is_fresh"]
    late = _checks(_measure(path, AS_OF))["raw_files__commits_is_fresh"]

    assert early.passed, early.description
    assert not late.passed
    # Rows loaded after the measurement time have age zero, not a negative age.
    before = _checks(_measure(path, AS_OF - timedelta(days=20)))["raw_files__commits_is_fresh"]
    assert before.passed
    assert before.metadata["source_instances"].value["files"]["age_hours"] == 0


def test_quiet_source_with_new_cursor_is_fresh(tmp_path: Path) -> None:
    """A successful read that wrote no row still stores its cursor, which counts as a load."""
    path = tmp_path / "w.duckdb"
    old = AS_OF - timedelta(days=10)
    _plant(path, "raw_github__commits", "github:acme/quiet", "q1", old)
    _plant(path, "raw_github__commits", "github:acme/other", "o1", old)
    _plant(path, "raw_github__commits", "github:acme/failing", "f1", old)
    with warehouse.open_warehouse(path) as con:
        con.execute(
            "insert into pipeline_cursors values (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?)",
            [
                *("github:acme/quiet", "commits", "sha-1", AS_OF - timedelta(hours=1)),
                # A cursor of another entity says nothing about this table.
                *("github:acme/other", "pull_requests", "x", AS_OF - timedelta(hours=1)),
                *("github:acme/failing", "commits", "sha-2", old),
            ],
        )

    evaluation = _checks(_measure(path, AS_OF))["raw_github__commits_is_fresh"]

    statuses = {
        instance: value["status"]
        for instance, value in evaluation.metadata["source_instances"].value.items()
    }
    assert statuses == {
        "github:acme/failing": "warn",
        "github:acme/other": "warn",
        "github:acme/quiet": "pass",
    }
    assert not evaluation.passed


def test_thresholds_come_from_the_dbt_project(tmp_path: Path) -> None:
    """A copy of the dbt project with other thresholds, parsed by dbt, changes the verdict."""
    project = tmp_path / "dbt_project"
    shutil.copytree(
        settings.DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs")
    )
    sources = project / "models" / "sources.yml"
    text = sources.read_text()
    assert "warn_after: {count: 2, period: day}" in text
    sources.write_text(
        text.replace(
            "warn_after: {count: 2, period: day}",
            "warn_after: {count: 6, period: hour}\n        error_after: {count: 1, period: day}",
        )
    )
    target = tmp_path / "target"
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "parse",
            "--target-path",
            str(target),
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
        ],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            settings.WAREHOUSE_ENV: str(tmp_path / "parse.duckdb"),
            "DBT_LOG_PATH": str(tmp_path / "logs"),
            **settings.OFFLINE_ENVIRONMENT,
        },
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    tables = {
        table.table: table
        for table in freshness.source_tables(json.loads((target / "manifest.json").read_text()))
    }
    files_commits = tables["raw_files__commits"]
    assert files_commits.warn_after == timedelta(hours=6)
    assert files_commits.error_after == timedelta(days=1)
    # The API sources keep the project-wide threshold of dbt_project.yml.
    assert tables["raw_github__commits"].warn_after == timedelta(days=2)
    assert "containment__commit_deployments" not in tables

    path = tmp_path / "w.duckdb"
    _plant(path, "raw_files__commits", "files", "a", AS_OF - timedelta(hours=7))
    _plant(path, "raw_git__commits", "git:app", "b", AS_OF - timedelta(days=2))
    with warehouse.open_warehouse(path) as con:
        found = {
            finding.table.table: finding.status
            for finding in freshness.measure(con, tables.values(), AS_OF)
        }
    assert found == {"raw_files__commits": "warn", "raw_git__commits": "error"}


def test_down_source_stale_in_failed_run(tmp_path: Path, monkeypatch) -> None:
    """GitHub loads, its rows age three days, then GitHub is down for the next run.

    The GitHub extraction fails, and the merge and freshness steps that follow
    still measure: GitHub's tables warn, the file source loaded in this run passes.
    """
    monkeypatch.setenv("DORA_TEST_GITHUB_TOKEN", TOKEN)
    events = tiny_events(tmp_path / "events")
    path = tmp_path / "w.duckdb"
    assets = [files_defs.raw_files, *github_defs.GITHUB_ASSETS, freshness_defs.source_freshness]
    with FakeGitHub() as server:
        section = {
            "base_url": server.base_url,
            "token_env": "DORA_TEST_GITHUB_TOKEN",
            "repos": [{"repo": "acme/ants", "services": ["ants"], "branch": "master"}],
        }
        config = tmp_path / "dora.yml"
        config.write_text(yaml.safe_dump({"sources": {"github": section}}))

        def run() -> RefreshResult:
            return materialize_source(
                GITHUB,
                assets,
                resources={
                    "warehouse": WarehouseResource(path=str(path)),
                    "run_settings": RunSettingsResource(
                        config_path=str(config), events_dir=str(events)
                    ),
                    "github": github_defs.GitHubResource(max_retries=0),
                },
            )

        first = run()
        # The merge after the failed run copies the landing file again, so its rows age too.
        for database in [path, *(tmp_path / "w.landing").rglob("*.duckdb")]:
            with duckdb.connect(str(database)) as con:
                for (table,) in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_name like 'raw_github__%'"
                ).fetchall():
                    con.execute(f"update {table} set _loaded_at = _loaded_at - interval 3 days")
                con.execute(
                    "update pipeline_cursors set updated_at = updated_at - interval 3 days "
                    "where _source like 'github:%'"
                )
        server.api.fail_next(Fault(503, body="<html>maintenance</html>"), times=10_000)
        down = run()

    assert first.success
    first_checks = _checks(first)
    assert first_checks["raw_github__pull_requests_is_fresh"].passed
    assert not down.success
    failed = {event.step_key for event in down.all_events if event.is_step_failure}
    assert failed and all("github" in step for step in failed), failed
    checks = _checks(down)
    pulls = checks["raw_github__pull_requests_is_fresh"]
    assert not pulls.passed
    assert pulls.severity == dg.AssetCheckSeverity.WARN
    assert "github:acme/ants" in pulls.description
    assert checks["raw_files__commits_is_fresh"].passed
    with duckdb.connect(str(path), read_only=True) as con:
        statuses = dict(
            con.execute(
                "select table_name, status from source_freshness "
                "where table_name in ('raw_github__pull_requests', 'raw_files__commits')"
            ).fetchall()
        )
    assert statuses == {"raw_github__pull_requests": "warn", "raw_files__commits": "pass"}
