"""Cut compare listings in the data-quality report, through a refresh against the fake GitHub server.

The repository ``acme/gaps`` has seven commits in a line, c1 to c7, and
production deployments of c1, c4 and c7. The commit cursor is stored at
c6's commit time before the refresh, so the branch listing contains only c6
and c7, and the fake compare endpoint lists one commit per comparison:

- c1...c4 should list c2, c3 and c4 but lists c2. The graph then lacks c3
  and c4, so the listing stays incomplete and is reported.
- c4...c7 should list c5, c6 and c7 but lists c5. The branch listing holds
  c6 and c7, so the graph completes the range and nothing is reported.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from dagster_project import warehouse
from tests.fakes.github_server import TOKEN, FakeGitHub
from tests.github_refresh import query, refresh_with_config

REPO = "acme/gaps"
SOURCE = f"github:{REPO}"
AS_OF = "2024-02-01T00:00:00+00:00"
NAMES = [f"c{number}" for number in range(1, 8)]


def sha(name: str) -> str:
    return (name.encode().hex() * 20)[:40]


def commit_time(name: str) -> str:
    return f"2024-01-0{name[1]}T00:00:00Z"


def stage_repository(server: FakeGitHub) -> None:
    """Replace the recorded data with seven commits in a line and three deployments."""
    template = server.commits[0]
    commits = []
    for index, name in enumerate(NAMES):
        commit = copy.deepcopy(template)
        commit["sha"] = sha(name)
        commit["parents"] = [{"sha": sha(NAMES[index - 1])}] if index else []
        commit["commit"]["author"]["date"] = commit_time(name)
        commit["commit"]["committer"]["date"] = commit_time(name)
        commit["commit"]["message"] = f"Change {name}"
        commits.append(commit)
    server.commits = commits
    recorded = list(server.deployments)
    for deployment_id, name in [(9301, "c1"), (9302, "c4"), (9303, "c7")]:
        at = commit_time(name).replace("T00:", "T12:")
        server.add_deployment(deployment_id, sha(name), "production", at, [("success", at)])
    server.deployments = [d for d in server.deployments if d not in recorded]
    # The repository route reads the first pull request, so one open one stays.
    server.pulls = server.pulls[:1]
    server.pulls[0].update({"state": "open", "merged_at": None, "merge_commit_sha": None})
    server.pull_commits = {}
    server.issues = []
    server.releases = []
    server.tags = []


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("compare_gaps")
    path = folder / "warehouse.duckdb"
    with warehouse.open_warehouse(path) as con:
        warehouse.ensure_raw_tables(con)
        warehouse.write_cursor(con, SOURCE, "commits", commit_time("c6"))
    with pytest.MonkeyPatch.context() as patch, FakeGitHub(repo=REPO, compare_cap=1) as server:
        patch.setenv("DORA_TEST_GITHUB_TOKEN", TOKEN)
        stage_repository(server)
        settings = {
            "timezone": "UTC",
            "sources": {
                "github": {
                    "base_url": server.base_url,
                    "token_env": "DORA_TEST_GITHUB_TOKEN",
                    "repos": [{"repo": REPO, "services": ["shop"], "branch": "main"}],
                }
            },
        }
        return refresh_with_config(folder, settings, AS_OF)


def test_both_listings_cut_short(refreshed):
    rows = query(
        refreshed,
        "select base_sha, head_sha, total_commits, listed_commits from raw_github__compares "
        "where is_truncated order by head_sha",
    )
    assert sorted(rows) == sorted([(sha("c1"), sha("c4"), 3, 1), (sha("c4"), sha("c7"), 3, 1)])


def test_graph_completes_one_listing(refreshed):
    rows = query(
        refreshed,
        "select head_sha, graph_commits, missing_commits, is_completed_from_graph "
        "from int_incomplete_compares",
    )
    by_head = {row[0]: row[1:] for row in rows}
    # c4 itself is missing from the graph, so the walk stops at it.
    assert by_head[sha("c4")] == (0, 1, False)
    assert by_head[sha("c7")] == (3, 0, True)


def test_uncompleted_listing_reported(refreshed):
    rows = query(
        refreshed,
        "select severity, entity_key, observed_value, detail from dq_issues "
        "where issue_type = 'incomplete_compare'",
    )
    assert len(rows) == 1
    severity, entity_key, observed_value, detail = rows[0]
    assert severity == "warning"
    assert entity_key == f"{SOURCE}:{sha('c1')}...{sha('c4')}"
    assert observed_value == 2
    assert "cut short after 1 of 3 commits" in detail
    assert sha("c4") in detail
