"""Incremental extraction of one GitLab project into the ``raw_gitlab__*`` tables.

Listings are read with ``order_by=updated_at&sort=asc&updated_after=<cursor>``
and the cursor moves only after the rows are stored, so a failed run is
repeated in full by the next one and the upsert leaves no duplicates.
"""

from __future__ import annotations

import duckdb

from dagster_project import warehouse
from dagster_project.clients.gitlab import GitLabClient
from dagster_project.sources import gitlab as gl
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
from dagster_project.sources.github_extract import PRODUCTION_NAMES
from dagster_project.timeparse import parse_timestamp

FINISHED_PIPELINE_STATES = frozenset({"success", "failed", "canceled", "skipped"})


def _location(client: GitLabClient, path: str) -> str:
    return client.session.url_for(f"{client.prefix}/{path}")


def _write(con, table: str, batch: Batch, result: LoadResult) -> None:
    written = write_batch(con, table, gl.GITLAB_TABLES[table], batch)
    result.rows[table] = result.rows.get(table, 0) + written
    result.rejected += len(batch.rejected)


def _finish(con, source: str, entity: str, table: str, batch: Batch, newest) -> LoadResult:
    """Write the batch, then store ``newest`` (a timestamp, or cursor text as stored) as the cursor."""
    cursor = newest if isinstance(newest, str) or newest is None else iso(newest)
    result = LoadResult(cursor=cursor)
    _write(con, table, batch, result)
    warehouse.write_cursor(con, source, entity, cursor)
    return result


def _listing(client: GitLabClient, fetch, cursor: str | None, time_field: str, key_field: str):
    """Read a listing from ``cursor``; return its items and the next cursor (see read_from_cursor)."""
    return read_from_cursor(
        fetch,
        cursor,
        client.per_page,
        lambda items: newest_time(items, lambda item: item.get(time_field)),
        lambda item: item.get(key_field),
    )


def extract_merge_requests(con, client: GitLabClient, config: gl.GitLabProjectConfig) -> LoadResult:
    """Load merge requests updated since the cursor."""
    source = config.source
    cursor = warehouse.read_cursor(con, source, "merge_requests")
    branch = config.branch or client.project_info()["default_branch"]
    batch = Batch(source, "merge_requests")
    requests, next_cursor = _listing(client, client.merge_requests, cursor, "updated_at", "iid")
    for mr in requests:
        location = _location(client, f"merge_requests/{mr.get('iid')}")
        batch.add(location, mr, lambda m=mr: gl.merge_request_row(config.project, m, branch))
    return _finish(con, source, "merge_requests", "raw_gitlab__merge_requests", batch, next_cursor)


def extract_merge_request_commits(
    con, client: GitLabClient, config: gl.GitLabProjectConfig
) -> LoadResult:
    """Load the commits of every stored merge request updated after the cursor."""
    source = config.source
    cursor = warehouse.read_cursor(con, source, "merge_request_commits")
    rows = con.execute(
        "select number, updated_at from raw_gitlab__merge_requests "
        "where _source = ? and (? is null or updated_at > cast(? as timestamptz)) order by number",
        [source, cursor, cursor],
    ).fetchall()
    batch = Batch(source, "merge_request_commits")
    newest = parse_timestamp(cursor, "cursor")
    for iid, updated_at in rows:
        for commit in client.merge_request_commits(iid):
            location = _location(client, f"merge_requests/{iid}/commits#{commit.get('id')}")
            batch.add(
                location,
                commit,
                lambda c=commit, n=iid: gl.merge_request_commit_row(config.project, n, c),
            )
        newest = later(newest, updated_at)
    return _finish(
        con, source, "merge_request_commits", "raw_gitlab__merge_request_commits", batch, newest
    )


def _commit_services(client: GitLabClient, config: gl.GitLabProjectConfig, sha: str):
    """Return the services a commit touches, from its diff (one request or more per commit)."""
    if not config.paths:
        return None
    paths = []
    for entry in client.commit_diff(sha):
        paths += [entry.get("new_path") or "", entry.get("old_path") or ""]
    return services_for_paths(paths, config.paths)


def _known_shas(con, source: str) -> set[str]:
    rows = con.execute("select sha from raw_gitlab__commits where _source = ?", [source]).fetchall()
    return {row[0] for row in rows}


def extract_commits(con, client: GitLabClient, config: gl.GitLabProjectConfig) -> LoadResult:
    """Load the commits of the default branch committed since the cursor."""
    source = config.source
    cursor = warehouse.read_cursor(con, source, "commits")
    branch = config.branch or client.project_info()["default_branch"]
    known = _known_shas(con, source)
    batch = Batch(source, "commits")
    commits, next_cursor = _listing(
        client, lambda since: client.commits(branch, since), cursor, "committed_date", "id"
    )
    for commit in commits:
        sha = str(commit.get("id", "")).lower()
        if sha in known:
            continue
        services = _commit_services(client, config, sha) if sha else None
        batch.add(
            _location(client, f"repository/commits/{sha}"),
            commit,
            lambda c=commit, s=services: gl.commit_row(config.project, c, "branch", s),
        )
    return _finish(con, source, "commits", "raw_gitlab__commits", batch, next_cursor)


