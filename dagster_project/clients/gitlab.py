"""GitLab REST v4 client: the listings the DORA sources read, on top of :class:`ApiSession`.

Works with gitlab.com and self-managed instances (``https://<host>/api/v4``).
A project is named by its numeric id or its full path (``group/sub/project``),
which is URL-encoded into the request path. Listings follow ``Link`` headers
(keyset paging) or ``X-Next-Page`` (offset paging). No Dagster imports.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from dagster_project.clients.http import ApiSession

DEFAULT_BASE_URL = "https://gitlab.com/api/v4"
PER_PAGE = 100


def gitlab_session(
    base_url: str = DEFAULT_BASE_URL, token: str | None = None, **kwargs: Any
) -> ApiSession:
    """Build the session of one GitLab source; the token goes in ``PRIVATE-TOKEN``."""
    return ApiSession(
        base_url, token=token, auth_header="PRIVATE-TOKEN", auth_format="{token}", **kwargs
    )


@dataclass(frozen=True)
class CompareResult:
    """Commits between two shas and whether GitLab gave the whole listing."""

    base: str
    head: str
    status: str
    commits: list[dict[str, Any]]
    timed_out: bool

    @property
    def is_truncated(self) -> bool:
        """True when GitLab stopped the comparison (``compare_timeout``) or a sha was not found."""
        return self.timed_out or self.status == "not_found"


class GitLabClient:
    """Read-only access to one project through a shared session."""

    def __init__(self, session: ApiSession, project: str, per_page: int = PER_PAGE) -> None:
        if not str(project).strip():
            raise ValueError("invalid GitLab project ''; write its id or its path group/project")
        self.session = session
        self.project = str(project)
        self.per_page = per_page
        self.prefix = f"projects/{quote(self.project, safe='')}"

    def _items(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        query = {"per_page": self.per_page, **(params or {})}
        for page in self.session.paginate(f"{self.prefix}/{path}", query):
            yield from page.data or []

    def _updated(self, since: str | None) -> dict[str, Any]:
        return {"order_by": "updated_at", "sort": "asc", "updated_after": since}

    def project_info(self) -> dict[str, Any]:
        return self.session.get(self.prefix).data

    def merge_requests(self, updated_after: str | None) -> Iterator[dict[str, Any]]:
        """Yield merge requests of any state, oldest update first."""
        return self._items(
            "merge_requests", {"state": "all", "scope": "all", **self._updated(updated_after)}
        )

    def merge_request_commits(self, iid: int) -> Iterator[dict[str, Any]]:
        return self._items(f"merge_requests/{iid}/commits")

    def commits(self, ref: str, since: str | None) -> Iterator[dict[str, Any]]:
        """Yield the commits reachable from ``ref``, committed at or after ``since``."""
        return self._items("repository/commits", {"ref_name": ref, "since": since})

    def commit_diff(self, sha: str) -> list[dict[str, Any]]:
        """Return the changed files of one commit (one or more requests per commit)."""
        return list(self._items(f"repository/commits/{sha}/diff"))

    def compare(self, base: str, head: str) -> CompareResult:
        """Return the commits in ``head`` that are not in ``base``."""
        page = self.session.get(
            f"{self.prefix}/repository/compare", {"from": base, "to": head}, allow_404=True
        )
        if page.status == 404:
            return CompareResult(base, head, "not_found", [], False)
        data = page.data or {}
        commits = data.get("commits") or []
        if data.get("compare_same_ref"):
            status = "identical"
        elif commits:
            status = "ahead"
        else:
            status = "behind"
        return CompareResult(base, head, status, commits, bool(data.get("compare_timeout")))

    def deployments(self, updated_after: str | None) -> Iterator[dict[str, Any]]:
        return self._items("deployments", self._updated(updated_after))

    def environments(self) -> list[dict[str, Any]]:
        return list(self._items("environments"))

    def pipelines(self, ref: str | None, updated_after: str | None) -> Iterator[dict[str, Any]]:
        return self._items("pipelines", {"ref": ref, **self._updated(updated_after)})

    def pipeline(self, pipeline_id: int) -> dict[str, Any]:
        return self.session.get(f"{self.prefix}/pipelines/{pipeline_id}").data

    def incidents(self, updated_after: str | None) -> Iterator[dict[str, Any]]:
        """Yield issues of type ``incident``, oldest update first."""
        params = {"issue_type": "incident", "scope": "all", **self._updated(updated_after)}
        return self._items("issues", params)
