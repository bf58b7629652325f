"""Row builders of the GitHub and GitLab sources, on recorded objects and edited copies."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path

import pytest

from dagster_project.sources import github as gh
from dagster_project.sources import gitlab as gl
from dagster_project.sources.api_loading import services_for_paths
from dagster_project.timeparse import TimestampError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = gh.GitHubRepoConfig(repo="acme/ants", services=("ants", "web"))
PROJECT = gl.GitLabProjectConfig(project="acme/app", services=("app",))


@pytest.fixture(scope="session")
def dbt_manifest():
    """Replace the shared dbt parse: these tests use no dbt model."""
    return None


def load(path: str):
    return json.loads((FIXTURES / path).read_text())


def test_statuses_ordered_by_own_time():
    deployment = load("github/deployments.json")[0]
    statuses = load("github/deployment_statuses/263877258.json")
    shuffled = [statuses[1], statuses[0], statuses[2]]
    rows = gh.deployment_status_rows(REPO, deployment, shuffled)
    times = [row["state_at"] for row in rows]
    assert times == sorted(times)
    assert [row["record_index"] for row in rows] == [0, 1, 2]
    assert all(row["started_at"] <= row["state_at"] for row in rows)


def test_payload_service_wins():
    deployment = copy.deepcopy(load("github/deployments.json")[1])
    assert gh.deployment_service(REPO, deployment) == "ants"
    deployment["payload"] = {"service": "web"}
    assert gh.deployment_service(REPO, deployment) == "web"
    deployment["payload"] = json.dumps({"service": "web"})
    assert gh.deployment_service(REPO, deployment) == "web"


def test_merge_commit_only_when_merged():
    pulls = load("github/pulls.json")
    unmerged = next(pr for pr in pulls if pr["merged_at"] is None and pr["merge_commit_sha"])
    merged = next(pr for pr in pulls if pr["merged_at"])
    assert gh.pull_request_row("acme/ants", unmerged)["merge_commit_sha"] is None
    assert (
        gh.pull_request_row("acme/ants", merged)["merge_commit_sha"] == merged["merge_commit_sha"]
    )


def test_production_branch_flag():
    pr = load("github/pulls.json")[0]
    default = pr["base"]["repo"]["default_branch"]
    assert gh.pull_request_row("acme/ants", pr)["targets_production_branch"] is (
        pr["base"]["ref"] == default
    )
    assert gh.pull_request_row("acme/ants", pr, "release")["targets_production_branch"] is False


def test_commit_offsets_kept_in_utc():
    commit = next(
        c
        for c in load("github/commits_2012.json")
        if c["commit"]["author"]["date"].endswith("-08:00")
    )
    row = gh.commit_row("acme/ants", commit, "branch")
    local = commit["commit"]["author"]["date"]
    assert row["authored_at"].utcoffset().total_seconds() == 0
    assert row["authored_at"] == datetime.fromisoformat(local)
    assert json.loads(row["parent_shas"]) == [p["sha"] for p in commit["parents"]]


def test_revert_and_bot_detection():
    commit = copy.deepcopy(load("github/commits.json")[0])
    commit["commit"]["message"] = 'Revert "x"\n\nThis reverts commit ABCDEF1234567.'
    commit["author"] = {"login": "dependabot[bot]", "type": "Bot"}
    row = gh.commit_row("acme/ants", commit, "branch")
    assert row["reverted_sha"] == "abcdef1234567"
    assert row["is_bot"] is True
    assert row["subject"] == 'Revert "x"'


def test_completed_run_needs_job_times():
    run = next(
        r for r in load("github/workflow_runs.json")["workflow_runs"] if r["status"] == "completed"
    )
    with pytest.raises(ValueError, match="none of its jobs has completed_at"):
        gh.workflow_run_row(REPO, run, [{"completed_at": None}])
    row = gh.workflow_run_row(
        REPO,
        run,
        [{"completed_at": "2022-09-03T05:16:00Z"}, {"completed_at": "2022-09-03T05:15:00Z"}],
    )
    assert row["completed_at"].isoformat() == "2022-09-03T05:16:00+00:00"


def test_incident_service_label():
    issue = copy.deepcopy(next(i for i in load("github/issues.json") if "pull_request" not in i))
    issue["labels"] = [{"name": "bug"}, {"name": "service:web"}]
    assert gh.incident_row(REPO, issue)["service"] == "web"
    issue["state"] = "open"
    assert gh.incident_row(REPO, issue)["resolved_at"] is None


def test_offsetless_time_rejected():
    pr = copy.deepcopy(load("github/pulls.json")[0])
    pr["created_at"] = "2018-07-25T10:00:00"
    with pytest.raises(TimestampError, match="no UTC offset"):
        gh.pull_request_row("acme/ants", pr)


def test_gitlab_landing_commit_columns():
    mrs = load("gitlab/merge_requests.json")
    squashed = next(mr for mr in mrs if mr["squash_commit_sha"])
    row = gl.merge_request_row("acme/app", squashed, "master")
    assert row["squash_commit_sha"] == squashed["squash_commit_sha"]
    assert row["targets_production_branch"] is True
    opened = next(mr for mr in mrs if mr["state"] == "opened")
    assert gl.merge_request_row("acme/app", opened)["merge_commit_sha"] is None


def test_gitlab_deployment_own_status():
    deployment = load("gitlab/deployments.json")[0]
    row = gl.deployment_row(PROJECT, deployment, {"staging": "staging"})
    assert row["state"] == deployment["status"]
    assert row["pipeline_status"] == deployment["deployable"]["pipeline"]["status"]
    assert row["environment_tier"] == "staging"
    assert row["state_at"].isoformat().startswith("2019-03-13T14:17:47")


def test_paths_match_whole_folders():
    prefixes = {"services/api": "api", "web/": "web"}
    assert services_for_paths(["services/api2/x.py"], prefixes) == []
    assert services_for_paths(["services/api/x.py", "web/a.ts"], prefixes) == ["api", "web"]
