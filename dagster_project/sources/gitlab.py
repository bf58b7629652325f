"""GitLab as a source: configuration, raw tables and API objects turned into raw rows.

Each project is one source instance, ``gitlab:<project path or id>``, with its
own cursors and ETags. ``gitlab_extract`` reads the API; this module only
validates configuration and builds rows.
"""

from __future__ import annotations

import json
import re
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

SOURCE_PREFIX = "gitlab"
DEFAULT_TOKEN_ENV = "GITLAB_TOKEN"
# Scoped label ``service::api`` or plain ``service:api`` names an incident's service.
_SERVICE_LABEL = re.compile(r"^service::?(.+)$")
# Project and group access tokens act through bot users named like this.
_BOT_USERNAME = re.compile(r"^(project|group)_\d+_bot(_[0-9a-f]+)?$|\[bot\]$|-bot$")

MERGE_REQUESTS = {
    "repo": "varchar",
    "number": "integer",
    "merge_request_id": "varchar",
    "state": "varchar",
    "opened_at": "timestamptz",
    "updated_at": "timestamptz",
    "closed_at": "timestamptz",
    "merged_at": "timestamptz",
    "merge_commit_sha": "varchar",
    "squash_commit_sha": "varchar",
    "head_sha": "varchar",
    "title": "varchar",
    "head_ref": "varchar",
    "base_ref": "varchar",
    "targets_production_branch": "boolean",
    "labels": "varchar",
    "author_username": "varchar",
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

COMMITS = {**COMMIT_FIELDS, "changed_services": "varchar", "listed_by": "varchar"}
MERGE_REQUEST_COMMITS = {**COMMIT_FIELDS, "pr_number": "integer"}

COMPARES = {
    "repo": "varchar",
    "base_sha": "varchar",
    "head_sha": "varchar",
    "status": "varchar",
    "listed_commits": "integer",
    "is_truncated": "boolean",
}

DEPLOYMENT_STATUSES = {
    "deployment_id": "varchar",
    "repo": "varchar",
    "service": "varchar",
    "environment": "varchar",
    "environment_tier": "varchar",
    "sha": "varchar",
    "state": "varchar",
    "state_at": "timestamptz",
    "started_at": "timestamptz",
    "updated_at": "timestamptz",
    "pipeline_status": "varchar",
    "record_index": "integer",
}

PIPELINES = {
    "pipeline_id": "varchar",
    "repo": "varchar",
    "service": "varchar",
    "environment": "varchar",
    "ref": "varchar",
    "sha": "varchar",
    "pipeline_source": "varchar",
    "status": "varchar",
    "created_at": "timestamptz",
    "started_at": "timestamptz",
    "finished_at": "timestamptz",
    "updated_at": "timestamptz",
}

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
}

GITLAB_TABLES: dict[str, dict[str, str]] = {
    "raw_gitlab__merge_requests": MERGE_REQUESTS,
    "raw_gitlab__merge_request_commits": MERGE_REQUEST_COMMITS,
    "raw_gitlab__commits": COMMITS,
    "raw_gitlab__compares": COMPARES,
    "raw_gitlab__deployment_statuses": DEPLOYMENT_STATUSES,
    "raw_gitlab__pipelines": PIPELINES,
    "raw_gitlab__incidents": INCIDENTS,
}


class GitLabConfigError(ValueError):
    """An invalid ``sources.gitlab`` section; the message lists every invalid field."""


@dataclass(frozen=True)
class GitLabProjectConfig:
    """One project and the services it feeds."""

    project: str
    services: tuple[str, ...]
    # Folder prefix -> service, for monorepos; empty means every commit feeds every service.
    paths: Mapping[str, str] = field(default_factory=dict)
    branch: str | None = None
    # A successful pipeline on this ref counts as a deployment (off when None).
    deploy_pipeline_ref: str | None = None
    deploy_environment: str = "production"

    @property
    def name(self) -> str:
        return self.project

    @property
    def source(self) -> str:
        return f"{SOURCE_PREFIX}:{self.project}"

    @property
    def default_service(self) -> str:
        return self.services[0]


@dataclass(frozen=True)
class GitLabConfig:
    """The ``sources.gitlab`` section of the pipeline configuration."""

    base_url: str = "https://gitlab.com/api/v4"
    token_env: str = DEFAULT_TOKEN_ENV
    projects: tuple[GitLabProjectConfig, ...] = ()


