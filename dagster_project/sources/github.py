"""GitHub as a source: configuration, raw tables and API objects turned into raw rows.

Each repository is one source instance, ``github:<owner>/<name>``, with its own
cursors and ETags. The extraction functions in ``github_extract`` read the
API; this module only validates configuration and builds rows, so it is
tested without a server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dagster_project.sources.api_loading import (
    first_line,
    required_timestamp,
    reverted_sha,
    timestamp,
)
from dagster_project.sources.incident_text import alert_time

SOURCE_PREFIX = "github"
DEFAULT_TOKEN_ENV = "GITHUB_TOKEN"
DEFAULT_INCIDENT_LABEL = "incident"
SERVICE_LABEL_PREFIX = "service:"

PULL_REQUESTS = {
    "repo": "varchar",
    "number": "integer",
    "state": "varchar",
    "opened_at": "timestamptz",
    "updated_at": "timestamptz",
    "closed_at": "timestamptz",
    "merged_at": "timestamptz",
    "merge_commit_sha": "varchar",
    "title": "varchar",
    "head_ref": "varchar",
    "base_ref": "varchar",
    "targets_production_branch": "boolean",
    "labels": "varchar",
    "author_login": "varchar",
    "is_bot": "boolean",
    "is_draft": "boolean",
}

COMMIT_FIELDS = {
    "repo": "varchar",
    "sha": "varchar",
    "parent_shas": "varchar",
    "parent_count": "integer",
    "authored_at": "timestamptz",
    "committed_at": "timestamptz",
    "subject": "varchar",
    "reverted_sha": "varchar",
    "is_bot": "boolean",
}

COMMITS = {
    **COMMIT_FIELDS,
    "changed_services": "varchar",
    "listed_by": "varchar",
}

PULL_REQUEST_COMMITS = {**COMMIT_FIELDS, "pr_number": "integer"}

COMPARES = {
    "repo": "varchar",
    "base_sha": "varchar",
    "head_sha": "varchar",
    "status": "varchar",
    "total_commits": "integer",
    "listed_commits": "integer",
    "is_truncated": "boolean",
}

DEPLOYMENT_STATUSES = {
    "deployment_id": "varchar",
    "status_id": "varchar",
    "repo": "varchar",
    "service": "varchar",
    "environment": "varchar",
    "is_production_environment": "boolean",
    "sha": "varchar",
    "state": "varchar",
    "state_at": "timestamptz",
    "started_at": "timestamptz",
    "record_index": "integer",
}

WORKFLOW_RUNS = {
    "run_id": "varchar",
    "repo": "varchar",
    "service": "varchar",
    "environment": "varchar",
    "workflow_name": "varchar",
    "head_branch": "varchar",
    "sha": "varchar",
    "event": "varchar",
    "status": "varchar",
    "conclusion": "varchar",
    "run_attempt": "integer",
    "created_at": "timestamptz",
    "started_at": "timestamptz",
    "completed_at": "timestamptz",
}

RELEASES = {
    "release_id": "varchar",
    "repo": "varchar",
    "tag_name": "varchar",
    "target_commitish": "varchar",
    "name": "varchar",
    "is_draft": "boolean",
    "is_prerelease": "boolean",
    "created_at": "timestamptz",
    "published_at": "timestamptz",
}

TAGS = {"repo": "varchar", "name": "varchar", "sha": "varchar"}

INCIDENTS = {
    "incident_id": "varchar",
    "repo": "varchar",
    "number": "integer",
    "service": "varchar",
    "title": "varchar",
    "state": "varchar",
    "labels": "varchar",
    "alert_at": "timestamptz",
    "resolved_at": "timestamptz",
    "updated_at": "timestamptz",
    "resolution_reason": "varchar",
}

GITHUB_TABLES: dict[str, dict[str, str]] = {
    "raw_github__pull_requests": PULL_REQUESTS,
    "raw_github__pull_request_commits": PULL_REQUEST_COMMITS,
    "raw_github__commits": COMMITS,
    "raw_github__compares": COMPARES,
    "raw_github__deployment_statuses": DEPLOYMENT_STATUSES,
    "raw_github__workflow_runs": WORKFLOW_RUNS,
    "raw_github__releases": RELEASES,
    "raw_github__tags": TAGS,
    "raw_github__incidents": INCIDENTS,
}


class GitHubConfigError(ValueError):
    """An invalid ``sources.github`` section; the message lists every invalid field."""


@dataclass(frozen=True)
class GitHubRepoConfig:
    """One repository and the services it feeds."""

    repo: str
    services: tuple[str, ...]
    # Folder prefix -> service, for monorepos; empty means every commit feeds every service.
    paths: Mapping[str, str] = field(default_factory=dict)
    branch: str | None = None
    deploy_workflow: str | None = None
    deploy_branch: str | None = None
    deploy_environment: str = "production"
    # Published releases, or tags matching this glob, are successful deployments.
    deploy_releases: bool = False
    deploy_tags: str | None = None
    incident_label: str = DEFAULT_INCIDENT_LABEL

    @property
    def name(self) -> str:
        return self.repo

    @property
    def source(self) -> str:
        return f"{SOURCE_PREFIX}:{self.repo}"

    @property
    def default_service(self) -> str:
        return self.services[0]


@dataclass(frozen=True)
class GitHubConfig:
    """The ``sources.github`` section of the pipeline configuration."""

    base_url: str = "https://api.github.com"
    token_env: str = DEFAULT_TOKEN_ENV
    repos: tuple[GitHubRepoConfig, ...] = ()


def parse_github_config(section: Any) -> GitHubConfig:
    """Validate a ``sources.github`` mapping; raise GitHubConfigError naming each bad field."""
    if section is None:
        return GitHubConfig()
    if not isinstance(section, Mapping):
        raise GitHubConfigError(
            f"sources.github: invalid value {section!r}; expected a mapping with 'repos'"
        )
    errors: list[str] = []
    repos = []
    for index, item in enumerate(section.get("repos") or []):
        where = f"sources.github.repos[{index}]"
        if isinstance(item, str):
            item = {"repo": item}
        repo_config = _parse_repo(item, where, section, errors)
        if repo_config is not None:
            repos.append(repo_config)
    if errors:
        raise GitHubConfigError("invalid GitHub configuration:\n  " + "\n  ".join(errors))
    return GitHubConfig(
        base_url=str(section.get("base_url") or GitHubConfig.base_url).rstrip("/"),
        token_env=str(section.get("token_env") or DEFAULT_TOKEN_ENV),
        repos=tuple(repos),
    )


def _parse_repo(
    item: Any, where: str, defaults: Mapping[str, Any], errors: list[str]
) -> GitHubRepoConfig | None:
    if not isinstance(item, Mapping) or not isinstance(item.get("repo"), str):
        errors.append(f"{where}: invalid value {item!r}; expected {{repo: owner/name}}")
        return None
    repo = item["repo"].strip()
    if repo.count("/") != 1 or not all(repo.split("/")):
        errors.append(f"{where}.repo: invalid value {repo!r}; write it as owner/name")
        return None
    paths = item.get("paths") or {}
    if not isinstance(paths, Mapping):
        errors.append(f"{where}.paths: invalid value {paths!r}; expected 'folder/': service pairs")
        paths = {}
    services = item.get("services") or item.get("service") or []
    services = [services] if isinstance(services, str) else list(services)
    services = [*services, *(s for s in paths.values() if s not in services)]
    workflow = item.get("deploy_workflow")
    deploy_releases, deploy_tags = _parse_release_signal(item, where, errors)
    return GitHubRepoConfig(
        repo=repo,
        services=tuple(services) or (repo.split("/")[1],),
        paths={str(k): str(v) for k, v in paths.items()},
        branch=item.get("branch"),
        deploy_workflow=None if workflow is None else str(workflow),
        deploy_branch=item.get("deploy_branch") or item.get("branch"),
        deploy_environment=str(item.get("deploy_environment") or "production"),
        deploy_releases=deploy_releases,
        deploy_tags=deploy_tags,
        incident_label=str(
            item.get("incident_label") or defaults.get("incident_label") or DEFAULT_INCIDENT_LABEL
        ),
    )


def _parse_release_signal(
    item: Mapping[str, Any], where: str, errors: list[str]
) -> tuple[bool, str | None]:
    """Validate ``deploy_releases`` and ``deploy_tags``; return them as (bool, glob or None)."""
    releases = item.get("deploy_releases", False)
    if not isinstance(releases, bool):
        errors.append(f"{where}.deploy_releases: invalid value {releases!r}; write true or false")
        releases = False
    tags = item.get("deploy_tags")
    if tags is not None and (not isinstance(tags, str) or not tags.strip()):
        errors.append(
            f"{where}.deploy_tags: invalid value {tags!r}; write a tag name pattern such as 'v*'"
        )
        tags = None
    if releases and tags:
        errors.append(
            f"{where}: deploy_releases and deploy_tags are both set; a release's tag would "
            "count twice, so keep one of them"
        )
        tags = None
    return releases, tags.strip() if tags else None


def _login(user: Mapping[str, Any] | None) -> str | None:
    return None if not user else user.get("login")


def is_bot_user(user: Mapping[str, Any] | None) -> bool:
    """Return True for a GitHub App or bot account (``type: Bot`` or a ``[bot]`` login)."""
    if not user:
        return False
    return user.get("type") == "Bot" or str(user.get("login", "")).endswith("[bot]")


def _label_names(item: Mapping[str, Any]) -> list[str]:
    return [
        label["name"] if isinstance(label, Mapping) else str(label)
        for label in item.get("labels") or []
    ]


def pull_request_row(
    repo: str, pr: Mapping[str, Any], production_branch: str | None = None
) -> dict[str, Any]:
    """Return the row of a pull request.

    ``production_branch`` is the configured branch; when None, the base
    repository's ``default_branch`` from the pull request object is used.
    """
    number = int(pr["number"])
    base = pr.get("base") or {}
    branch = production_branch or (base.get("repo") or {}).get("default_branch")
    return {
        "_record_key": f"{repo}#{number}",
        "repo": repo,
        "number": number,
        "state": pr.get("state"),
        "opened_at": required_timestamp(pr, "created_at"),
        "updated_at": timestamp(pr, "updated_at"),
        "closed_at": timestamp(pr, "closed_at"),
        "merged_at": timestamp(pr, "merged_at"),
        "merge_commit_sha": pr.get("merge_commit_sha") if pr.get("merged_at") else None,
        "title": pr.get("title"),
        "head_ref": (pr.get("head") or {}).get("ref"),
        "base_ref": base.get("ref"),
        "targets_production_branch": None if branch is None else base.get("ref") == branch,
        "labels": json.dumps(_label_names(pr)),
        "author_login": _login(pr.get("user")),
        "is_bot": is_bot_user(pr.get("user")),
        "is_draft": bool(pr.get("draft")),
    }


def commit_fields(repo: str, commit: Mapping[str, Any]) -> dict[str, Any]:
    """Return the commit columns of a commit object (list, compare or pull-request listing)."""
    sha = str(commit["sha"]).lower()
    parents = [str(parent["sha"]).lower() for parent in commit.get("parents") or []]
    detail = commit["commit"]
    return {
        "repo": repo,
        "sha": sha,
        "parent_shas": json.dumps(parents),
        "parent_count": len(parents),
        "authored_at": required_timestamp(detail, "author", "date"),
        "committed_at": required_timestamp(detail, "committer", "date"),
        "subject": first_line(detail.get("message")),
        "reverted_sha": reverted_sha(detail.get("message")),
        "is_bot": is_bot_user(commit.get("author")),
    }


def commit_row(
    repo: str, commit: Mapping[str, Any], listed_by: str, services: list[str] | None = None
) -> dict[str, Any]:
    row = commit_fields(repo, commit)
    row["_record_key"] = f"{repo}@{row['sha']}"
    row["listed_by"] = listed_by
    row["changed_services"] = None if services is None else json.dumps(services)
    return row


def pull_request_commit_row(repo: str, number: int, commit: Mapping[str, Any]) -> dict[str, Any]:
    row = commit_fields(repo, commit)
    row["_record_key"] = f"{repo}#{number}@{row['sha']}"
    row["pr_number"] = number
    return row


def deployment_service(config: GitHubRepoConfig, deployment: Mapping[str, Any]) -> str:
    """Return the service of a deployment: ``payload.service`` when set, else the repo's first."""
    payload = deployment.get("payload")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            payload = {}
    service = payload.get("service") if isinstance(payload, Mapping) else None
    return str(service) if service else config.default_service