def production_sha_pairs(con, source: str) -> list[tuple[str, str]]:
    """Return ``(previous_sha, sha)`` of consecutive successful production deployments per service."""
    names = sorted(PRODUCTION_NAMES)
    marks = ", ".join("?" for _ in names)
    rows = con.execute(
        f"""
        with deployed as (
            select service, sha, state_at as deployed_at
            from raw_gitlab__deployment_statuses
            where _source = ? and state = 'success'
              and (environment_tier = 'production' or lower(trim(environment)) in ({marks}))
            union all
            select service, sha, finished_at
            from raw_gitlab__pipelines
            where _source = ? and status = 'success' and lower(trim(environment)) in ({marks})
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


def extract_compares(con, client: GitLabClient, config: gl.GitLabProjectConfig) -> LoadResult:
    """Fill ``raw_gitlab__commits`` with the commits between consecutive production shas."""
    source = config.source
    done = set(
        con.execute(
            "select base_sha, head_sha from raw_gitlab__compares where _source = ?", [source]
        ).fetchall()
    )
    known = _known_shas(con, source)
    result = LoadResult()
    for base, head in production_sha_pairs(con, source):
        if (base, head) in done:
            continue
        compared = client.compare(base, head)
        commits = Batch(source, "commits")
        for commit in compared.commits:
            sha = str(commit.get("id", "")).lower()
            if sha in known:
                continue
            known.add(sha)
            services = _commit_services(client, config, sha) if sha else None
            commits.add(
                _location(client, f"repository/compare?from={base}&to={head}#{sha}"),
                commit,
                lambda c=commit, s=services: gl.commit_row(config.project, c, "compare", s),
            )
        _write(con, "raw_gitlab__commits", commits, result)
        summary = Batch(source, "compares")
        summary.add(
            _location(client, f"repository/compare?from={base}&to={head}"),
            {"from": base, "to": head, "compare_timeout": compared.timed_out},
            lambda c=compared: {
                "_record_key": f"{config.project}:{c.base}...{c.head}",
                "repo": config.project,
                "base_sha": c.base,
                "head_sha": c.head,
                "status": c.status,
                "listed_commits": len(c.commits),
                "is_truncated": c.is_truncated,
            },
        )
        _write(con, "raw_gitlab__compares", summary, result)
        if compared.is_truncated:
            result.notes.append(
                f"compare {base[:12]}...{head[:12]} of {config.project} is incomplete "
                f"({compared.status}, compare_timeout={compared.timed_out})"
            )
    return result


def extract_deployments(con, client: GitLabClient, config: gl.GitLabProjectConfig) -> LoadResult:
    """Load deployments updated since the cursor, with each environment's tier."""
    source = config.source
    cursor = warehouse.read_cursor(con, source, "deployments")
    tiers = {str(env.get("name")): env.get("tier") for env in client.environments()}
    batch = Batch(source, "deployment_statuses")
    deployments, next_cursor = _listing(client, client.deployments, cursor, "updated_at", "id")
    for deployment in deployments:
        batch.add(
            _location(client, f"deployments/{deployment.get('id')}"),
            deployment,
            lambda d=deployment: gl.deployment_row(config, d, tiers),
        )
    return _finish(
        con, source, "deployments", "raw_gitlab__deployment_statuses", batch, next_cursor
    )


def extract_pipelines(con, client: GitLabClient, config: gl.GitLabProjectConfig) -> LoadResult:
    """Load pipelines of the deploy ref updated since the cursor; details give ``finished_at``."""
    source = config.source
    if not config.deploy_pipeline_ref:
        result = LoadResult()
        result.notes.append(
            f"{config.project}: no deploy_pipeline_ref configured, pipelines skipped"
        )
        return result
    cursor = warehouse.read_cursor(con, source, "pipelines")
    stored = dict(
        con.execute(
            "select pipeline_id, updated_at from raw_gitlab__pipelines where _source = ?", [source]
        ).fetchall()
    )
    batch = Batch(source, "pipelines")
    pipelines, next_cursor = _listing(
        client,
        lambda since: client.pipelines(config.deploy_pipeline_ref, since),
        cursor,
        "updated_at",
        "id",
    )
    for listed in pipelines:
        updated = parse_timestamp(listed.get("updated_at"), "updated_at")
        if updated is not None and stored.get(str(listed.get("id"))) == updated:
            continue  # listed again: the cursor stays put while the listing fits in one page
        pipeline = listed
        if listed.get("status") in FINISHED_PIPELINE_STATES and "finished_at" not in listed:
            pipeline = client.pipeline(int(listed["id"]))
        batch.add(
            _location(client, f"pipelines/{listed.get('id')}"),
            pipeline,
            lambda p=pipeline: gl.pipeline_row(config, p),
        )
    return _finish(con, source, "pipelines", "raw_gitlab__pipelines", batch, next_cursor)


def extract_incidents(con, client: GitLabClient, config: gl.GitLabProjectConfig) -> LoadResult:
    """Load issues of type ``incident`` updated since the cursor."""
    source = config.source
    cursor = warehouse.read_cursor(con, source, "incidents")
    batch = Batch(source, "incidents")
    result_skipped = 0
    issues, next_cursor = _listing(client, client.incidents, cursor, "updated_at", "iid")
    for issue in issues:
        if issue.get("issue_type") not in (None, "incident"):
            result_skipped += 1
            continue
        batch.add(
            _location(client, f"issues/{issue.get('iid')}"),
            issue,
            lambda i=issue: gl.incident_row(config, i),
        )
    result = _finish(con, source, "incidents", "raw_gitlab__incidents", batch, next_cursor)
    result.skipped = result_skipped
    return result


# In dependency order: compares read the stored deployments and pipelines.
EXTRACTORS = {
    "merge_requests": extract_merge_requests,
    "merge_request_commits": extract_merge_request_commits,
    "deployment_statuses": extract_deployments,
    "pipelines": extract_pipelines,
    "commits": extract_commits,
    "compares": extract_compares,
    "incidents": extract_incidents,
}


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    warehouse.ensure_raw_tables(con, gl.GITLAB_TABLES)
