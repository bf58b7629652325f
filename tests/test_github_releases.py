"""Releases and tags as deployments, through a refresh against the fake GitHub server.

One fake server serves the same history under two names. ``acme/rel``
deploys by releases (``deploy_releases: true``) and ``acme/tag`` by tags
matching ``v*`` (``deploy_tags``). Commits c1 to c5 are pushed straight to
``main``, one a day at midnight UTC from 2024-01-01. The expected
deployments and lead times below were worked out by hand.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dagster_project import warehouse
from dagster_project.sources import github as gh
from tests.fakes.github_server import TOKEN, FakeGitHub
from tests.github_refresh import query, refresh_with_config
from tests.test_github_extract import run_extract

AS_OF = "2024-02-01T00:00:00+00:00"
HOUR = 3600
NAMES = [f"c{number}" for number in range(1, 6)]

# (release id, tag name, draft, prerelease, published_at)
RELEASES = [
    (1, "v1", False, False, "2024-01-01T12:00:00Z"),
    (2, "v2", False, False, "2024-01-03T12:00:00Z"),
    (3, "v3", True, False, None),
    (4, "v4-rc", False, True, "2024-01-05T12:00:00Z"),
    (5, "v5", False, False, "2024-01-06T12:00:00Z"),
]

# tag name -> (tagged commit, tagger date; None for a lightweight tag)
TAGS = {
    "v1": ("c1", "2024-01-01T10:00:00Z"),
    "v2": ("c3", "2024-01-03T10:00:00Z"),
    "v3": ("c4", None),
    "v4-rc": ("c5", "2024-01-05T10:00:00Z"),
    "nightly": ("c5", "2024-01-05T23:00:00Z"),
}


def sha(name: str) -> str:
    return (name.encode().hex() * 20)[:40]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def stage_history(server: FakeGitHub) -> None:
    template = server.commits[0]
    commits = []
    for index, name in enumerate(NAMES):
        commit = copy.deepcopy(template)
        committed_at = f"2024-01-0{name[1]}T00:00:00Z"
        commit["sha"] = sha(name)
        commit["parents"] = [{"sha": sha(NAMES[index - 1])}] if index else []
        commit["commit"]["author"]["date"] = committed_at
        commit["commit"]["committer"]["date"] = committed_at
        commit["commit"]["message"] = f"Change {name}"
        commits.append(commit)
    server.commits = commits
    server.deployments = []

    server.tags = []
    for name, (commit, tagged_at) in TAGS.items():
        server.add_tag(name, sha(commit), tagged_at)

    template = server.releases[0]
    server.releases = []
    for release_id, tag, draft, prerelease, published_at in RELEASES:
        release = copy.deepcopy(template)
        release.update(
            {
                "id": release_id,
                "tag_name": tag,
                "name": tag,
                "target_commitish": "main",
                "draft": draft,
                "prerelease": prerelease,
                "created_at": published_at or "2024-01-04T12:00:00Z",
                "published_at": published_at,
            }
        )
        server.releases.append(release)

    # The repository route reads the first pull request, so one open one stays.
    server.pulls = server.pulls[:1]
    server.pulls[0].update({"state": "open", "merged_at": None, "merge_commit_sha": None})
    server.pull_commits = {}
    server.issues = []


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("releases")
    with (
        pytest.MonkeyPatch.context() as patch,
        FakeGitHub(repo="acme/rel", also_as=("acme/tag",)) as server,
    ):
        patch.setenv("DORA_TEST_GITHUB_TOKEN", TOKEN)
        stage_history(server)
        settings = {
            "timezone": "UTC",
            "sources": {
                "github": {
                    "base_url": server.base_url,
                    "token_env": "DORA_TEST_GITHUB_TOKEN",
                    "repos": [
                        {"repo": "acme/rel", "branch": "main", "deploy_releases": True},
                        {"repo": "acme/tag", "branch": "main", "deploy_tags": "v*"},
                    ],
                }
            },
        }
        return refresh_with_config(folder, settings, AS_OF)


def test_counted_release_and_tag_deployments(refreshed):
    rows = query(
        refreshed,
        "select service, deployment_id, environment, sha, deployed_at from fct_deployments "
        "where is_counted order by service, deployed_at",
    )
    assert rows == [
        ("rel", "release:1", "production", sha("c1"), at("2024-01-01T12:00:00Z")),
        ("rel", "release:2", "production", sha("c3"), at("2024-01-03T12:00:00Z")),
        ("tag", "tag:v1", "production", sha("c1"), at("2024-01-01T10:00:00Z")),
        ("tag", "tag:v2", "production", sha("c3"), at("2024-01-03T10:00:00Z")),
        ("tag", "tag:v4-rc", "production", sha("c5"), at("2024-01-05T10:00:00Z")),
    ]


def test_no_other_release_or_tag_deployment(refreshed):
    rows = query(refreshed, "select count(*) from fct_deployments")
    assert rows == [(5,)]


def test_lead_times_from_release_times(refreshed):
    rows = query(
        refreshed,
        "select service, landing_sha, pr_lead_time_seconds from int_changes "
        "where pr_lead_time_seconds is not null order by service, landing_sha",
    )
    by_sha = {sha(name): name for name in NAMES}
    samples = {(row[0], by_sha[row[1]]): row[2] for row in rows}
    assert samples == {
        ("rel", "c2"): 36 * HOUR,
        ("rel", "c3"): 12 * HOUR,
        ("tag", "c2"): 34 * HOUR,
        ("tag", "c3"): 10 * HOUR,
        ("tag", "c4"): 34 * HOUR,
        ("tag", "c5"): 10 * HOUR,
    }


def test_unusable_release_and_tag_quarantined(refreshed):
    rows = query(
        refreshed,
        "select _source, reason from quarantine where entity = 'release_deployments' order by 1",
    )
    assert len(rows) == 2
    (release_source, release_reason), (tag_source, tag_reason) = rows
    assert release_source == "github:acme/rel"
    assert "release 5 names tag 'v5', which the tags listing of acme/rel does not contain" in (
        release_reason
    )
    assert tag_source == "github:acme/tag"
    assert "tag 'v3' of acme/tag is a lightweight tag" in tag_reason
    assert "create annotated tags" in tag_reason


def test_moved_tag_adds_deployment(tmp_path):
    """A tag moved to another commit adds a deployment and keeps the first one."""
    config = gh.GitHubRepoConfig(
        repo="acme/tag", services=("tag",), branch="main", deploy_tags="v*"
    )
    entities = ["releases", "tags", "release_deployments"]
    with (
        FakeGitHub(repo="acme/tag") as server,
        warehouse.open_warehouse(tmp_path / "tags.duckdb") as con,
    ):
        warehouse.ensure_raw_tables(con)
        stage_history(server)
        run_extract(con, server, config=config, entities=entities)
        # v2 moves to c4, and v3 is recreated as an annotated tag.
        server.tags = [t for t in server.tags if t["name"] not in ("v2", "v3")]
        server.add_tag("v2", sha("c4"), "2024-01-04T10:00:00Z")
        server.add_tag("v3", sha("c4"), "2024-01-04T11:00:00Z")
        run_extract(con, server, config=config, entities=entities)
        rows = con.execute(
            "select deployment_id, sha, state_at from raw_github__deployment_statuses "
            "where deployment_id in ('tag:v2', 'tag:v3') order by state_at"
        ).fetchall()
        quarantined = con.execute(
            "select count(*) from quarantine where entity = 'release_deployments'"
        ).fetchone()[0]
    assert rows == [
        ("tag:v2", sha("c3"), at("2024-01-03T10:00:00Z")),
        ("tag:v2", sha("c4"), at("2024-01-04T10:00:00Z")),
        ("tag:v3", sha("c4"), at("2024-01-04T11:00:00Z")),
    ]
    # v3 is annotated now, so its lightweight-tag entry left the quarantine.
    assert quarantined == 0
