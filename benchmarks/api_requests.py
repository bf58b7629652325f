"""Count the GitHub and GitLab API requests of a full and of an incremental extraction.

Runs the real GitHub extractors against the fake GitHub server of the tests
(tests/fakes/github_server.py, recorded fixtures of one repository, bound to
127.0.0.1) three times on one warehouse: a full extraction, an incremental
one with nothing changed, and an incremental one after one pull request and
one production deployment changed. Then the same for GitLab
(tests/fakes/gitlab_server.py), with one merge request changed before the
third run. Prints one JSON object, keyed by system.

Usage: `python -m benchmarks.api_requests`
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from dagster_project import warehouse
from dagster_project.clients.github import GitHubClient, github_session
from dagster_project.clients.gitlab import GitLabClient, gitlab_session
from dagster_project.clients.http import RetryPolicy, WarehouseEtagStore
from dagster_project.sources import github as gh
from dagster_project.sources import github_extract as extract
from dagster_project.sources import gitlab as gl
from dagster_project.sources import gitlab_extract
from tests.fakes.github_server import TOKEN, FakeGitHub
from tests.fakes.gitlab_server import TOKEN as GITLAB_TOKEN
from tests.fakes.gitlab_server import FakeGitLab

REPO = gh.GitHubRepoConfig(
    repo="acme/ants",
    services=("ants",),
    branch="master",
    deploy_workflow="CodeQL",
    deploy_branch="master",
    incident_label="bug",
)
PROJECT = gl.GitLabProjectConfig(
    project="acme/app", services=("app",), branch="master", deploy_pipeline_ref="master"
)


def _extract(con, server: FakeGitHub) -> dict:
    server.api.requests.clear()
    extract.ensure_tables(con)
    session = github_session(
        server.base_url,
        token=TOKEN,
        etag_store=WarehouseEtagStore(con, REPO.source),
        sleep=lambda seconds: None,
        retry=RetryPolicy(max_retries=2),
    )
    with session:
        client = GitHubClient(session, REPO.repo)
        for entity in extract.EXTRACTORS:
            extract.EXTRACTORS[entity](con, client, REPO)
    return _counts(server)


def _extract_gitlab(con, server: FakeGitLab) -> dict:
    server.api.requests.clear()
    gitlab_extract.ensure_tables(con)
    session = gitlab_session(
        server.base_url,
        token=GITLAB_TOKEN,
        etag_store=WarehouseEtagStore(con, PROJECT.source),
        sleep=lambda seconds: None,
        retry=RetryPolicy(max_retries=2),
    )
    with session:
        client = GitLabClient(session, PROJECT.project)
        for entity in gitlab_extract.EXTRACTORS:
            gitlab_extract.EXTRACTORS[entity](con, client, PROJECT)
    return _counts(server)


def _counts(server: FakeGitHub | FakeGitLab) -> dict:
    statuses = Counter(str(request.status) for request in server.api.requests)
    endpoints = Counter(
        f"{request.path.rsplit('/', 1)[-1]} {request.status}" for request in server.api.requests
    )
    return {
        "requests": len(server.api.requests),
        "by_status": dict(sorted(statuses.items())),
        "by_endpoint": dict(sorted(endpoints.items())),
    }


def _first_production_deployment(server: FakeGitHub) -> None:
    commits = json.loads((Path(__file__).resolve().parent.parent / "tests" / "fixtures"
                          / "github" / "commits.json").read_text())  # fmt: skip
    sha = sorted(commits, key=lambda c: c["commit"]["committer"]["date"])[40]["sha"]
    server.add_deployment(
        9100, sha, "production", "2030-01-02T00:00:00Z", [("success", "2030-01-02T00:10:00Z")]
    )


def _github_runs(folder: str) -> dict:
    results = {}
    with (
        FakeGitHub() as server,
        warehouse.open_warehouse(Path(folder) / "github.duckdb") as con,
    ):
        warehouse.ensure_raw_tables(con)
        results["full"] = _extract(con, server)
        results["incremental_unchanged"] = _extract(con, server)
        server.touch_pull(4, "2030-01-01T00:00:00Z")
        _first_production_deployment(server)
        results["incremental_one_pr_one_deployment"] = _extract(con, server)
    return results


def _gitlab_runs(folder: str) -> dict:
    results = {}
    with (
        FakeGitLab() as server,
        warehouse.open_warehouse(Path(folder) / "gitlab.duckdb") as con,
    ):
        warehouse.ensure_raw_tables(con)
        results["full"] = _extract_gitlab(con, server)
        results["incremental_unchanged"] = _extract_gitlab(con, server)
        changed = next(mr for mr in server.merge_requests if mr["iid"] == 5)
        changed["updated_at"] = "2030-01-01T00:00:00Z"
        results["incremental_one_merge_request"] = _extract_gitlab(con, server)
    return results


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        results = {"github": _github_runs(folder), "gitlab": _gitlab_runs(folder)}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