def parse_gitlab_config(section: Any) -> GitLabConfig:
    """Validate a ``sources.gitlab`` mapping; raise GitLabConfigError naming each bad field."""
    if section is None:
        return GitLabConfig()
    if not isinstance(section, Mapping):
        raise GitLabConfigError(
            f"sources.gitlab: invalid value {section!r}; expected a mapping with 'projects'"
        )
    errors: list[str] = []
    projects = []
    for index, item in enumerate(section.get("projects") or []):
        where = f"sources.gitlab.projects[{index}]"
        if isinstance(item, str | int):
            item = {"project": str(item)}
        if not isinstance(item, Mapping) or not str(item.get("project") or "").strip():
            errors.append(f"{where}: invalid value {item!r}; expected {{project: group/name}}")
            continue
        paths = item.get("paths") or {}
        if not isinstance(paths, Mapping):
            errors.append(
                f"{where}.paths: invalid value {paths!r}; expected 'folder/': service pairs"
            )
            paths = {}
        project = str(item["project"]).strip()
        services = item.get("services") or item.get("service") or []
        services = [services] if isinstance(services, str) else list(services)
        services = [*services, *(s for s in paths.values() if s not in services)]
        projects.append(
            GitLabProjectConfig(
                project=project,
                services=tuple(services) or (project.rsplit("/", 1)[-1],),
                paths={str(k): str(v) for k, v in paths.items()},
                branch=item.get("branch"),
                deploy_pipeline_ref=item.get("deploy_pipeline_ref"),
                deploy_environment=str(item.get("deploy_environment") or "production"),
            )
        )
    if errors:
        raise GitLabConfigError("invalid GitLab configuration:\n  " + "\n  ".join(errors))
    return GitLabConfig(
        base_url=str(section.get("base_url") or GitLabConfig.base_url).rstrip("/"),
        token_env=str(section.get("token_env") or DEFAULT_TOKEN_ENV),
        projects=tuple(projects),
    )


def is_bot_user(user: Mapping[str, Any] | None) -> bool:
    """Return True for a bot user (``bot: true`` or a project/group token bot name)."""
    if not user:
        return False
    return bool(user.get("bot")) or bool(_BOT_USERNAME.search(str(user.get("username", ""))))


def merge_request_row(
    project: str, mr: Mapping[str, Any], production_branch: str | None = None
) -> dict[str, Any]:
    """Return the row of a merge request; ``production_branch`` None leaves the target unknown."""
    iid = int(mr["iid"])
    merged = mr.get("state") == "merged" or mr.get("merged_at") is not None
    return {
        "_record_key": f"{project}!{iid}",
        "repo": project,
        "number": iid,
        "merge_request_id": str(mr.get("id")),
        "state": mr.get("state"),
        "opened_at": required_timestamp(mr, "created_at"),
        "updated_at": timestamp(mr, "updated_at"),
        "closed_at": timestamp(mr, "closed_at"),
        "merged_at": timestamp(mr, "merged_at"),
        "merge_commit_sha": (mr.get("merge_commit_sha") or None) if merged else None,
        "squash_commit_sha": (mr.get("squash_commit_sha") or None) if merged else None,
        "head_sha": mr.get("sha"),
        "title": mr.get("title"),
        "head_ref": mr.get("source_branch"),
        "base_ref": mr.get("target_branch"),
        "targets_production_branch": (
            None if production_branch is None else mr.get("target_branch") == production_branch
        ),
        "labels": json.dumps([str(label) for label in mr.get("labels") or []]),
        "author_username": (mr.get("author") or {}).get("username"),
        "is_bot": is_bot_user(mr.get("author")),
        "is_draft": bool(mr.get("draft") or mr.get("work_in_progress")),
    }


def commit_fields(project: str, commit: Mapping[str, Any]) -> dict[str, Any]:
    """Return the commit columns of a GitLab commit object."""
    sha = str(commit["id"]).lower()
    parents = [str(parent).lower() for parent in commit.get("parent_ids") or []]
    message = commit.get("message") or commit.get("title")
    return {
        "repo": project,
        "sha": sha,
        "parent_shas": json.dumps(parents),
        "parent_count": len(parents),
        "authored_at": required_timestamp(commit, "authored_date"),
        "committed_at": required_timestamp(commit, "committed_date"),
        "subject": commit.get("title") or first_line(message),
        "reverted_sha": reverted_sha(message),
        # Commit objects carry the author's name and e-mail only, not the account.
        "is_bot": bool(re.search(r"\[bot\]|-bot\b", str(commit.get("author_name") or ""))),
    }


