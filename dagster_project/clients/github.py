"""GitHub REST v3 client: the listings the DORA sources read, on top of :class:`ApiSession`.

Works with github.com (``https://api.github.com``) and GitHub Enterprise Server
(``https://<host>/api/v3``). Each method yields API objects one by one across
pages, so a caller may stop early and no later page is requested. No Dagster
imports.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from dagster_project.clients.http import ApiSession

DEFAULT_BASE_URL = "https://api.github.com"
PER_PAGE = 100
# The compare endpoint lists at most this many commits without paging (GitHub REST docs).
COMPARE_COMMIT_CAP = 250

GITHUB_HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}


def github_session(
    base_url: str = DEFAULT_BASE_URL, token: str | None = None, **kwargs: Any
) -> ApiSession:
    """Build the session of one GitHub source (one per run, shared by every repository)."""
    return ApiSession(base_url, token=token, default_headers=GITHUB_HEADERS, **kwargs)


@dataclass(frozen=True)
class CompareResult:
    """Commits between two shas (``base...head``) and whether the listing is complete."""

    base: str
    head: str
    status: str
    total_commits: int
    commits: list[dict[str, Any]]

    @property
    def is_truncated(self) -> bool:
        """True when the listing is known to miss commits (cut short, or a sha not found)."""
        return self.status == "not_found" or len(self.commits) < self.total_commits


class GitHubClient:
    """Read-only access to one repository ``owner/name`` through a shared session."""

    def __init__(self, session: ApiSession, repo: str, per_page: int = PER_PAGE) -> None:
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise ValueError(f"invalid GitHub repository {repo!r}; write it as owner/name")
        self.session = session
        self.repo = repo
        self.per_page = per_page
        self.prefix = f"repos/{repo}"

    def _items(self, path: str, params: dict[str, Any] | None = None, key: str | None = None):
        query = {"per_page": self.per_page, **(params or {})}
        for page in self.session.paginate(f"{self.prefix}/{path}", query, items_key=key):
            data = page.data or ([] if key is None else {})
            yield from (data.get(key, []) if key else data)

    def repository(self) -> dict[str, Any]:
        return self.session.get(self.prefix).data

    def default_branch(self) -> str:
        return self.repository()["default_branch"]

    def pull_requests_by_update(self) -> Iterator[dict[str, Any]]:
        """Yield every pull request, most recently updated first."""
        return self._items("pulls", {"state": "all", "sort": "updated", "direction": "desc"})

    def pull_request_commits(self, number: int) -> Iterator[dict[str, Any]]:
        """Yield the commits of one pull request (GitHub returns at most 250)."""
        return self._items(f"pulls/{number}/commits")

    def commits(self, branch: str, since: str | None = None) -> Iterator[dict[str, Any]]:
        """Yield the commits reachable from ``branch``, newest first, committed at or after ``since``."""
        return self._items("commits", {"sha": branch, "since": since})

    def commit(self, sha: str) -> dict[str, Any]:
        """Return one commit with its changed ``files`` (one request per commit)."""
        return self.session.get(f"{self.prefix}/commits/{sha}").data

    def compare(self, base: str, head: str) -> CompareResult:
        """Return the commits in ``head`` that are not in ``base``, reading every page.

        A sha the repository does not know (force-pushed away, or deployed from
        another repository) gives status ``not_found`` and no commits.
        """
        path = f"{self.prefix}/compare/{quote(base, safe='')}...{quote(head, safe='')}"
        first_page = self.session.get(path, {"per_page": self.per_page}, allow_404=True)
        if first_page.status == 404:
            return CompareResult(base, head, "not_found", 0, [])
        commits: list[dict[str, Any]] = []
        first: dict[str, Any] | None = None
        for page in self.session.paginate(first_page.url, items_key="commits"):
            first = first or page.data
            commits.extend(page.data.get("commits", []))
        if first is None:
            raise ValueError(f"compare {base}...{head} of {self.repo} returned no page")
        unique = list({commit["sha"]: commit for commit in commits}.values())
        return CompareResult(
            base, head, first.get("status", ""), int(first.get("total_commits") or 0), unique
        )

    def deployments(self) -> Iterator[dict[str, Any]]:
        """Yield deployments, newest first."""
        return self._items("deployments")

    def deployment_statuses(self, deployment_id: int) -> Iterator[dict[str, Any]]:
        return self._items(f"deployments/{deployment_id}/statuses")

    def workflow_runs(
        self, workflow: str | None, branch: str | None, created_from: str | None
    ) -> Iterator[dict[str, Any]]:
        """Yield workflow runs, newest first.

        ``workflow`` is a workflow file name (``deploy.yml``) or id, which
        narrows the listing on the server, or a workflow name, which the
        caller filters on. ``created_from`` is an ISO 8601 lower bound.
        """
        params = {"branch": branch, "created": f">={created_from}" if created_from else None}
        if workflow and (workflow.endswith((".yml", ".yaml")) or workflow.isdigit()):
            path = f"actions/workflows/{quote(workflow, safe='')}/runs"
        else:
            path = "actions/runs"
        return self._items(path, params, key="workflow_runs")

    def run_jobs(self, run_id: int) -> list[dict[str, Any]]:
        return list(self._items(f"actions/runs/{run_id}/jobs", key="jobs"))

    def releases(self) -> Iterator[dict[str, Any]]:
        return self._items("releases")

    def tags(self) -> Iterator[dict[str, Any]]:
        return self._items("tags")

    def tag_ref(self, name: str) -> dict[str, Any]:
        """Return the git reference of tag ``name``; its ``object.type`` is ``tag`` or ``commit``."""
        return self.session.get(f"{self.prefix}/git/ref/tags/{quote(name, safe='/')}").data

    def tag_object(self, sha: str) -> dict[str, Any]:
        """Return an annotated tag object, with the ``tagger`` name, email and ``date``."""
        return self.session.get(f"{self.prefix}/git/tags/{sha}").data

    def issues(self, label: str, since: str | None) -> Iterator[dict[str, Any]]:
        """Yield issues and pull requests carrying ``label``, updated at or after ``since``."""
        params = {
            "state": "all",
            "labels": label,
            "since": since,
            "sort": "updated",
            "direction": "asc",
        }
        return self._items("issues", params)
