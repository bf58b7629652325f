"""A fake GitLab REST v4 API serving the recorded fixtures under one project path.

Listings page with ``X-Next-Page`` and accept ``updated_after`` with
``order_by=updated_at&sort=asc``, ``issue_type`` on issues, ``ref`` on
pipelines, ``since``/``ref_name`` on commits. The token is checked in the
``PRIVATE-TOKEN`` header. Tests change the state between runs.

Not recorded, built here:

- the repository commit listing: the union of the recorded merge-request
  commits, whose parents the recording does not contain;
- the compare endpoint, computed from that commit graph;
- the environments listing: one per deployed environment, tier from its name;
- the pipeline list items: the recorded pipeline details minus the detail
  fields, so the client must ask for the details.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.fakes.api_server import FakeApi, Listing

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gitlab"
TOKEN = "glpat-fakeTokenForTests0123"
LIST_FIELDS = (
    "id",
    "iid",
    "project_id",
    "sha",
    "ref",
    "status",
    "source",
    "created_at",
    "updated_at",
    "web_url",
)


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _time(value: str | None) -> datetime:
    return datetime.fromisoformat((value or "1970-01-01T00:00:00Z").replace("Z", "+00:00"))


def _tier(name: str) -> str:
    known = {"production": "production", "staging": "staging", "testing": "testing"}
    return known.get(name.lower(), "other")


class FakeGitLab:
    """The fake server; ``base_url`` is the API root (``/api/v4``)."""

    def __init__(self, project: str = "acme/app", per_page: int = 20) -> None:
        self.project = project
        self.api = FakeApi(
            paging="gitlab",
            per_page=per_page,
            prefix="/api/v4",
            expected_auth=TOKEN,
            auth_header="PRIVATE-TOKEN",
        )
        self.merge_requests: list[dict[str, Any]] = _load("merge_requests.json")
        self.mr_commits = {
            int(p.stem): json.loads(p.read_text())
            for p in (FIXTURES / "merge_request_commits").glob("*.json")
        }
        seen: dict[str, dict[str, Any]] = {}
        for commits in self.mr_commits.values():
            for commit in commits:
                seen[commit["id"]] = commit
        self.commits = list(seen.values())
        self.commit_diffs: dict[str, list[str]] = {}
        self.compare_timeout = False
        self.deployments: list[dict[str, Any]] = _load("deployments.json")
        self.pipelines = {
            int(p.stem): json.loads(p.read_text()) for p in (FIXTURES / "pipelines").glob("*.json")
        }
        self.issues: list[dict[str, Any]] = _load("issues.json")
        self._routes()

    @property
    def base_url(self) -> str:
        return self.api.base_url

    def __enter__(self) -> FakeGitLab:
        self.api.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.__exit__(*exc)

    def _routes(self) -> None:
        p = "/projects/" + quote(self.project, safe="")
        route = self.api.route
        route(
            p,
            lambda m, q: (
                200,
                {"id": 12345678, "path_with_namespace": self.project, "default_branch": "master"},
            ),
        )
        route(rf"{p}/merge_requests", lambda m, q: self._by_update(self.merge_requests, q))
        route(
            rf"{p}/merge_requests/(\d+)/commits",
            lambda m, q: Listing(self.mr_commits.get(int(m[1]), [])),
        )
        route(rf"{p}/repository/commits", self._commits)
        route(rf"{p}/repository/commits/([0-9a-f]+)/diff", self._diff)
        route(rf"{p}/repository/compare", self._compare)
        route(rf"{p}/deployments", lambda m, q: self._by_update(self.deployments, q))
        route(rf"{p}/environments", self._environments)
        route(rf"{p}/pipelines", self._pipelines)
        route(rf"{p}/pipelines/(\d+)", lambda m, q: (200, self.pipelines[int(m[1])]))
        route(rf"{p}/issues", self._issues)

    def _by_update(self, items: list[dict[str, Any]], query: dict[str, str]) -> Listing:
        chosen = list(items)
        if query.get("updated_after"):
            lower = _time(query["updated_after"])
            chosen = [item for item in chosen if _time(item.get("updated_at")) >= lower]
        chosen.sort(key=lambda item: (_time(item.get("updated_at")), item["id"]))
        if query.get("sort", "desc") == "desc":
            chosen.reverse()
        return Listing(chosen)

    def _commits(self, match, query):
        ordered = sorted(self.commits, key=lambda c: _time(c["committed_date"]), reverse=True)
        if query.get("since"):
            lower = _time(query["since"])
            ordered = [c for c in ordered if _time(c["committed_date"]) >= lower]
        return Listing(ordered)

    def _diff(self, match, query):
        paths = self.commit_diffs.get(match[1], [])
        return Listing([{"new_path": path, "old_path": path, "diff": ""} for path in paths])

    def _ancestors(self, sha: str) -> set[str]:
        by_id = {c["id"]: c for c in self.commits}
        seen: set[str] = set()
        stack = [sha]
        while stack:
            current = stack.pop()
            if current in seen or current not in by_id:
                continue
            seen.add(current)
            stack.extend(by_id[current]["parent_ids"])
        return seen

    def _compare(self, match, query):
        by_id = {c["id"]: c for c in self.commits}
        base, head = query.get("from"), query.get("to")
        if base not in by_id or head not in by_id:
            return 404, {"message": "404 Ref Not Found"}
        ahead = self._ancestors(head) - self._ancestors(base)
        commits = sorted((by_id[sha] for sha in ahead), key=lambda c: _time(c["committed_date"]))
        body = {
            "commit": by_id[head],
            "commits": commits,
            "diffs": [],
            "compare_timeout": self.compare_timeout,
            "compare_same_ref": base == head,
        }
        return 200, body

    def _environments(self, match, query):
        names = sorted({d["environment"]["name"] for d in self.deployments})
        envs = [
            {"id": index + 1, "name": name, "tier": _tier(name)} for index, name in enumerate(names)
        ]
        return Listing(envs)

    def _pipelines(self, match, query):
        items = [{key: p.get(key) for key in LIST_FIELDS} for p in self.pipelines.values()]
        if query.get("ref"):
            items = [item for item in items if item["ref"] == query["ref"]]
        return self._by_update(items, query)

    def _issues(self, match, query):
        issues = list(self.issues)
        if query.get("issue_type"):
            issues = [i for i in issues if i.get("issue_type") == query["issue_type"]]
        return self._by_update(issues, query)

    # Helpers the tests use to simulate activity between runs.

    def add_deployment(
        self, deployment_id: int, sha: str, environment: str, status: str, finished_at: str | None
    ) -> None:
        template = copy.deepcopy(self.deployments[0])
        template.update(
            {
                "id": deployment_id,
                "iid": deployment_id,
                "sha": sha,
                "status": status,
                "created_at": finished_at or "2030-01-01T00:00:00Z",
                "updated_at": finished_at or "2030-01-01T00:00:00Z",
            }
        )
        template["environment"] = {**template["environment"], "name": environment}
        template["deployable"] = {
            **template["deployable"],
            "status": status,
            "finished_at": finished_at,
        }
        self.deployments.append(template)