def deployment_status_rows(
    config: GitHubRepoConfig,
    deployment: Mapping[str, Any],
    statuses: list[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Return one row per status record, ordered by the records' own ``created_at``.

    A deployment with no status record yet gets one ``pending`` row at its
    creation time, so it is still seen as an attempt in progress.
    """
    deployment_id = str(deployment["id"])
    created_at = required_timestamp(deployment, "created_at")
    base = {
        "deployment_id": deployment_id,
        "repo": config.repo,
        "service": deployment_service(config, deployment),
        "environment": deployment.get("environment"),
        "is_production_environment": deployment.get("production_environment"),
        "sha": str(deployment["sha"]).lower(),
        "started_at": created_at,
    }
    if not statuses:
        return [
            {
                **base,
                "_record_key": f"{config.repo}:{deployment_id}:created",
                "status_id": None,
                "state": "pending",
                "state_at": created_at,
                "record_index": 0,
            }
        ]
    timed = [
        (required_timestamp(status, "created_at"), int(status["id"]), status) for status in statuses
    ]
    timed.sort(key=lambda entry: (entry[0], entry[1]))
    return [
        {
            **base,
            "_record_key": f"{config.repo}:{deployment_id}:{status_id}",
            "status_id": str(status_id),
            "state": status.get("state"),
            "state_at": state_at,
            "record_index": index,
        }
        for index, (state_at, status_id, status) in enumerate(timed)
    ]


def workflow_run_row(
    config: GitHubRepoConfig, run: Mapping[str, Any], jobs: list[Mapping[str, Any]] | None
) -> dict[str, Any]:
    """Return the row of a deployment workflow run.

    The finish time is the latest ``completed_at`` of the run's jobs, because
    a run object carries no finish time and its ``updated_at`` moves on later
    edits. A completed run whose jobs carry no ``completed_at`` is rejected.
    """
    completed_at = None
    if run.get("status") == "completed":
        finished = [timestamp(job, "completed_at") for job in jobs or []]
        finished = [value for value in finished if value is not None]
        if not finished:
            raise ValueError(
                f"run {run.get('id')} is completed but none of its jobs has completed_at; "
                "its finish time is unknown, so check the run's jobs in GitHub"
            )
        completed_at = max(finished)
    return {
        "_record_key": f"{config.repo}:{run['id']}",
        "run_id": str(run["id"]),
        "repo": config.repo,
        "service": config.default_service,
        "environment": config.deploy_environment,
        "workflow_name": run.get("name"),
        "head_branch": run.get("head_branch"),
        "sha": str(run["head_sha"]).lower(),
        "event": run.get("event"),
        "status": run.get("status"),
        "conclusion": run.get("conclusion"),
        "run_attempt": run.get("run_attempt"),
        "created_at": required_timestamp(run, "created_at"),
        "started_at": timestamp(run, "run_started_at"),
        "completed_at": completed_at,
    }


def release_row(repo: str, release: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "_record_key": f"{repo}:{release['id']}",
        "release_id": str(release["id"]),
        "repo": repo,
        "tag_name": release.get("tag_name"),
        "target_commitish": release.get("target_commitish"),
        "name": release.get("name"),
        "is_draft": bool(release.get("draft")),
        "is_prerelease": bool(release.get("prerelease")),
        "created_at": timestamp(release, "created_at"),
        "published_at": timestamp(release, "published_at"),
    }


def tag_row(repo: str, tag: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "_record_key": f"{repo}:{tag['name']}",
        "repo": repo,
        "name": tag["name"],
        "sha": str(tag["commit"]["sha"]).lower(),
    }


def incident_row(config: GitHubRepoConfig, issue: Mapping[str, Any]) -> dict[str, Any]:
    """Return the incident row of a labelled issue.

    The service is the one named by a ``service:<name>`` label, else the
    repository's first service. ``resolved_at`` is ``closed_at`` of a closed issue.
    """
    labels = _label_names(issue)
    named = [
        label[len(SERVICE_LABEL_PREFIX) :]
        for label in labels
        if label.startswith(SERVICE_LABEL_PREFIX)
    ]
    number = int(issue["number"])
    closed_at = timestamp(issue, "closed_at") if issue.get("state") == "closed" else None
    return {
        "_record_key": f"{config.repo}#{number}",
        "incident_id": f"{config.repo}#{number}",
        "repo": config.repo,
        "number": number,
        "service": named[0] if named else config.default_service,
        "title": issue.get("title"),
        "state": issue.get("state"),
        "labels": json.dumps(labels),
        "alert_at": alert_time(required_timestamp(issue, "created_at"), issue.get("body")),
        "resolved_at": closed_at,
        "updated_at": timestamp(issue, "updated_at"),
        "resolution_reason": issue.get("state_reason"),
    }
