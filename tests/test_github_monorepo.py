"""A monorepo read from the fake GitHub server: each change counts for the services it touches.

The repository ``acme/mono`` maps ``services/api/`` to ``api`` and
``services/web/`` to ``web``. Five commits are pushed straight to ``main``
and six deployments ship them. A full refresh (extraction, dbt, containment)
runs against the fake server, and the expected rows below were worked out by
hand from the commit times, the changed files and the deployment times.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.fakes.github_server import TOKEN, FakeGitHub
from tests.github_refresh import query, refresh_with_config

REPO = "acme/mono"
AS_OF = "2024-02-01T00:00:00+00:00"
HOUR = 3600

# name -> (committed_at, changed files). Each commit's parent is the one before it.
COMMITS = {
    "c1": ("2024-01-01T00:00:00Z", ["services/api/app.py", "services/web/app.js"]),
    "c2": ("2024-01-02T00:00:00Z", ["services/api/orders.py"]),
    "c3": ("2024-01-02T06:00:00Z", ["services/web/cart.js"]),
    "c4": ("2024-01-03T00:00:00Z", ["services/api/shared.py", "services/web/shared.js"]),
    "c5": ("2024-01-03T12:00:00Z", ["README.md"]),
}

# deployment id -> (service, deployed commit, time of the success record)
DEPLOYMENTS = {
    9201: ("api", "c1", "2024-01-01T01:00:00Z"),
    9202: ("web", "c1", "2024-01-01T01:00:00Z"),
    9203: ("web", "c3", "2024-01-02T12:00:00Z"),
    9204: ("api", "c4", "2024-01-04T00:00:00Z"),
    9205: ("web", "c5", "2024-01-05T00:00:00Z"),
    9206: ("api", "c5", "2024-01-06T00:00:00Z"),
}


def sha(name: str) -> str:
    return (name.encode().hex() * 20)[:40]


def commit_object(template: dict, name: str, parent: str | None) -> dict:
    committed_at, _ = COMMITS[name]
    commit = copy.deepcopy(template)
    commit["sha"] = sha(name)
    commit["parents"] = [{"sha": sha(parent)}] if parent else []
    commit["commit"]["author"]["date"] = committed_at
    commit["commit"]["committer"]["date"] = committed_at
    commit["commit"]["message"] = f"Change {name}"
    return commit


def stage_monorepo(server: FakeGitHub) -> None:
    """Replace the recorded data with the monorepo's commits and deployments."""
    template = server.commits[0]
    names = list(COMMITS)
    server.commits = [
        commit_object(template, name, names[index - 1] if index else None)
        for index, name in enumerate(names)
    ]
    server.commit_files = {sha(name): files for name, (_, files) in COMMITS.items()}
    recorded = list(server.deployments)
    for deployment_id, (service, name, at) in DEPLOYMENTS.items():
        server.add_deployment(deployment_id, sha(name), "production", at, [("success", at)])
        server.deployments[-1]["payload"] = {"service": service}
    server.deployments = [d for d in server.deployments if d not in recorded]
    # The repository route reads the first pull request, so one open one stays.
    server.pulls = server.pulls[:1]
    server.pulls[0].update({"state": "open", "merged_at": None, "merge_commit_sha": None})
    server.pull_commits = {}
    server.issues = []
    server.releases = []
    server.tags = []


def config(server: FakeGitHub) -> dict:
    return {
        "timezone": "UTC",
        "sources": {
            "github": {
                "base_url": server.base_url,
                "token_env": "DORA_TEST_GITHUB_TOKEN",
                "repos": [
                    {
                        "repo": REPO,
                        "services": ["api", "web"],
                        "branch": "main",
                        "paths": {"services/api/": "api", "services/web/": "web"},
                    }
                ],
            }
        },
    }


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("monorepo")
    with pytest.MonkeyPatch.context() as patch, FakeGitHub(repo=REPO) as server:
        patch.setenv("DORA_TEST_GITHUB_TOKEN", TOKEN)
        stage_monorepo(server)
        return refresh_with_config(folder, config(server), AS_OF)


def change_rows(path: Path) -> dict[tuple[str, str | None], tuple]:
    rows = query(
        path,
        "select landing_sha, service, shipped_by_deployment_key, pr_lead_time_seconds "
        "from int_changes",
    )
    by_sha = {sha(name): name for name in COMMITS}
    return {(by_sha[row[0]], row[1]): (row[2], row[3]) for row in rows}


def deployment_key(path: Path, deployment_id: int) -> str:
    rows = query(
        path,
        f"select deployment_key from fct_deployments where deployment_id = '{deployment_id}'",
    )
    assert len(rows) == 1, rows
    return rows[0][0]


def test_changes_follow_touched_folders(refreshed):
    changes = change_rows(refreshed)
    key = {deployment_id: deployment_key(refreshed, deployment_id) for deployment_id in DEPLOYMENTS}
    assert changes == {
        ("c1", "api"): (key[9201], None),
        ("c1", "web"): (key[9202], None),
        ("c2", "api"): (key[9204], 48 * HOUR),
        ("c3", "web"): (key[9203], 6 * HOUR),
        ("c4", "api"): (key[9204], 24 * HOUR),
        ("c4", "web"): (key[9205], 48 * HOUR),
    }


def test_commit_samples_per_touched_service(refreshed):
    rows = query(
        refreshed,
        "select sha, service, commit_lead_time_seconds from fct_change_commits order by 2, 1",
    )
    by_sha = {sha(name): name for name in COMMITS}
    samples = {(by_sha[row[0]], row[1]): row[2] for row in rows}
    assert samples == {
        ("c1", "api"): None,
        ("c2", "api"): 48 * HOUR,
        ("c4", "api"): 24 * HOUR,
        ("c1", "web"): None,
        ("c3", "web"): 6 * HOUR,
        ("c4", "web"): 48 * HOUR,
    }


def test_deployment_of_other_folders_ships_nothing(refreshed):
    rows = query(
        refreshed,
        "select deployment_id, is_counted, shipped_commit_count, is_cfr_eligible "
        "from fct_deployments order by deployment_id",
    )
    shipped = {int(row[0]): row[1:] for row in rows}
    assert shipped == {
        9201: (True, 1, True),
        9202: (True, 1, True),
        9203: (True, 1, True),
        9204: (True, 2, True),
        9205: (True, 1, True),
        # c5 touches no service folder: the api deployment of it ships nothing new.
        9206: (True, 0, False),
    }


def test_lead_time_median_per_service(refreshed):
    rows = query(
        refreshed,
        "select service, median(pr_lead_time_seconds) from int_changes "
        "where pr_lead_time_seconds is not null group by service order by service",
    )
    assert rows == [("api", 36 * HOUR), ("web", 27 * HOUR)]
