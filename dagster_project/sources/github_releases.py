"""Releases or tags of a GitHub repository as deployments, for teams that deploy by tagging.

With ``deploy_releases: true`` every published release, other than drafts
and prereleases, is one successful deployment of its tag's commit, at the
release's ``published_at``. With ``deploy_tags: <glob>`` every tag whose name
matches is one, at the tagger date of the annotated tag. Both go to the
repository's first service and to ``deploy_environment``.

The rows are status records in ``raw_github__deployment_statuses``, with
deployment ids ``release:<id>`` and ``tag:<name>``, so the deployment models
and the compare step read them like any other deployment. The record key
contains the sha, so a tag moved to another commit adds a deployment and keeps
the earlier one.

A lightweight tag has no time of its own. The tagged commit's time is when
the change was written, not when it reached production, and the deployment
time must be the time of the success record, so such a tag is quarantined
with that reason rather than dated by its commit.
"""

from __future__ import annotations

import json
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from dagster_project.clients.github import GitHubClient
from dagster_project.sources import github as gh
from dagster_project.sources.api_loading import Batch, LoadResult, required_timestamp, write_batch
from dagster_project.timeparse import parse_timestamp

TABLE = "raw_github__deployment_statuses"


def _stored_tags(con, source: str) -> dict[str, str]:
    rows = con.execute("select name, sha from raw_github__tags where _source = ?", [source])
    return dict(rows.fetchall())


def _stored_keys(con, source: str) -> set[str]:
    rows = con.execute(
        f"select _record_key from {TABLE} where _source = ? and deployment_id like 'tag:%'",
        [source],
    )
    return {row[0] for row in rows.fetchall()}


def deployment_row(
    config: gh.GitHubRepoConfig, deployment_id: str, sha: str, deployed_at: datetime
) -> dict[str, Any]:
    """Return the success record of a release or tag deployment."""
    return {
        "_record_key": f"{config.repo}:{deployment_id}@{sha}",
        "deployment_id": deployment_id,
        "status_id": deployment_id,
        "repo": config.repo,
        "service": config.default_service,
        "environment": config.deploy_environment,
        "is_production_environment": False,
        "sha": sha,
        "state": "success",
        "state_at": deployed_at,
        "started_at": deployed_at,
        "record_index": 0,
    }


def release_deployment_row(
    config: gh.GitHubRepoConfig, release: dict[str, Any], tags: dict[str, str]
) -> dict[str, Any]:
    """Return the deployment row of a published release; raise ValueError when it has none."""
    tag = release.get("tag_name")
    published_at = required_timestamp(release, "published_at")
    if tag not in tags:
        raise ValueError(
            f"release {release.get('id')} names tag {tag!r}, which the tags listing of "
            f"{config.repo} does not contain, so its commit is unknown; push the tag "
            "or correct the release"
        )
    return deployment_row(config, f"release:{release['id']}", tags[tag], published_at)


def _release_deployments(
    con, client: GitHubClient, config: gh.GitHubRepoConfig, result: LoadResult
) -> Batch:
    batch = Batch(config.source, "release_deployments")
    tags = _stored_tags(con, config.source)
    rows = con.execute(
        "select release_id, _payload from raw_github__releases where _source = ? order by 1",
        [config.source],
    ).fetchall()
    for release_id, payload in rows:
        release = json.loads(payload)
        if release.get("draft") or release.get("prerelease"):
            result.skipped += 1
            continue
        location = client.session.url_for(f"{client.prefix}/releases/{release_id}")
        batch.add(location, release, lambda r=release: release_deployment_row(config, r, tags))
    return batch


def tag_time(client: GitHubClient, name: str) -> tuple[dict[str, Any], Any]:
    """Return the tag's reference (and tag object, when annotated) and its tagger date.

    The date is None for a lightweight tag. Two requests for an annotated
    tag, one for a lightweight one.
    """
    reference = client.tag_ref(name)
    target = reference.get("object") or {}
    if target.get("type") != "tag":
        return {"ref": reference}, None
    annotated = client.tag_object(str(target["sha"]))
    date = (annotated.get("tagger") or {}).get("date")
    return {"ref": reference, "tag": annotated}, parse_timestamp(date, "tagger.date")


def tag_deployment_row(
    config: gh.GitHubRepoConfig, name: str, sha: str, tagged_at: Any
) -> dict[str, Any]:
    """Return the deployment row of a matching tag; raise ValueError for a lightweight tag."""
    if tagged_at is None:
        raise ValueError(
            f"tag {name!r} of {config.repo} is a lightweight tag, which has no time of its "
            "own, and the tagged commit's time is not when it was deployed; create "
            "annotated tags (git tag -a) or set deploy_releases"
        )
    return deployment_row(config, f"tag:{name}", sha, tagged_at)


def _tag_deployments(
    con, client: GitHubClient, config: gh.GitHubRepoConfig, result: LoadResult
) -> Batch:
    batch = Batch(config.source, "release_deployments")
    known = _stored_keys(con, config.source)
    for name, sha in sorted(_stored_tags(con, config.source).items()):
        if not fnmatchcase(name, config.deploy_tags or ""):
            result.skipped += 1
            continue
        if f"{config.repo}:tag:{name}@{sha}" in known:
            continue
        location = client.session.url_for(f"{client.prefix}/git/ref/tags/{name}")
        payload, tagged_at = tag_time(client, name)
        batch.add(
            location,
            payload,
            lambda n=name, s=sha, t=tagged_at: tag_deployment_row(config, n, s, t),
        )
    return batch


def extract_release_deployments(
    con, client: GitHubClient, config: gh.GitHubRepoConfig
) -> LoadResult:
    """Store the configured releases or tags as deployments; needs releases and tags loaded first."""
    result = LoadResult()
    if config.deploy_releases:
        batch = _release_deployments(con, client, config, result)
    elif config.deploy_tags:
        batch = _tag_deployments(con, client, config, result)
    else:
        return result
    result.rows[TABLE] = write_batch(con, TABLE, gh.GITHUB_TABLES[TABLE], batch)
    result.rejected += len(batch.rejected)
    return result
