"""Incremental extraction of one GitHub repository into the ``raw_github__*`` tables.

Every function reads its cursor from ``pipeline_cursors``, fetches only what
changed since, upserts the rows and then stores the new cursor. When a run
fails part-way the cursor is not moved, so the next run fetches the same
objects again and the upsert leaves no duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import duckdb

from dagster_project import warehouse
from dagster_project.clients.github import GitHubClient
from dagster_project.sources import github as gh
from dagster_project.sources.api_loading import (
    Batch,
    LoadResult,
    iso,
    later,
    newest_time,
    read_from_cursor,
    services_for_paths,
    write_batch,
)
from dagster_project.sources.github_releases import extract_release_deployments
from dagster_project.timeparse import parse_timestamp

# Environment names that count as production when choosing the shas to compare;
# the same defaults as the pipeline's environment mapping.
PRODUCTION_NAMES = frozenset({"production", "prod", "prd", "live"})
TERMINAL_STATES = ("success", "failure", "error")
# Runs for a pull request test the change; they never deploy the branch.
PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})


def _location(client: GitHubClient, path: str) -> str:
    return client.session.url_for(f"{client.prefix}/{path}")


def _write(con, table: str, batch: Batch, result: LoadResult) -> None:
    result.rows[table] = result.rows.get(table, 0) + write_batch(
        con, table, gh.GITHUB_TABLES[table], batch
    )
    result.rejected += len(batch.rejected)


def extract_pull_requests(con, client: GitHubClient, config: gh.GitHubRepoConfig) -> LoadResult:
    """Load pull requests updated since the cursor (listing newest-updated first, stopping early)."""
    source = config.source
    cursor = parse_timestamp(warehouse.read_cursor(con, source, "pull_requests"), "cursor")
    batch = Batch(source, "pull_requests")
    newest = cursor
    for pr in client.pull_requests_by_update():
        updated = parse_timestamp(pr.get("updated_at"), "updated_at")
        if cursor is not None and updated is not None and updated < cursor:
            break
        newest = later(newest, updated)
        location = _location(client, f"pulls/{pr.get('number')}")
        batch.add(location, pr, lambda pr=pr: gh.pull_request_row(config.repo, pr, config.branch))
    result = LoadResult(cursor=iso(newest))
    _write(con, "raw_github__pull_requests", batch, result)
    warehouse.write_cursor(con, source, "pull_requests", iso(newest))
    return result


def extract_pull_request_commits(
    con, client: GitHubClient, config: gh.GitHubRepoConfig
) -> LoadResult:
    """Load the commits of every pull request stored with a newer ``updated_at`` than the cursor."""
    source = config.source
    cursor = warehouse.read_cursor(con, source, "pull_request_commits")
    rows = con.execute(
        "select number, updated_at from raw_github__pull_requests "
        "where _source = ? and (? is null or updated_at > cast(? as timestamptz)) order by number",
        [source, cursor, cursor],
    ).fetchall()
    batch = Batch(source, "pull_request_commits")
    newest = parse_timestamp(cursor, "cursor")
    for number, updated_at in rows:
        for commit in client.pull_request_commits(number):
            location = _location(client, f"pulls/{number}/commits#{commit.get('sha')}")
            batch.add(
                location,
                commit,
                lambda c=commit, n=number: gh.pull_request_commit_row(config.repo, n, c),
            )
        newest = later(newest, updated_at)
    result = LoadResult(cursor=iso(newest))
    _write(con, "raw_github__pull_request_commits", batch, result)
    warehouse.write_cursor(con, source, "pull_request_commits", iso(newest))
    return result


def _commit_services(
    client: GitHubClient, config: gh.GitHubRepoConfig, sha: str
) -> list[str] | None:
    """Return the services a commit touches, from its changed files (one request per commit)."""
    if not config.paths:
        return None
    detail = client.commit(sha)
    paths = [entry.get("filename", "") for entry in detail.get("files") or []]
    paths += [entry.get("previous_filename") or "" for entry in detail.get("files") or []]
    return services_for_paths(paths, config.paths)


def _known_shas(con, table: str, source: str) -> set[str]:
    rows = con.execute(f"select sha from {table} where _source = ?", [source]).fetchall()
    return {row[0] for row in rows}


def _committed_at(commit: dict[str, Any]) -> Any:
    return ((commit.get("commit") or {}).get("committer") or {}).get("date")


def _sha(commit: dict[str, Any]) -> str:
    return str(commit.get("sha", "")).lower()


def extract_commits(con, client: GitHubClient, config: gh.GitHubRepoConfig) -> LoadResult:
    """Load the commits of the default branch committed since the cursor, with their parents."""
    source = config.source
    cursor = warehouse.read_cursor(con, source, "commits")
    branch = config.branch or client.default_branch()
    known = _known_shas(con, "raw_github__commits", source)
    batch = Batch(source, "commits")
    commits, next_cursor = read_from_cursor(
        lambda since: client.commits(branch, since=since),
        cursor,
        client.per_page,
        lambda items: newest_time(items, _committed_at),
        _sha,
    )
    for commit in commits:
        sha = _sha(commit)
        location = _location(client, f"commits/{sha}")
        if sha in known:
            continue
        services = _commit_services(client, config, sha) if sha else None
        batch.add(
            location,
            commit,
            lambda c=commit, s=services: gh.commit_row(config.repo, c, "branch", s),
        )
    result = LoadResult(cursor=next_cursor)
    _write(con, "raw_github__commits", batch, result)
    warehouse.write_cursor(con, source, "commits", next_cursor)
    return result


def production_sha_pairs(con, source: str) -> list[tuple[str, str]]:
    """Return ``(previous_sha, sha)`` of consecutive successful production deployments per service.

    Deployments are ordered by the time of their first success record; a
    redeploy of the live sha makes no pair.
    """
    names = sorted(PRODUCTION_NAMES)
    placeholders = ", ".join("?" for _ in names)
    rows = con.execute(
        f"""
        with deployed as (
            select service, sha, min(state_at) as deployed_at
            from raw_github__deployment_statuses
            where _source = ? and lower(trim(state)) = 'success'
              and (is_production_environment or lower(trim(environment)) in ({placeholders}))
            group by service, deployment_id, sha
            union all
            select service, sha, completed_at as deployed_at
            from raw_github__workflow_runs
            where _source = ? and conclusion = 'success'
              and lower(trim(environment)) in ({placeholders})
        )
        select service, sha from deployed where deployed_at is not null
        order by service, deployed_at, sha
        """,
        [source, *names, source, *names],
    ).fetchall()
    pairs: list[tuple[str, str]] = []
    previous: dict[str, str] = {}
    for service, sha in rows:
        before = previous.get(service)
        if before is not None and before != sha and (before, sha) not in pairs:
            pairs.append((before, sha))
        previous[service] = sha
    return pairs


def extract_compares(con, client: GitHubClient, config: gh.GitHubRepoConfig) -> LoadResult:
    """Fill ``raw_github__commits`` with the commits between consecutive production shas.

    One compare request (more when it pages) per new pair of deployed shas.
    A listing shorter than ``total_commits`` is stored with ``is_truncated``
    so the data-quality report can name it; nothing is guessed in its place.
    """
    source = config.source
    done = {
        (row[0], row[1])
        for row in con.execute(
            "select base_sha, head_sha from raw_github__compares where _source = ?", [source]
        ).fetchall()
    }
    known = _known_shas(con, "raw_github__commits", source)
    result = LoadResult()
    for base, head in production_sha_pairs(con, source):
        if (base, head) in done:
            continue
        compared = client.compare(base, head)
        commits = Batch(source, "commits")
        for commit in compared.commits:
            sha = str(commit.get("sha", "")).lower()
            if sha in known:
                continue
            known.add(sha)
            services = _commit_services(client, config, sha) if sha else None
            commits.add(
                _location(client, f"compare/{base}...{head}#{sha}"),
                commit,
                lambda c=commit, s=services: gh.commit_row(config.repo, c, "compare", s),
            )
        _write(con, "raw_github__commits", commits, result)
        summary = Batch(source, "compares")
        summary.add(
            _location(client, f"compare/{base}...{head}"),
            {"base": base, "head": head, "total_commits": compared.total_commits},
            lambda c=compared: {
                "_record_key": f"{config.repo}:{c.base}...{c.head}",
                "repo": config.repo,
                "base_sha": c.base,
                "head_sha": c.head,
                "status": c.status,
                "total_commits": c.total_commits,
                "listed_commits": len(c.commits),
                "is_truncated": c.is_truncated,
            },
        )
        _write(con, "raw_github__compares", summary, result)
        if compared.is_truncated:
            result.notes.append(
                f"compare {base[:12]}...{head[:12]} of {config.repo} lists "
                f"{len(compared.commits)} of {compared.total_commits} commits"
            )
    return result


def _open_deployments(con, source: str) -> list[dict[str, Any]]:
    """Return the stored deployment objects that have no final status yet."""
    states = ", ".join(f"'{state}'" for state in TERMINAL_STATES)
    rows = con.execute(
        f"""
        select deployment_id, any_value(_payload)
        from raw_github__deployment_statuses
        where _source = ?
        group by deployment_id
        having count(*) filter (where lower(state) in ({states})) = 0
        """,
        [source],
    ).fetchall()
    deployments = []
    for _, payload in rows:
        data = json.loads(payload)
        deployments.append(data.get("deployment", data))
    return deployments


def extract_deployments(con, client: GitHubClient, config: gh.GitHubRepoConfig) -> LoadResult:
    """Load deployments created since the cursor, and new statuses of unfinished ones."""
    source = config.source
    cursor = parse_timestamp(warehouse.read_cursor(con, source, "deployments"), "cursor")
    pending = {str(d["id"]): d for d in _open_deployments(con, source)}
    newest = cursor
    fresh: list[dict[str, Any]] = []
    for deployment in client.deployments():
        created = parse_timestamp(deployment.get("created_at"), "created_at")
        if cursor is not None and created is not None and created < cursor:
            break
        newest = later(newest, created)
        fresh.append(deployment)
    by_id = {**pending, **{str(d["id"]): d for d in fresh}}
    batch = Batch(source, "deployment_statuses")
    for deployment_id, deployment in by_id.items():
        statuses = list(client.deployment_statuses(int(deployment_id)))
        payload = {"deployment": deployment, "statuses": statuses}
        location = _location(client, f"deployments/{deployment_id}")
        batch.add(
            location,
            payload,
            lambda d=deployment, s=statuses: [
                {**row, "_payload": {"deployment": d, "status": _status_of(s, row["status_id"])}}
                for row in gh.deployment_status_rows(config, d, s)
            ],
        )
    result = LoadResult(cursor=iso(newest))
    _write(con, "raw_github__deployment_statuses", batch, result)
    warehouse.write_cursor(con, source, "deployments", iso(newest))
    return result


def _status_of(statuses: Iterable[dict[str, Any]], status_id: str | None) -> dict[str, Any] | None:
    return next((s for s in statuses if str(s.get("id")) == status_id), None)


def _is_deploy_run(config: gh.GitHubRepoConfig, run: dict[str, Any]) -> bool:
    """Return True for a run of the deploy workflow on the deploy branch, not for a pull request."""
    workflow = config.deploy_workflow or ""
    by_file = workflow.endswith((".yml", ".yaml")) or workflow.isdigit()
    if not by_file and run.get("name") != workflow:
        return False
    if config.deploy_branch and run.get("head_branch") != config.deploy_branch:
        return False
    return run.get("event") not in PULL_REQUEST_EVENTS


def _runs_cursor(config: gh.GitHubRepoConfig, runs: list[dict[str, Any]]) -> str | None:
    """Return the creation time of the oldest unfinished deploy run, else of the newest one."""
    newest: datetime | None = None
    oldest_open: datetime | None = None
    for run in runs:
        if not _is_deploy_run(config, run):
            continue
        created = parse_timestamp(run.get("created_at"), "created_at")
        newest = later(newest, created)
        if run.get("status") != "completed" and created is not None:
            oldest_open = created if oldest_open is None or created < oldest_open else oldest_open
    return iso(oldest_open or newest)


def extract_workflow_runs(con, client: GitHubClient, config: gh.GitHubRepoConfig) -> LoadResult:
    """Load the runs of the deployment workflow created since the cursor.

    When the cursor moves, it moves to the creation time of the oldest run
    still unfinished (else of the newest run), so a run that was in progress
    is read again until it finishes. Jobs are fetched once per completed run for its finish time.
    """
    source = config.source
    result = LoadResult()
    if not config.deploy_workflow:
        result.notes.append(f"{config.repo}: no deploy_workflow configured, workflow runs skipped")
        return result
    cursor = warehouse.read_cursor(con, source, "workflow_runs")
    finished = {
        row[0]
        for row in con.execute(
            "select run_id from raw_github__workflow_runs where _source = ? and status = 'completed'",
            [source],
        ).fetchall()
    }
    batch = Batch(source, "workflow_runs")
    runs, next_cursor = read_from_cursor(
        lambda since: client.workflow_runs(config.deploy_workflow, config.deploy_branch, since),
        cursor,
        client.per_page,
        lambda items: _runs_cursor(config, items),
        lambda run: run.get("id"),
    )
    for run in runs:
        if not _is_deploy_run(config, run):
            result.skipped += 1
            continue
        run_id = str(run.get("id"))
        if run_id in finished:
            continue
        jobs = client.run_jobs(int(run_id)) if run.get("status") == "completed" else None
        location = _location(client, f"actions/runs/{run_id}")
        batch.add(
            location,
            {"run": run, "jobs": jobs},
            lambda r=run, j=jobs: {
                **gh.workflow_run_row(config, r, j),
                "_payload": {"run": r, "jobs": j},
            },
        )
    result.cursor = next_cursor
    _write(con, "raw_github__workflow_runs", batch, result)
    warehouse.write_cursor(con, source, "workflow_runs", next_cursor)
    return result


def extract_releases(con, client: GitHubClient, config: gh.GitHubRepoConfig) -> LoadResult:
    """Load every release; ETags make an unchanged listing cost no quota."""
    batch = Batch(config.source, "releases")
    for release in client.releases():
        location = _location(client, f"releases/{release.get('id')}")
        batch.add(location, release, lambda r=release: gh.release_row(config.repo, r))
    result = LoadResult()
    _write(con, "raw_github__releases", batch, result)
    return result


def extract_tags(con, client: GitHubClient, config: gh.GitHubRepoConfig) -> LoadResult:
    """Load every tag with the sha it points at (a moved tag replaces its row)."""
    batch = Batch(config.source, "tags")
    for tag in client.tags():
        location = _location(client, f"git/refs/tags/{tag.get('name')}")
        batch.add(location, tag, lambda t=tag: gh.tag_row(config.repo, t))
    result = LoadResult()
    _write(con, "raw_github__tags", batch, result)
    return result


def extract_incidents(con, client: GitHubClient, config: gh.GitHubRepoConfig) -> LoadResult:
    """Load issues carrying the incident label updated since the cursor; pull requests are skipped."""
    source = config.source
    cursor = warehouse.read_cursor(con, source, "incidents")
    batch = Batch(source, "incidents")
    issues, next_cursor = read_from_cursor(
        lambda since: client.issues(config.incident_label, since),
        cursor,
        client.per_page,
        lambda items: newest_time(items, lambda issue: issue.get("updated_at")),
        lambda issue: issue.get("number"),
    )
    result = LoadResult()
    for issue in issues:
        if "pull_request" in issue:
            result.skipped += 1
            continue
        location = _location(client, f"issues/{issue.get('number')}")
        batch.add(location, issue, lambda i=issue: gh.incident_row(config, i))
    result.cursor = next_cursor
    _write(con, "raw_github__incidents", batch, result)
    warehouse.write_cursor(con, source, "incidents", next_cursor)
    return result


# In dependency order: release deployments read the stored releases and
# tags, and compares read every stored deployment and workflow run.
EXTRACTORS = {
    "pull_requests": extract_pull_requests,
    "pull_request_commits": extract_pull_request_commits,
    "releases": extract_releases,
    "tags": extract_tags,
    "deployment_statuses": extract_deployments,
    "release_deployments": extract_release_deployments,
    "workflow_runs": extract_workflow_runs,
    "commits": extract_commits,
    "compares": extract_compares,
    "incidents": extract_incidents,
}


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    warehouse.ensure_raw_tables(con, gh.GITHUB_TABLES)