def commit_row(
    project: str, commit: Mapping[str, Any], listed_by: str, services: list[str] | None = None
) -> dict[str, Any]:
    row = commit_fields(project, commit)
    row["_record_key"] = f"{project}@{row['sha']}"
    row["listed_by"] = listed_by
    row["changed_services"] = None if services is None else json.dumps(services)
    return row


def merge_request_commit_row(project: str, iid: int, commit: Mapping[str, Any]) -> dict[str, Any]:
    row = commit_fields(project, commit)
    row["_record_key"] = f"{project}!{iid}@{row['sha']}"
    row["pr_number"] = iid
    return row


def deployment_row(
    config: GitLabProjectConfig, deployment: Mapping[str, Any], tiers: Mapping[str, str]
) -> dict[str, Any]:
    """Return the row of a deployment: its own ``status`` and the finish time of its job.

    GitLab keeps one current status per deployment, so each deployment is one
    row that a later load replaces. A successful deployment with no finish
    time (no deploy job with ``finished_at``) is rejected, because its
    ``updated_at`` is no finish time.
    """
    environment = deployment.get("environment") or {}
    deployable = deployment.get("deployable") or {}
    name = environment.get("name")
    state = deployment.get("status")
    finished_at = timestamp(deployable, "finished_at") or timestamp(deployment, "finished_at")
    if state == "success" and finished_at is None:
        raise ValueError(
            f"deployment {deployment.get('id')} has status success but no finished_at on "
            "itself or its deploy job; its deployment time is unknown"
        )
    return {
        "_record_key": f"{config.project}:{deployment['id']}",
        "deployment_id": str(deployment["id"]),
        "repo": config.project,
        "service": config.default_service,
        "environment": name,
        "environment_tier": environment.get("tier") or tiers.get(str(name)),
        "sha": str(deployment["sha"]).lower(),
        "state": state,
        "state_at": finished_at,
        "started_at": timestamp(deployable, "started_at")
        or required_timestamp(deployment, "created_at"),
        "updated_at": timestamp(deployment, "updated_at"),
        "pipeline_status": (deployable.get("pipeline") or {}).get("status"),
        "record_index": 0,
    }


def pipeline_row(config: GitLabProjectConfig, pipeline: Mapping[str, Any]) -> dict[str, Any]:
    """Return the row of a pipeline on the deploy ref; a finished one needs ``finished_at``."""
    status = pipeline.get("status")
    finished_at = timestamp(pipeline, "finished_at")
    if status == "success" and finished_at is None:
        raise ValueError(
            f"pipeline {pipeline.get('id')} succeeded but has no finished_at; "
            "its deployment time is unknown"
        )
    return {
        "_record_key": f"{config.project}:{pipeline['id']}",
        "pipeline_id": str(pipeline["id"]),
        "repo": config.project,
        "service": config.default_service,
        "environment": config.deploy_environment,
        "ref": pipeline.get("ref"),
        "sha": str(pipeline["sha"]).lower(),
        "pipeline_source": pipeline.get("source"),
        "status": status,
        "created_at": required_timestamp(pipeline, "created_at"),
        "started_at": timestamp(pipeline, "started_at"),
        "finished_at": finished_at,
        "updated_at": timestamp(pipeline, "updated_at"),
    }


def incident_row(config: GitLabProjectConfig, issue: Mapping[str, Any]) -> dict[str, Any]:
    """Return the incident row of an issue of type ``incident``.

    The service is named by a ``service::<name>`` label, else it is the
    project's first service. ``resolved_at`` is ``closed_at`` of a closed issue.
    """
    labels = [str(label) for label in issue.get("labels") or []]
    named = [m.group(1) for m in map(_SERVICE_LABEL.match, labels) if m]
    iid = int(issue["iid"])
    return {
        "_record_key": f"{config.project}#{iid}",
        "incident_id": f"{config.project}#{iid}",
        "repo": config.project,
        "number": iid,
        "service": named[0] if named else config.default_service,
        "title": issue.get("title"),
        "state": issue.get("state"),
        "labels": json.dumps(labels),
        "alert_at": alert_time(required_timestamp(issue, "created_at"), issue.get("description")),
        "resolved_at": timestamp(issue, "closed_at") if issue.get("state") == "closed" else None,
        "updated_at": timestamp(issue, "updated_at"),
    }
