"""A source that stays down fails its own assets only; the next run catches up.

The GitHub repository's partition runs in-process, then the file source and
the GitHub merge. While the fake GitHub returns 503 for every request, the GitHub
extraction fails with an error
that names the URL and the status, the file source still loads, and the
GitHub rows and cursors of the earlier run stay as they were. When GitHub is
back, the next run succeeds and leaves no duplicate.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from dagster_project.defs import files as files_defs
from dagster_project.defs import github as github_defs
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.run_settings import RunSettingsResource
from dagster_project.partitions import GITHUB
from dagster_project.pipeline import RefreshResult
from tests.fakes.api_server import Fault
from tests.fakes.github_server import TOKEN, FakeGitHub
from tests.partition_runs import materialize_source
from tests.reliability_helpers import tiny_events


@pytest.fixture(scope="session")
def dbt_manifest():
    """Replace the shared dbt parse: these tests use no dbt model."""
    return None


def _run(tmp_path: Path, config: Path, events: Path) -> RefreshResult:
    return materialize_source(
        GITHUB,
        [files_defs.raw_files, *github_defs.GITHUB_ASSETS],
        resources={
            "warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb")),
            "run_settings": RunSettingsResource(config_path=str(config), events_dir=str(events)),
            # One retry (a one-second backoff) keeps the run short; the bound
            # itself is tested in test_reliability_http.py.
            "github": github_defs.GitHubResource(max_retries=1),
        },
    )


def _state(tmp_path: Path) -> dict[str, object]:
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        return {
            "files_commits": con.execute("select count(*) from raw_files__commits").fetchone()[0],
            "pulls": con.execute(
                "select count(*), count(distinct _record_key) from raw_github__pull_requests"
            ).fetchone(),
            "cursors": con.execute(
                "select _source, entity, cursor_value from pipeline_cursors "
                "where _source like 'github:%' order by 1, 2"
            ).fetchall(),
        }
    finally:
        con.close()


def test_github_down_fails_its_assets_keeps_the_rest_and_recovers(tmp_path, monkeypatch):
    monkeypatch.setenv("DORA_TEST_GITHUB_TOKEN", TOKEN)
    events = tiny_events(tmp_path / "events")
    with FakeGitHub() as server:
        section = {
            "base_url": server.base_url,
            "token_env": "DORA_TEST_GITHUB_TOKEN",
            "repos": [{"repo": "acme/ants", "services": ["ants"], "branch": "master"}],
        }
        config = tmp_path / "dora.yml"
        config.write_text(yaml.safe_dump({"sources": {"github": section}}))

        first = _run(tmp_path, config, events)
        before = _state(tmp_path)
        server.api.fail_next(Fault(503, body="<html>maintenance</html>"), times=10_000)
        down = _run(tmp_path, config, events)
        during = _state(tmp_path)
        server.api.faults.clear()
        back = _run(tmp_path, config, events)
        after = _state(tmp_path)

    assert first.success and back.success
    assert not down.success
    failures = [event for event in down.all_events if event.is_step_failure]
    assert failures and all("github" in event.step_key for event in failures)
    message = failures[0].event_specific_data.error.to_string()
    assert "returned 503 after 2 attempts" in message and server.base_url in message
    assert TOKEN not in message
    succeeded = {event.step_key for event in down.all_events if event.is_step_success}
    assert "raw_files" in succeeded

    assert before["files_commits"] == during["files_commits"] == after["files_commits"] == 6
    assert before["pulls"][0] > 0
    assert during["pulls"] == before["pulls"], "a failed run must not remove loaded rows"
    assert during["cursors"] == before["cursors"], "a failed run must not move a cursor"
    assert after["pulls"] == before["pulls"], "the catch-up run must not duplicate rows"
    assert after["pulls"][0] == after["pulls"][1]
