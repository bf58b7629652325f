"""Metrics from the GitHub and GitLab API paths agree with the same events as neutral files.

One warehouse is refreshed with the GitHub and GitLab sources pointed at the
fake servers. Another is refreshed from neutral-form files that this test
derives from the same API objects with its own mapping, written
independently of the source code. The marts of both must give the same
DORA metrics.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from dagster_project import metrics, pipeline, warehouse
from dagster_project.settings import DBT_PROJECT_DIR
from tests.conftest import write_events
from tests.fakes.github_server import TOKEN as GITHUB_TOKEN
from tests.fakes.github_server import FakeGitHub
from tests.fakes.gitlab_server import TOKEN as GITLAB_TOKEN
from tests.fakes.gitlab_server import FakeGitLab
from tests.test_github_extract import REPO, commits_by_time
from tests.test_gitlab_extract import PROJECT, mark_incidents, mr_commit_shas

AS_OF = "2031-01-01T00:00:00+00:00"
WINDOWS = [
    ("2013-04-01T00:00:00+00:00", "2013-05-01T00:00:00+00:00"),
    ("2018-07-01T00:00:00+00:00", "2019-09-01T00:00:00+00:00"),
    ("2020-05-01T00:00:00+00:00", "2020-06-01T00:00:00+00:00"),
    ("2023-11-01T00:00:00+00:00", "2023-12-01T00:00:00+00:00"),
]
SERVICES = [REPO.services[0], PROJECT.services[0], "billing"]
# Deployments only: the recorded workflow runs belong to another repository.
CONFIG = dataclasses.replace(REPO, deploy_workflow=None, deploy_branch=None)


def unions_include_github() -> bool:
    models = DBT_PROJECT_DIR / "models" / "intermediate"
    names = (
        "int_commits.sql",
        "int_deployment_status_events.sql",
        "int_pull_requests.sql",
        "int_incidents__records.sql",
    )
    texts = [(models / name).read_text() for name in names]
    return all("stg_github__" in text and "stg_gitlab__" in text for text in texts)


pytestmark = pytest.mark.skipif(
    not unions_include_github(),
    reason="the intermediate union lists do not include the GitHub and GitLab models yet",
)


def stage_activity(server: FakeGitHub) -> None:
    """Add deployments, a rollback, a merged pull request and an incident in April 2013."""
    ordered = commits_by_time()
    plan = [
        (9001, 10, "2013-04-10T10:00:00Z", "success"),
        (9002, 20, "2013-04-11T08:00:00Z", "failure"),
        (9003, 30, "2013-04-11T10:00:00Z", "success"),
        (9004, 46, "2013-04-12T10:00:00Z", "success"),
        (9005, 30, "2013-04-13T10:00:00Z", "success"),
    ]
    for deployment_id, index, at, final in plan:
        server.add_deployment(
            deployment_id,
            ordered[index]["sha"],
            "production",
            at,
            [
                ("in_progress", at.replace(":00:00Z", ":01:00Z")),
                (final, at.replace(":00:00Z", ":09:00Z")),
            ],
        )
    server.add_status(9004, "inactive", "2013-04-13T10:09:00Z")
    merged = copy.deepcopy(server.pulls[0])
    merged.update(
        {
            "number": 5001,
            "created_at": "2013-03-27T09:00:00Z",
            "updated_at": "2013-03-28T20:53:00Z",
            "merged_at": "2013-03-28T20:52:49Z",
            "closed_at": "2013-03-28T20:52:49Z",
            "merge_commit_sha": ordered[40]["sha"],
            "state": "closed",
            "labels": [{"name": "hotfix"}],
        }
    )
    server.pulls.append(merged)
    incident = copy.deepcopy(next(i for i in server.issues if "pull_request" not in i))
    incident.update(
        {
            "number": 9100,
            "labels": [{"name": "bug"}],
            "state": "closed",
            "created_at": "2013-04-12T12:00:00Z",
            "closed_at": "2013-04-12T13:30:00Z",
            "updated_at": "2013-04-12T13:30:00Z",
            "state_reason": "completed",
        }
    )
    server.issues.append(incident)


def neutral_commits(server: FakeGitHub) -> list[dict]:
    pr_of_commit = {}
    for number, commits in sorted(server.pull_commits.items()):
        for commit in commits:
            pr_of_commit.setdefault(commit["sha"], number)
    listed = {c["sha"]: c for c in server.commits}
    for commits in server.pull_commits.values():
        for commit in commits:
            listed.setdefault(commit["sha"], commit)
    return [
        {
            "repo": REPO.repo,
            "sha": c["sha"],
            "parent_shas": [p["sha"] for p in c["parents"]],
            "authored_at": c["commit"]["author"]["date"],
            "committed_at": c["commit"]["committer"]["date"],
            "message": c["commit"]["message"],
            "is_bot": bool(c.get("author") and c["author"].get("type") == "Bot"),
            "pr_number": pr_of_commit.get(c["sha"]),
        }
        for c in listed.values()
    ]


def neutral_pull_requests(server: FakeGitHub) -> list[dict]:
    return [
        {
            "repo": REPO.repo,
            "number": pr["number"],
            "opened_at": pr["created_at"],
            "merged_at": pr["merged_at"],
            "merge_commit_sha": pr["merge_commit_sha"] if pr["merged_at"] else None,
            "title": pr["title"],
            "head_ref": pr["head"]["ref"],
            "labels": [label["name"] for label in pr["labels"]],
            "is_bot": pr["user"]["type"] == "Bot",
            "created_as_draft": bool(pr.get("draft")),
        }
        for pr in server.pulls
        if pr["base"]["ref"] == "master"
    ]


def neutral_deployments(server: FakeGitHub) -> list[dict]:
    rows = []
    for deployment in server.deployments:
        statuses = sorted(
            server.statuses.get(deployment["id"], []), key=lambda s: (s["created_at"], s["id"])
        )
        history = [{"state": s["state"], "at": s["created_at"]} for s in statuses]
        rows.append(
            {
                "id": str(deployment["id"]),
                "repo": REPO.repo,
                "service": REPO.services[0],
                "environment": deployment["environment"],
                "sha": deployment["sha"],
                "started_at": deployment["created_at"],
                "status_history": history or [{"state": "pending", "at": deployment["created_at"]}],
            }
        )
    return rows


def neutral_incidents(server: FakeGitHub) -> list[dict]:
    return [
        {
            "id": f"{REPO.repo}#{issue['number']}",
            "service": REPO.services[0],
            "opened_at": issue["created_at"],
            "resolved_at": issue["closed_at"] if issue["state"] == "closed" else None,
            "updated_at": issue["updated_at"],
            "resolution_reason": issue.get("state_reason"),
            "is_production": True,
        }
        for issue in server.issues
        if "bug" in {label["name"] for label in issue["labels"]} and "pull_request" not in issue
    ]


def neutral_events(server: FakeGitHub) -> dict[str, list[dict]]:
    """Map the served API objects to the neutral event form, independently of the source code."""
    return {
        "commits": neutral_commits(server),
        "pull_requests": neutral_pull_requests(server),
        "deployments": neutral_deployments(server),
        "incidents": neutral_incidents(server),
    }


def stage_gitlab_activity(server: FakeGitLab) -> None:
    """Add production deployments of merge-request commits in May 2020, and incidents."""
    shas = mr_commit_shas(server)
    server.add_deployment(8001, shas[5], "production", "success", "2020-05-04T10:00:00Z")
    server.add_deployment(8002, shas[20], "production", "failed", "2020-05-05T10:00:00Z")
    server.add_deployment(8003, shas[30], "production", "success", "2020-05-06T10:00:00Z")
    server.add_deployment(8004, shas[36], "live", "success", "2020-05-07T10:00:00Z")
    mark_incidents(server)


def gitlab_neutral_commits(server: FakeGitLab, merged_at: dict[int, str]) -> list[dict]:
    listed = {mr["iid"] for mr in server.merge_requests}
    links: dict[str, tuple[str, int]] = {}
    for iid, commits in server.mr_commits.items():
        if iid not in listed:
            continue
        for commit in commits:
            rank = (merged_at.get(iid) or "9999", iid)
            links[commit["id"]] = min(links.get(commit["id"], rank), rank)
    return [
        {
            "repo": PROJECT.project,
            "sha": c["id"],
            "parent_shas": c["parent_ids"],
            "authored_at": c["authored_date"],
            "committed_at": c["committed_date"],
            "message": c["message"],
            "is_bot": False,
            "pr_number": links[c["id"]][1] if c["id"] in links else None,
        }
        for c in server.commits
    ]


def gitlab_neutral_requests(server: FakeGitLab) -> list[dict]:
    rows = []
    for mr in server.merge_requests:
        if mr["target_branch"] != "master":
            continue
        landing = mr["merge_commit_sha"] or mr["squash_commit_sha"] or mr["sha"]
        rows.append(
            {
                "repo": PROJECT.project,
                "number": mr["iid"],
                "opened_at": mr["created_at"],
                "merged_at": mr["merged_at"],
                "merge_commit_sha": landing if mr["merged_at"] else None,
                "title": mr["title"],
                "head_ref": mr["source_branch"],
                "labels": mr["labels"],
                "is_bot": False,
                "created_as_draft": bool(mr["draft"]),
            }
        )
    return rows


def gitlab_neutral_deployments(server: FakeGitLab) -> list[dict]:
    rows = []
    for deployment in server.deployments:
        finished_at = deployment["deployable"].get("finished_at")
        environment = deployment["environment"]["name"]
        rows.append(
            {
                "id": str(deployment["id"]),
                "repo": PROJECT.project,
                "service": PROJECT.services[0],
                "environment": environment,
                "sha": deployment["sha"],
                "started_at": deployment["deployable"].get("started_at")
                or deployment["created_at"],
                "status": deployment["status"],
                "finished_at": finished_at,
            }
        )
    for pipeline_id, details in server.pipelines.items():
        if details["ref"] != PROJECT.deploy_pipeline_ref:
            continue
        rows.append(
            {
                "id": f"pipeline:{pipeline_id}",
                "repo": PROJECT.project,
                "service": PROJECT.services[0],
                "environment": "production",
                "sha": details["sha"],
                "started_at": details["started_at"],
                "status": details["status"],
                "finished_at": details["finished_at"],
            }
        )
    return rows


def gitlab_neutral_incidents(server: FakeGitLab) -> list[dict]:
    rows = []
    for issue in server.issues:
        if issue.get("issue_type") != "incident":
            continue
        named = [
            label.split("::", 1)[1] for label in issue["labels"] if label.startswith("service::")
        ]
        closed = issue["state"] == "closed"
        rows.append(
            {
                "id": f"{PROJECT.project}#{issue['iid']}",
                "service": named[0] if named else PROJECT.services[0],
                "opened_at": issue["created_at"],
                "resolved_at": issue["closed_at"] if closed else None,
                "updated_at": issue["updated_at"],
                "resolution_reason": "resolved" if closed else None,
                "is_production": True,
            }
        )
    return rows


def gitlab_neutral_events(server: FakeGitLab) -> dict[str, list[dict]]:
    """Map the served GitLab objects to the neutral event form."""
    merged_at = {mr["iid"]: mr["merged_at"] for mr in server.merge_requests if mr["merged_at"]}
    return {
        "commits": gitlab_neutral_commits(server, merged_at),
        "pull_requests": gitlab_neutral_requests(server),
        "deployments": gitlab_neutral_deployments(server),
        "incidents": gitlab_neutral_incidents(server),
    }


def refresh(path: Path, config_file: Path, events_dir: Path | None = None) -> None:
    run_settings = {"config_path": str(config_file), "as_of": AS_OF}
    if events_dir is not None:
        run_settings["events_dir"] = str(events_dir)
    result = pipeline.run_refresh_job(str(path), run_settings)
    assert result.success, [
        str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure
    ]


def window_numbers(path: Path) -> list[dict]:
    with warehouse.open_warehouse(path, read_only=True) as con:
        numbers = [metrics.window_metrics(con, start, end) for start, end in WINDOWS]
        for service in SERVICES:
            numbers += [
                metrics.window_metrics(con, start, end, service=service) for start, end in WINDOWS
            ]
    return numbers


def api_config(github: FakeGitHub, gitlab: FakeGitLab) -> dict:
    """Return the configuration that points the refresh at both fake servers."""
    return {
        "timezone": "UTC",
        "sources": {
            "github": {
                "base_url": github.base_url,
                "token_env": "DORA_TEST_GITHUB_TOKEN",
                "repos": [
                    {
                        "repo": CONFIG.repo,
                        "services": list(CONFIG.services),
                        "branch": CONFIG.branch,
                        "incident_label": CONFIG.incident_label,
                    }
                ],
            },
            "gitlab": {
                "base_url": gitlab.base_url,
                "token_env": "DORA_TEST_GITLAB_TOKEN",
                "projects": [
                    {
                        "project": PROJECT.project,
                        "services": list(PROJECT.services),
                        "branch": PROJECT.branch,
                        "deploy_pipeline_ref": PROJECT.deploy_pipeline_ref,
                    }
                ],
            },
        },
    }


def test_api_and_file_paths_agree(tmp_path, monkeypatch):
    monkeypatch.setenv("DORA_TEST_GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("DORA_TEST_GITLAB_TOKEN", GITLAB_TOKEN)
    api_config_file = tmp_path / "api.yml"
    files_config_file = tmp_path / "files.yml"
    files_config_file.write_text(yaml.safe_dump({"timezone": "UTC"}))
    api_warehouse = tmp_path / "api.duckdb"
    file_warehouse = tmp_path / "files.duckdb"

    # The refresh job itself extracts from the fake servers, as for a team
    # whose only sources are GitHub and GitLab.
    with FakeGitHub() as github, FakeGitLab() as gitlab:
        stage_activity(github)
        stage_gitlab_activity(gitlab)
        api_config_file.write_text(yaml.safe_dump(api_config(github, gitlab)))
        refresh(api_warehouse, api_config_file)
        events = neutral_events(github)
        for entity, rows in gitlab_neutral_events(gitlab).items():
            events[entity] += rows
    write_events(tmp_path / "events", **events)
    refresh(file_warehouse, files_config_file, tmp_path / "events")

    from_api = window_numbers(api_warehouse)
    from_files = window_numbers(file_warehouse)
    assert from_api == from_files
    april_2013, _, may_2020, november_2023 = from_api[: len(WINDOWS)]
    assert april_2013["deployments_total"] >= 3
    assert april_2013["mean_lead_time_hours"] is not None
    assert april_2013["incident_count"] == 1
    assert may_2020["deployments_total"] >= 2
    assert november_2023["deployments_total"] == 1
    for numbers in from_api[: len(WINDOWS)]:
        shown = {key: value for key, value in numbers.items() if "per_day" not in key}
        print(json.dumps(shown, default=str))
