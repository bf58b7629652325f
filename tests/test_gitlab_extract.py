"""GitLab extraction against the fake GitLab server: full, incremental, interrupted, faults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagster_project import warehouse
from dagster_project.clients.gitlab import GitLabClient, gitlab_session
from dagster_project.clients.http import ApiError, RetryPolicy, WarehouseEtagStore
from dagster_project.sources import gitlab as gl
from dagster_project.sources import gitlab_extract as extract
from tests.fakes.api_server import Fault
from tests.fakes.gitlab_server import FIXTURES, TOKEN, FakeGitLab


@pytest.fixture(scope="session")
def dbt_manifest():
    """Replace the shared dbt parse: these tests use no dbt model."""
    return None


PROJECT = gl.GitLabProjectConfig(
    project="acme/app",
    services=("app",),
    branch="master",
    deploy_pipeline_ref="master",
)


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def run_extract(con, server: FakeGitLab, config=PROJECT, entities=None, sleeps=None, retries=2):
    extract.ensure_tables(con)
    session = gitlab_session(
        server.base_url,
        token=TOKEN,
        etag_store=WarehouseEtagStore(con, config.source),
        sleep=sleeps if sleeps is not None else Sleeps(),
        retry=RetryPolicy(max_retries=retries),
    )
    with session:
        client = GitLabClient(session, config.project)
        for entity in entities or extract.EXTRACTORS:
            extract.EXTRACTORS[entity](con, client, config)
    return session.stats


def count(con, table: str, where: str = "true") -> int:
    return con.execute(f"select count(*) from {table} where {where}").fetchone()[0]


def keys(con, table: str) -> list[str]:
    return [row[0] for row in con.execute(f"select _record_key from {table} order by 1").fetchall()]


def mark_incidents(server: FakeGitLab) -> list[int]:
    """Turn three recorded issues into incidents (the recording contains none); return their iids."""
    chosen = [1, 3, 4]
    for issue in server.issues:
        if issue["iid"] in chosen:
            issue["issue_type"] = "incident"
            issue["type"] = "INCIDENT"
        if issue["iid"] == 4:
            issue["labels"] = [*issue["labels"], "service::billing"]
    return chosen


def mr_commit_shas(server: FakeGitLab) -> list[str]:
    return [c["id"] for c in sorted(server.commits, key=lambda c: c["committed_date"])]


@pytest.fixture
def server():
    with FakeGitLab() as fake:
        yield fake


@pytest.fixture
def con(tmp_path: Path):
    with warehouse.open_warehouse(tmp_path / "gitlab.duckdb") as connection:
        warehouse.ensure_raw_tables(connection)
        yield connection


def test_full_extraction_rows(server, con):
    mark_incidents(server)
    stats = run_extract(con, server)
    assert count(con, "raw_gitlab__merge_requests") == len(fixture("merge_requests.json"))
    listed_iids = {mr["iid"] for mr in fixture("merge_requests.json")}
    expected_mr_commits = sum(
        len(json.loads(p.read_text()))
        for p in (FIXTURES / "merge_request_commits").glob("*.json")
        if int(p.stem) in listed_iids
    )
    assert count(con, "raw_gitlab__merge_request_commits") == expected_mr_commits
    assert count(con, "raw_gitlab__commits") == len(server.commits)
    assert count(con, "raw_gitlab__incidents") == 3
    master_pipelines = [p for p in server.pipelines.values() if p["ref"] == "master"]
    assert count(con, "raw_gitlab__pipelines") == len(master_pipelines)
    # Deployment iid 3 failed and 4..8 are not successes, so every one loads.
    assert count(con, "raw_gitlab__deployment_statuses") == len(fixture("deployments.json"))
    print(f"full extraction: {stats.as_dict()}")


def test_merge_request_landing_commits(server, con):
    run_extract(con, server, entities=["merge_requests"])
    rows = {
        row[0]: row[1:]
        for row in con.execute(
            "select number, merge_commit_sha, squash_commit_sha, merged_at from raw_gitlab__merge_requests"
        ).fetchall()
    }
    recorded = {mr["iid"]: mr for mr in fixture("merge_requests.json")}
    squashed = [iid for iid, mr in recorded.items() if mr["squash_commit_sha"]]
    assert squashed
    for iid in squashed:
        assert rows[iid][1] == recorded[iid]["squash_commit_sha"]
    open_ones = [iid for iid, mr in recorded.items() if mr["state"] != "merged"]
    assert all(rows[iid][0] is None and rows[iid][2] is None for iid in open_ones)


def test_deployment_states_and_tiers(server, con):
    run_extract(con, server, entities=["deployment_statuses"])
    rows = con.execute(
        "select deployment_id, environment, environment_tier, state, state_at, pipeline_status "
        "from raw_gitlab__deployment_statuses order by deployment_id"
    ).fetchall()
    recorded = {str(d["id"]): d for d in fixture("deployments.json")}
    for deployment_id, environment, tier, state, state_at, pipeline_status in rows:
        assert state == recorded[deployment_id]["status"]
        assert environment == recorded[deployment_id]["environment"]["name"]
        assert tier == environment
        assert pipeline_status == recorded[deployment_id]["deployable"]["pipeline"]["status"]
        if recorded[deployment_id]["deployable"].get("finished_at") is None:
            assert state_at is None


def test_successful_deployment_without_finish_quarantined(server, con):
    shas = mr_commit_shas(server)
    server.add_deployment(777, shas[0], "production", "success", None)
    run_extract(con, server, entities=["deployment_statuses"])
    reasons = con.execute("select reason from quarantine").fetchall()
    assert len(reasons) == 1
    assert "deployment 777" in reasons[0][0]
    assert "no finished_at" in reasons[0][0]


def test_incremental_run_fetches_only_changes(server, con):
    mark_incidents(server)
    run_extract(con, server)
    full_requests = len(server.api.requests)
    before = {table: keys(con, table) for table in gl.GITLAB_TABLES}

    server.api.requests.clear()
    run_extract(con, server)
    assert {table: keys(con, table) for table in gl.GITLAB_TABLES} == before
    assert server.api.count(r"/merge_requests/\d+/commits") == 0
    assert server.api.count(r"/pipelines/\d+$") == 0
    assert len(server.api.requests) < full_requests / 2
    print(f"incremental, nothing changed: {len(server.api.requests)} of {full_requests} requests")

    mr = next(mr for mr in server.merge_requests if mr["iid"] == 5)
    mr["updated_at"] = "2030-01-01T00:00:00Z"
    server.api.requests.clear()
    run_extract(con, server)
    assert server.api.count(r"/merge_requests/\d+/commits") == 1
    assert server.api.count(r"/merge_requests/5/commits") == 1


def test_unchanged_run_costs_only_304s(server, con):
    mark_incidents(server)
    run_extract(con, server)

    server.api.requests.clear()
    run_extract(con, server)
    assert server.api.count(".*", status=200) == 0
    assert server.api.count(".*", status=304) == len(server.api.requests)
    for listing in ("merge_requests", "repository/commits", "deployments", "pipelines", "issues"):
        assert server.api.count(f"/{listing}$", status=304) == 1, listing

    mr = next(mr for mr in server.merge_requests if mr["iid"] == 5)
    mr["updated_at"] = "2030-01-01T00:00:00Z"
    server.api.requests.clear()
    run_extract(con, server)
    assert server.api.count("/merge_requests$", status=200) == 1

    # The cursor stays put, so the listing that returned the change is conditional now.
    server.api.requests.clear()
    run_extract(con, server)
    assert server.api.count(".*", status=200) == 0
    assert server.api.count("/merge_requests$", status=304) == 1


def test_interrupted_run_then_rerun(server, con, tmp_path):
    mark_incidents(server)
    server.api.fail_next(Fault(500, path_pattern=r"/merge_requests/5/commits"), times=3)
    with pytest.raises(ApiError, match="returned 500 after 3 attempts"):
        run_extract(con, server)
    assert count(con, "raw_gitlab__merge_request_commits") == 0
    run_extract(con, server)
    with warehouse.open_warehouse(tmp_path / "clean.duckdb") as clean:
        warehouse.ensure_raw_tables(clean)
        with FakeGitLab() as fresh:
            mark_incidents(fresh)
            run_extract(clean, fresh)
        for table in gl.GITLAB_TABLES:
            assert keys(con, table) == keys(clean, table), table


def test_faults_and_rate_limits_retried(server, con):
    sleeps = Sleeps()
    server.api.fail_next(
        Fault(429, {"RateLimit-Remaining": "0", "RateLimit-Reset": "0", "Retry-After": "2"}),
    )
    server.api.fail_next(Fault(502, path_pattern="/deployments"), times=2)
    stats = run_extract(
        con, server, entities=["merge_requests", "deployment_statuses"], sleeps=sleeps
    )
    assert count(con, "raw_gitlab__merge_requests") == len(fixture("merge_requests.json"))
    assert 2.0 in sleeps
    assert stats.retries == 2


def test_paging_by_next_page_header(con):
    with FakeGitLab(per_page=5) as server:
        session = gitlab_session(server.base_url, token=TOKEN, sleep=Sleeps())
        client = GitLabClient(session, "acme/app", per_page=5)
        listed = list(client.merge_requests(None))
        pages = server.api.count("/merge_requests$")
    assert len(listed) == len(fixture("merge_requests.json"))
    assert pages == -(-len(listed) // 5)


def test_compare_fills_commits_and_flags_timeout(server, con):
    shas = mr_commit_shas(server)
    server.add_deployment(901, shas[3], "production", "success", "2030-01-01T10:00:00Z")
    server.add_deployment(902, shas[10], "production", "success", "2030-01-02T10:00:00Z")
    server.add_deployment(903, shas[20], "prod", "success", "2030-01-03T10:00:00Z")
    server.compare_timeout = True
    run_extract(con, server, entities=["deployment_statuses", "compares"])
    rows = con.execute("select sha, listed_by from raw_gitlab__commits order by sha").fetchall()
    assert {row[0] for row in rows} == {shas[10], shas[20]}
    compares = con.execute(
        "select base_sha, head_sha, is_truncated from raw_gitlab__compares order by head_sha"
    ).fetchall()
    assert {(row[0], row[1]) for row in compares} == {(shas[3], shas[10]), (shas[10], shas[20])}
    assert all(row[2] for row in compares)


def test_monorepo_diffs_map_services(server, con):
    shas = mr_commit_shas(server)
    server.commit_diffs = {
        shas[0]: ["services/api/a.py"],
        shas[1]: ["web/x.ts", "services/api/b.py"],
    }
    config = gl.GitLabProjectConfig(
        project="acme/app",
        services=("api", "web"),
        paths={"services/api/": "api", "web": "web"},
        branch="master",
    )
    run_extract(con, server, config=config, entities=["commits"])
    services = dict(con.execute("select sha, changed_services from raw_gitlab__commits").fetchall())
    assert json.loads(services[shas[0]]) == ["api"]
    assert json.loads(services[shas[1]]) == ["api", "web"]
    assert json.loads(services[shas[2]]) == []


def test_incident_rows(server, con):
    chosen = mark_incidents(server)
    run_extract(con, server, entities=["incidents"])
    rows = con.execute(
        "select number, service, resolved_at is null from raw_gitlab__incidents order by number"
    ).fetchall()
    assert [row[0] for row in rows] == chosen
    assert dict((row[0], row[1]) for row in rows)[4] == "billing"
    assert dict((row[0], row[2]) for row in rows)[3] is True


def test_token_sent_only_in_header(server, con):
    run_extract(con, server, entities=["merge_requests"])
    assert all(TOKEN not in json.dumps(r.query) for r in server.api.requests)
    assert server.api.requests[0].headers["private-token"] == TOKEN
    hits = con.execute(
        "select count(*) from http_cache t where contains(cast(t as varchar), ?)", [TOKEN]
    ).fetchone()[0]
    assert hits == 0


def test_wrong_token_rejected_without_leak(server, con):
    extract.ensure_tables(con)
    session = gitlab_session(server.base_url, token="glpat-wrong-secret", sleep=Sleeps())
    with pytest.raises(ApiError, match="returned 401") as raised:
        extract.extract_merge_requests(con, GitLabClient(session, "acme/app"), PROJECT)
    assert "glpat-wrong-secret" not in str(raised.value)
