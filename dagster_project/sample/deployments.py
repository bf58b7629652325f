"""Deployment records of the sample, in the spelling of three kinds of deploy tool."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import tzinfo

from dagster_project.sample.graph import Landing
from dagster_project.sample.output import JsonLinesWriter, iso, iso_z
from dagster_project.sample.profiles import ServiceProfile

# Each tool's spelling of the canonical states.
_STATE_NAMES = {
    "github": {"queued": "queued", "running": "in_progress", "failure": "failure"},
    "gitlab": {"queued": "created", "running": "running", "failure": "failed"},
    "plain": {"queued": "queued", "running": "in_progress", "failure": "failure"},
}
_GITLAB_FINAL = {"success": "success", "failure": "failed", "cancelled": "canceled"}


@dataclass
class ServiceState:
    """Production state of one service: the live sha, its predecessor and unshipped commits."""

    profile: ServiceProfile
    live_sha: str | None = None
    previous_live_sha: str | None = None
    # A failed deployment waits for its rollback, revert or hotfix: no normal deploys.
    frozen: bool = False
    # Production deploys run one at a time: the next starts after this time.
    busy_until: int = 0
    pending: list[Landing] = field(default_factory=list)
    last_shipped: list[Landing] = field(default_factory=list)
    # The last successful production record of a "github" service, written once a
    # later deployment supersedes it (its history then ends with `inactive`).
    held_record: dict | None = None


class DeploymentLog:
    """Writes deployment records with ids shared by the whole organisation."""

    def __init__(self, writer: JsonLinesWriter, zone: tzinfo, ids: itertools.count) -> None:
        self._writer = writer
        self._zone = zone
        self._ids = ids

    def write(
        self,
        repo: str,
        state: ServiceState,
        environment: str,
        sha: str,
        status: str,
        started: int,
        finished: int | None,
        pipeline_failed: bool = False,
    ) -> str:
        """Write one deployment attempt and return its id.

        `status` is canonical (success, failure, cancelled, in_progress); the
        record spells it as the service's deploy tool does.
        """
        deployment_id = str(next(self._ids))
        style = state.profile.status_style
        stamp = self._stamp(style)
        history = _history(style, status, started, finished, stamp)
        record = {
            "id": deployment_id,
            "repo": repo,
            "service": state.profile.name,
            "environment": environment,
            "sha": sha,
            "status": _GITLAB_FINAL.get(status, status) if style == "gitlab" else status,
            "started_at": stamp(started),
            "finished_at": None if finished is None else stamp(finished),
            "status_history": history,
        }
        if style == "gitlab":
            record["pipeline_status"] = _pipeline_status(status, pipeline_failed)
        is_production = environment not in state.profile.pre_production
        if style == "github" and is_production and status == "success":
            self._supersede(state, finished)
            state.held_record = record
        else:
            self._writer.write(record)
        return deployment_id

    def flush(self, state: ServiceState) -> None:
        """Write a held record that no later deployment superseded."""
        if state.held_record is not None:
            self._writer.write(state.held_record)
            state.held_record = None

    def _supersede(self, state: ServiceState, at: int | None) -> None:
        held = state.held_record
        if held is None:
            return
        if at is not None:
            held["status_history"].insert(0, {"state": "inactive", "at": iso_z(at)})
        self.flush(state)

    def _stamp(self, style: str):
        if style == "github":
            return iso_z
        zone = self._zone
        return lambda seconds: iso(seconds, zone) if style == "plain" else iso(seconds)


def _history(style: str, status: str, started: int, finished: int | None, stamp) -> list[dict]:
    names = _STATE_NAMES[style]
    history = [
        {"state": names["queued"], "at": stamp(started - 20)},
        {"state": names["running"], "at": stamp(started)},
    ]
    if finished is not None:
        final = names.get(status, status)
        if style == "gitlab":
            final = _GITLAB_FINAL.get(status, status)
        history.append({"state": final, "at": stamp(finished)})
    if style == "github":
        # The GitHub deployments API lists statuses newest first.
        history.reverse()
    return history


def _pipeline_status(status: str, pipeline_failed: bool) -> str:
    if status == "in_progress":
        return "running"
    if status == "success" and pipeline_failed:
        # A smoke-test job after the deploy job failed; the deployment itself succeeded.
        return "failed"
    return _GITLAB_FINAL.get(status, status)
