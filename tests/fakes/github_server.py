"""A fake GitHub REST v3 API serving the recorded fixtures under one repository path.

The listings behave like GitHub's. They page with ``Link`` headers and
accept ``state``, ``sort`` and ``direction`` on pull requests and issues,
``since`` on commits and issues, ``labels`` on issues, and ``branch`` and
``created=>=`` on workflow runs. The compare endpoint is computed from the
commit graph of the served commits, so commits the graph does not reach are
not listed. Tests change the state
(``pulls``, ``deployments``, ...) between runs to simulate activity.

Not recorded, built here: the jobs of a workflow run without a recorded jobs
file (one job whose times are the run's ``run_started_at`` and
``updated_at``), ``files`` of a single commit (from ``commit_files``), and
the git references and annotated tag objects of tags (from ``annotated_tags``).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.fakes.api_server import FakeApi, Listing

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "github"
TOKEN = "ghp_fakeTokenForTests0123456789"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _time(value: str | None) -> datetime:
    return datetime.fromisoformat((value or "1970-01-01T00:00:00Z").replace("Z", "+00:00"))


def _commit_time(commit: dict[str, Any]) -> datetime:
    return _time(commit["commit"]["committer"]["date"])


class FakeGitHub:
    """The fake server; ``base_url`` is the API root (``/api/v3`` as on GitHub Enterprise)."""

    def __init__(
        self,
        repo: str = "acme/ants",
        per_page: int = 30,
        compare_cap: int = 10_000,
        also_as: tuple[str, ...] = (),
    ):
        """``also_as`` names more repositories that serve the same recorded data."""
        self.repo = repo
        self.compare_cap = compare_cap
        self.api = FakeApi(
            paging="link", per_page=per_page, prefix="/api/v3", expected_auth=f"Bearer {TOKEN}"
        )
        self.pulls: list[dict[str, Any]] = _load("pulls.json")
        self.pull_commits = {
            int(path.stem): json.loads(path.read_text())
            for path in (FIXTURES / "pull_commits").glob("*.json")
        }
        self.commits: list[dict[str, Any]] = _load("commits.json") + _load("commits_2012.json")
        self.commit_files: dict[str, list[str]] = {}
        self.compare_fixture = _load("compare_v0.6...v0.7.json")
        self.deployments: list[dict[str, Any]] = _load("deployments.json")
        self.statuses: dict[int, list[dict[str, Any]]] = {
            263877258: _load("deployment_statuses/263877258.json")
        }
        self.runs: list[dict[str, Any]] = _load("workflow_runs.json")["workflow_runs"]
        self.jobs = {
            int(path.stem): json.loads(path.read_text())["jobs"]
            for path in (FIXTURES / "jobs").glob("*.json")
        }
        self.issues: list[dict[str, Any]] = _load("issues.json")
        self.releases: list[dict[str, Any]] = _load("releases.json")
        self.tags: list[dict[str, Any]] = _load("tags.json")
        # Tag name -> annotated tag object; a listed tag missing here is lightweight.
        self.annotated_tags: dict[str, dict[str, Any]] = {}
        for name in (repo, *also_as):
            self._routes(name)

    @property
    def base_url(self) -> str:
        return self.api.base_url

    def __enter__(self) -> FakeGitHub:
        self.api.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.__exit__(*exc)

    def _routes(self, repo: str) -> None:
        r = f"/repos/{repo}"
        route = self.api.route
        route(r, lambda m, q: (200, {**self.pulls[0]["base"]["repo"], "full_name": repo}))
        route(rf"{r}/pulls", self._pulls)
        route(
            rf"{r}/pulls/(\d+)/commits", lambda m, q: Listing(self.pull_commits.get(int(m[1]), []))
        )
        route(rf"{r}/commits", self._commits)
        route(rf"{r}/commits/([0-9a-f]+)", self._commit)
        route(rf"{r}/compare/([^.]+)\.\.\.(.+)", self._compare)
        route(rf"{r}/deployments", self._deployments)
        route(rf"{r}/deployments/(\d+)/statuses", self._statuses)
        route(rf"{r}/actions/runs", lambda m, q: self._runs(q, None))
        route(rf"{r}/actions/workflows/([^/]+)/runs", lambda m, q: self._runs(q, m[1]))
        route(rf"{r}/actions/runs/(\d+)/jobs", self._jobs)
        route(rf"{r}/issues", self._issues)
        route(rf"{r}/releases", lambda m, q: Listing(self.releases))
        route(rf"{r}/tags", lambda m, q: Listing(self.tags))
        route(rf"{r}/git/ref/tags/(.+)", self._tag_ref)
        route(rf"{r}/git/tags/([0-9a-f]+)", self._tag_object)

    def _pulls(self, match, query):
        key = "updated_at" if query.get("sort") == "updated" else "created_at"
        ordered = sorted(self.pulls, key=lambda pr: (_time(pr[key]), pr["number"]))
        if query.get("direction", "desc" if key == "updated_at" else "asc") == "desc":
            ordered.reverse()
        return Listing(ordered)

    def _commits(self, match, query):
        ordered = sorted(self.commits, key=_commit_time, reverse=True)
        if query.get("since"):
            since = _time(query["since"])
            ordered = [c for c in ordered if _commit_time(c) >= since]
        return Listing(ordered)

    def _commit(self, match, query):
        found = next((c for c in self.commits if c["sha"] == match[1]), None)
        if found is None:
            return 404, {"message": "No commit found for SHA: " + match[1]}
        files = [
            {"filename": name, "status": "modified"} for name in self.commit_files.get(match[1], [])
        ]
        return 200, {**found, "files": files}

    def _ancestors(self, sha: str) -> set[str]:
        by_sha = {c["sha"]: c for c in self.commits}
        seen: set[str] = set()
        stack = [sha]
        while stack:
            current = stack.pop()
            if current in seen or current not in by_sha:
                continue
            seen.add(current)
            stack.extend(parent["sha"] for parent in by_sha[current]["parents"])
        return seen

    def _compare(self, match, query):
        base, head = match[1], match[2]
        fixture = self.compare_fixture
        if (base, head) == (fixture["base_commit"]["sha"], fixture["commits"][-1]["sha"]):
            return 200, fixture
        by_sha = {c["sha"]: c for c in self.commits}
        if head not in by_sha or base not in by_sha:
            return 404, {"message": "Not Found"}
        ahead = self._ancestors(head) - self._ancestors(base)
        ordered = sorted((by_sha[sha] for sha in ahead), key=_commit_time)
        if ahead:
            status = "ahead"
        elif base == head:
            status = "identical"
        else:
            status = "behind"
        envelope = {
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": 0,
            "total_commits": len(ahead),
            "base_commit": by_sha[base],
            "files": [],
        }
        return Listing(ordered[: self.compare_cap], envelope_key="commits", envelope=envelope)

    def _deployments(self, match, query):
        return Listing(
            sorted(self.deployments, key=lambda d: (_time(d["created_at"]), d["id"]), reverse=True)
        )

    def _statuses(self, match, query):
        ordered = sorted(self.statuses.get(int(match[1]), []), key=lambda s: s["id"], reverse=True)
        return Listing(ordered)

    def _runs(self, query, workflow_file):
        runs = list(self.runs)
        if workflow_file:
            runs = [run for run in runs if run["path"].endswith("/" + workflow_file)]
        if query.get("branch"):
            runs = [run for run in runs if run["head_branch"] == query["branch"]]
        created = query.get("created", "")
        if created.startswith(">="):
            lower = _time(created[2:])
            runs = [run for run in runs if _time(run["created_at"]) >= lower]
        runs.sort(key=lambda run: (_time(run["created_at"]), run["id"]), reverse=True)
        return Listing(runs, envelope_key="workflow_runs", envelope={"total_count": len(runs)})

    def _jobs(self, match, query):
        run_id = int(match[1])
        jobs = self.jobs.get(run_id)
        if jobs is None:
            run = next((run for run in self.runs if run["id"] == run_id), None)
            if run is None:
                return 404, {"message": "Not Found"}
            jobs = [
                {
                    "id": run_id * 10,
                    "run_id": run_id,
                    "name": "deploy",
                    "status": run["status"],
                    "conclusion": run["conclusion"],
                    "started_at": run["run_started_at"],
                    "completed_at": run["updated_at"] if run["status"] == "completed" else None,
                    "head_sha": run["head_sha"],
                }
            ]
        return Listing(jobs, envelope_key="jobs", envelope={"total_count": len(jobs)})

    def _tag_ref(self, match, query):
        name = match[1]
        tag = next((t for t in self.tags if t["name"] == name), None)
        if tag is None:
            return 404, {"message": "Not Found"}
        annotated = self.annotated_tags.get(name)
        target = (
            {"type": "tag", "sha": annotated["sha"]}
            if annotated
            else {"type": "commit", "sha": tag["commit"]["sha"]}
        )
        return 200, {"ref": f"refs/tags/{name}", "object": target}

    def _tag_object(self, match, query):
        found = next((t for t in self.annotated_tags.values() if t["sha"] == match[1]), None)
        return (200, found) if found else (404, {"message": "Not Found"})

    def _issues(self, match, query):
        issues = list(self.issues)
        for label in filter(None, query.get("labels", "").split(",")):
            issues = [i for i in issues if label in {lab["name"] for lab in i["labels"]}]
        if query.get("since"):
            since = _time(query["since"])
            issues = [i for i in issues if _time(i["updated_at"]) >= since]
        key = "updated_at" if query.get("sort") == "updated" else "created_at"
        issues.sort(
            key=lambda i: (_time(i[key]), i["number"]), reverse=query.get("direction") != "asc"
        )
        return Listing(issues)

    # Helpers the tests use to simulate activity between runs.

    def add_deployment(
        self,
        deployment_id: int,
        sha: str,
        environment: str,
        created_at: str,
        statuses: list[tuple[str, str]],
    ) -> None:
        """Add a deployment and its status records ``(state, created_at)``."""
        template = copy.deepcopy(self.deployments[-1])
        template.update(
            {
                "id": deployment_id,
                "sha": sha,
                "ref": sha,
                "environment": environment,
                "original_environment": environment,
                "production_environment": environment == "production",
                "created_at": created_at,
                "updated_at": created_at,
                "payload": {},
            }
        )
        self.deployments.append(template)
        self.statuses[deployment_id] = []
        for state, at in statuses:
            self.add_status(deployment_id, state, at)

    def add_status(self, deployment_id: int, state: str, created_at: str) -> None:
        records = self.statuses.setdefault(deployment_id, [])
        records.append(
            {
                "id": deployment_id * 100 + len(records) + 1,
                "state": state,
                "environment": next(
                    d["environment"] for d in self.deployments if d["id"] == deployment_id
                ),
                "created_at": created_at,
                "updated_at": created_at,
                "description": "",
            }
        )

    def add_tag(self, name: str, sha: str, tagged_at: str | None = None) -> None:
        """Add a tag of commit ``sha``: annotated at ``tagged_at``, or lightweight without it."""
        self.tags.insert(0, {"name": name, "commit": {"sha": sha}})
        if tagged_at is not None:
            self.annotated_tags[name] = {
                "sha": (name.encode().hex() + "0" * 40)[:40],
                "tag": name,
                "tagger": {"name": "Release Bot", "date": tagged_at},
                "object": {"type": "commit", "sha": sha},
            }

    def touch_pull(self, number: int, updated_at: str, **changes: Any) -> None:
        pr = next(pr for pr in self.pulls if pr["number"] == number)
        pr.update({"updated_at": updated_at, **changes})
