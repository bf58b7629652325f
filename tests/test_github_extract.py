"""GitHub extraction against the fake GitHub server: full, incremental, interrupted, faults."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dagster_project import warehouse
from dagster_project.clients.github import GitHubClient, github_session
from dagster_project.clients.http import ApiError, RetryPolicy, WarehouseEtagStore
from dagster_project.sources import github as gh
from dagster_project.sources import github_extract as extract
from tests.fakes.api_server import Fault
from tests.fakes.github_server import FIXTURES, TOKEN, FakeGitHub

REPO = gh.GitHubRepoConfig(
    repo="acme/ants",
    services=("ants",),
    branch="master",
    deploy_workflow="CodeQL",
    deploy_branch="master",
    incident_label="bug",
)


@pytest.fixture(scope="session")
def dbt_manifest():
    """Replace the shared dbt parse: these tests use no dbt model."""
    return None


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def commits_by_time() -> list[dict]:
    commits = fixture("commits.json")
    return sorted(commits, key=lambda c: c["commit"]["committer"]["date"])


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def run_extract(
    con, server: FakeGitHub, config=REPO, entities=None, sleeps=None, retries=2, per_page=None
):
    """Run the extractors in dependency order with one session; return the session stats."""
    extract.ensure_tables(con)
    session = github_session(
        server.base_url,
        token=TOKEN,
        etag_store=WarehouseEtagStore(con, config.source),
        sleep=sleeps if sleeps is not None else Sleeps(),
        retry=RetryPolicy(max_retries=retries),
    )
    with session:
        client = GitHubClient(session, config.repo, **({"per_page": per_page} if per_page else {}))
        for entity in entities or extract.EXTRACTORS:
            extract.EXTRACTORS[entity](con, client, config)
    return session.stats


def count(con, table: str) -> int:
    return con.execute(f"select count(*) from {table}").fetchone()[0]


def keys(con, table: str) -> list[str]:
    return [row[0] for row in con.execute(f"select _record_key from {table} order by 1").fetchall()]


def add_production_deployments(server: FakeGitHub) -> list[str]:
    """Deploy three commits of the March 2013 history to production; return their shas."""
    ordered = commits_by_time()
    shas = [ordered[10]["sha"], ordered[30]["sha"], ordered[46]["sha"]]
    for index, sha in enumerate(shas):
        day = 10 + index
        server.add_deployment(
            9000 + index,
            sha,
            "production",
            f"2013-04-{day}T10:00:00Z",
            [("in_progress", f"2013-04-{day}T10:01:00Z"), ("success", f"2013-04-{day}T10:05:00Z")],
        )
    return shas


@pytest.fixture
def server():
    with FakeGitHub() as fake:
        yield fake


@pytest.fixture
def con(tmp_path: Path):
    with warehouse.open_warehouse(tmp_path / "github.duckdb") as connection:
        warehouse.ensure_raw_tables(connection)
        yield connection


def test_full_extraction_rows(server, con):
    add_production_deployments(server)
    stats = run_extract(con, server)

    assert count(con, "raw_github__pull_requests") == len(fixture("pulls.json"))
    pr_commits = sum(
        len(json.loads(p.read_text())) for p in (FIXTURES / "pull_commits").glob("*.json")
    )
    assert count(con, "raw_github__pull_request_commits") == pr_commits
    branch_commits = len(fixture("commits.json")) + len(fixture("commits_2012.json"))
    assert count(con, "raw_github__commits") == branch_commits
    issues = fixture("issues.json")
    bug_issues = [i for i in issues if "bug" in {lab["name"] for lab in i["labels"]}]
    assert count(con, "raw_github__incidents") == len(
        [i for i in bug_issues if "pull_request" not in i]
    )
    assert count(con, "raw_github__releases") == len(fixture("releases.json"))
    assert count(con, "raw_github__tags") == len(fixture("tags.json"))
    # The workflow runs come from another repository's recording, so their shas
    # are unknown to the served commit graph: those compares are not found and flagged.
    compares = con.execute(
        "select status, is_truncated, count(*) from raw_github__compares group by all order by 1"
    ).fetchall()
    assert compares == [("ahead", False, 2), ("not_found", True, 2)]
    assert count(con, "quarantine") == 0
    assert stats.requests > 0
    print(f"full extraction: {stats.as_dict()}")


def test_workflow_runs_of_deploy_workflow(server, con):
    run_extract(con, server, entities=["workflow_runs"])
    rows = con.execute(
        "select run_id, workflow_name, head_branch, event, status, conclusion, completed_at "
        "from raw_github__workflow_runs order by run_id"
    ).fetchall()
    expected = [
        run
        for run in fixture("workflow_runs.json")["workflow_runs"]
        if run["name"] == "CodeQL"
        and run["head_branch"] == "master"
        and run["event"] != "pull_request"
    ]
    assert sorted(r[0] for r in rows) == sorted(str(run["id"]) for run in expected)
    assert all(r[1] == "CodeQL" for r in rows)
    in_progress = [r for r in rows if r[4] == "in_progress"]
    assert len(in_progress) == 1
    assert in_progress[0][6] is None
    assert all(r[6] is not None for r in rows if r[4] == "completed")


def test_deployment_statuses_ordered_by_time(server, con):
    add_production_deployments(server)
    run_extract(con, server, entities=["deployment_statuses"])
    rows = con.execute(
        "select deployment_id, state, record_index, state_at from raw_github__deployment_statuses "
        "where deployment_id = '9000' order by record_index"
    ).fetchall()
    assert [r[1] for r in rows] == ["in_progress", "success"]
    assert rows[0][3] < rows[1][3]
    queued = con.execute(
        "select count(*) from raw_github__deployment_statuses where deployment_id = '263877258'"
    ).fetchone()[0]
    assert queued == 3
    no_status = con.execute(
        "select state from raw_github__deployment_statuses where deployment_id = '262350588'"
    ).fetchall()
    assert no_status == [("pending",)]


def test_inactive_state_kept(server, con):
    shas = add_production_deployments(server)
    server.add_status(9000, "inactive", "2013-04-11T10:05:00Z")
    run_extract(con, server, entities=["deployment_statuses"])
    states = con.execute(
        "select state from raw_github__deployment_statuses where deployment_id = '9000' "
        "order by record_index"
    ).fetchall()
    assert [s[0] for s in states] == ["in_progress", "success", "inactive"]
    assert shas


def test_incremental_run_fetches_only_changes(server, con):
    add_production_deployments(server)
    run_extract(con, server)
    full_requests = len(server.api.requests)
    before = {table: keys(con, table) for table in gh.GITHUB_TABLES}

    server.api.requests.clear()
    stats = run_extract(con, server)
    idle = Counter(r.path.rsplit("/", 1)[-1] for r in server.api.requests)
    assert {table: keys(con, table) for table in gh.GITHUB_TABLES} == before
    assert server.api.count("/pulls/\\d+/commits") == 0
    assert server.api.count("/compare/") == 0
    assert server.api.count("/jobs") == 0
    # The two recorded deployments have no final status yet, so they are polled again.
    assert server.api.count("/statuses") == 2
    assert len(server.api.requests) < full_requests / 5
    print(
        f"incremental, nothing changed: {len(server.api.requests)} requests, {dict(idle)}, {stats.as_dict()}"
    )

    server.touch_pull(4, "2030-01-01T00:00:00Z")
    server.add_deployment(
        9100,
        commits_by_time()[40]["sha"],
        "production",
        "2030-01-02T00:00:00Z",
        [("success", "2030-01-02T00:10:00Z")],
    )
    server.api.requests.clear()
    run_extract(con, server)
    assert server.api.count("/pulls/\\d+/commits") == 1
    assert server.api.count("/pulls/4/commits") == 1
    assert server.api.count("/deployments/9100/statuses") == 1
    assert server.api.count("/compare/") == 1
    updated = con.execute(
        "select updated_at from raw_github__pull_requests where number = 4"
    ).fetchone()[0]
    assert updated.year == 2030
    print(
        f"incremental, one pull request and one deployment changed: {len(server.api.requests)} requests"
    )


def test_unchanged_pages_answered_304(server, con):
    run_extract(con, server, entities=["releases", "tags"])
    server.api.requests.clear()
    stats = run_extract(con, server, entities=["releases", "tags"])
    assert stats.not_modified == stats.requests
    assert server.api.count(".*", status=304) == stats.requests
    assert count(con, "raw_github__tags") == len(fixture("tags.json"))


def add_branch_commit(server: FakeGitHub, sha: str, committed_at: str) -> None:
    """Push a commit on top of the newest served one."""
    newest = max(server.commits, key=lambda c: c["commit"]["committer"]["date"])
    commit = json.loads(json.dumps(newest))
    commit["sha"] = sha
    commit["parents"] = [{"sha": newest["sha"]}]
    commit["commit"]["committer"]["date"] = committed_at
    commit["commit"]["author"]["date"] = committed_at
    server.commits.append(commit)


def test_unchanged_run_costs_only_304s(server, con):
    add_production_deployments(server)
    run_extract(con, server)

    server.api.requests.clear()
    run_extract(con, server)
    assert server.api.count(".*", status=200) == 0
    assert server.api.count(".*", status=304) == len(server.api.requests)
    assert server.api.count("/commits$", status=304) == 1
    assert server.api.count("/issues$", status=304) == 1
    assert server.api.count("/runs$", status=304) == 1

    add_branch_commit(server, "f" * 40, "2030-01-01T00:00:00Z")
    server.api.requests.clear()
    run_extract(con, server)
    assert server.api.count("/commits$", status=200) == 1
    assert count(con, "raw_github__commits") == len(server.commits)

    # The cursor stays put, so the listing that returned the new commit is conditional now.
    server.api.requests.clear()
    run_extract(con, server)
    assert server.api.count(".*", status=200) == 0
    assert server.api.count("/commits$", status=304) == 1


def test_moved_cursor_listing_read_at_once(server, con):
    # With 20 items a page, the commit listing spans several pages, so its cursor moves.
    run_extract(con, server, entities=["commits"], per_page=20)
    newest = commits_by_time()[-1]["commit"]["committer"]["date"]
    assert warehouse.read_cursor(con, REPO.source, "commits") == newest
    since = [r.query.get("since") for r in server.api.requests if r.path.endswith("/commits")]
    assert since[-1] == newest
    assert count(con, "raw_github__commits") == len(server.commits)

    server.api.requests.clear()
    run_extract(con, server, entities=["commits"], per_page=20)
    assert len(server.api.requests) == 1
    assert server.api.count("/commits$", status=304) == 1


def test_commit_between_listings_not_lost(server, con, monkeypatch):
    """A commit pushed between the two listings of a moved cursor is stored at once."""
    listings = []
    original = GitHubClient.commits

    def commits_then_push(client, branch, since=None):
        listings.append(since)
        if len(listings) == 2:
            add_branch_commit(server, "e" * 40, "2030-02-01T00:00:00Z")
        return original(client, branch, since=since)

    monkeypatch.setattr(GitHubClient, "commits", commits_then_push)
    run_extract(con, server, entities=["commits"], per_page=20)
    monkeypatch.undo()
    assert len(listings) == 2
    shas = {row[0] for row in con.execute("select sha from raw_github__commits").fetchall()}
    assert "e" * 40 in shas

    server.api.requests.clear()
    run_extract(con, server, entities=["commits"], per_page=20)
    assert server.api.count("/commits$", status=304) == 1


def test_interrupted_run_then_rerun(server, con, tmp_path):
    add_production_deployments(server)
    server.api.fail_next(Fault(502, path_pattern=r"/pulls/(4[0-9])/commits"), times=3)
    with pytest.raises(ApiError, match="returned 502 after 3 attempts"):
        run_extract(con, server, retries=2)
    assert warehouse.read_cursor(con, REPO.source, "pull_requests") is not None
    assert warehouse.read_cursor(con, REPO.source, "pull_request_commits") is None
    assert count(con, "raw_github__pull_request_commits") == 0

    run_extract(con, server)
    with warehouse.open_warehouse(tmp_path / "clean.duckdb") as clean:
        warehouse.ensure_raw_tables(clean)
        with FakeGitHub() as fresh:
            add_production_deployments(fresh)
            run_extract(clean, fresh)
        for table in gh.GITHUB_TABLES:
            assert keys(con, table) == keys(clean, table), table
            assert len(set(keys(con, table))) == len(keys(con, table)), table


def test_faults_retried_during_extraction(server, con):
    sleeps = Sleeps()
    server.api.fail_next(Fault(429, {"Retry-After": "3"}, path_pattern="/pulls$"))
    server.api.fail_next(Fault(503, path_pattern="/issues$"), times=2)
    server.api.fail_next(
        Fault(
            403,
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"},
            '{"message": "API rate limit exceeded"}',
            path_pattern="/tags$",
        )
    )
    stats = run_extract(con, server, entities=["pull_requests", "incidents", "tags"], sleeps=sleeps)
    assert count(con, "raw_github__pull_requests") == len(fixture("pulls.json"))
    assert count(con, "raw_github__tags") == len(fixture("tags.json"))
    assert 3.0 in sleeps
    assert stats.retries == 2
    assert stats.rate_limit_waits == 2


def test_compare_fills_commits_without_branch_listing(server, con):
    shas = add_production_deployments(server)
    run_extract(con, server, entities=["deployment_statuses", "compares"])
    rows = con.execute("select sha, parent_shas, listed_by from raw_github__commits").fetchall()
    listed = {row[0] for row in rows}
    assert shas[1] in listed
    assert shas[2] in listed
    assert shas[0] not in listed  # the baseline deployment's own history is not compared
    assert all(row[2] == "compare" for row in rows)
    assert all(json.loads(row[1]) for row in rows)
    truncated = con.execute(
        "select count(*) from raw_github__compares where is_truncated"
    ).fetchone()[0]
    assert truncated == 0


def test_compare_truncation_marked(con):
    with FakeGitHub(compare_cap=3) as server:
        add_production_deployments(server)
        run_extract(con, server, entities=["deployment_statuses", "compares"])
    rows = con.execute(
        "select total_commits, listed_commits, is_truncated from raw_github__compares order by 1"
    ).fetchall()
    assert all(row[1] == 3 for row in rows)
    assert all(row[2] for row in rows)
    assert all(row[0] > 3 for row in rows)


def test_monorepo_paths_map_services(server, con):
    ordered = commits_by_time()
    server.commit_files = {
        ordered[0]["sha"]: ["services/api/main.py", "README.md"],
        ordered[1]["sha"]: ["services/web/app.js", "services/api/client.py"],
        ordered[2]["sha"]: ["docs/index.md"],
    }
    config = gh.GitHubRepoConfig(
        repo="acme/ants",
        services=("api", "web"),
        paths={"services/api": "api", "services/web/": "web"},
        branch="master",
    )
    run_extract(con, server, config=config, entities=["commits"])
    services = dict(con.execute("select sha, changed_services from raw_github__commits").fetchall())
    assert json.loads(services[ordered[0]["sha"]]) == ["api"]
    assert json.loads(services[ordered[1]["sha"]]) == ["api", "web"]
    assert json.loads(services[ordered[2]["sha"]]) == []
    assert server.api.count("/commits/[0-9a-f]{40}$") == count(con, "raw_github__commits")


def test_offsetless_timestamp_quarantined(server, con):
    server.pulls[0]["created_at"] = "2018-07-25 10:00:00"
    run_extract(con, server, entities=["pull_requests"])
    reasons = con.execute("select location, reason from quarantine").fetchall()
    assert len(reasons) == 1
    assert reasons[0][0].endswith(f"/pulls/{server.pulls[0]['number']}")
    assert "2018-07-25 10:00:00" in reasons[0][1]
    assert "no UTC offset" in reasons[0][1]
    assert count(con, "raw_github__pull_requests") == len(server.pulls) - 1

    run_extract(con, server, entities=["pull_requests"])
    assert count(con, "quarantine") == 1


def test_incident_rows_skip_pull_requests(server, con):
    run_extract(con, server, entities=["incidents"])
    rows = con.execute(
        "select number, service, alert_at, resolved_at from raw_github__incidents order by number"
    ).fetchall()
    expected = [
        i
        for i in fixture("issues.json")
        if "bug" in {lab["name"] for lab in i["labels"]} and "pull_request" not in i
    ]
    assert [r[0] for r in rows] == sorted(i["number"] for i in expected)
    assert all(r[1] == "ants" for r in rows)
    assert all(r[3] is not None and r[3] > r[2] for r in rows)


def test_token_absent_from_warehouse(server, con):
    add_production_deployments(server)
    run_extract(con, server)
    for table in [*gh.GITHUB_TABLES, "http_cache", "quarantine", "pipeline_cursors"]:
        text = con.execute(f"select cast(count(*) as varchar) from {table}").fetchone()[0]
        hits = con.execute(
            f"select count(*) from {table} t where contains(cast(t as varchar), ?)", [TOKEN]
        ).fetchone()[0]
        assert hits == 0, f"{table} ({text} rows) contains the token"


def test_wrong_token_error_names_no_secret(server, con):
    extract.ensure_tables(con)
    session = github_session(server.base_url, token="ghp_wrongToken42", sleep=Sleeps())
    client = GitHubClient(session, REPO.repo)
    with pytest.raises(ApiError, match="returned 401") as raised:
        extract.extract_pull_requests(con, client, REPO)
    assert "ghp_wrongToken42" not in str(raised.value)
    assert "token" in str(raised.value)
