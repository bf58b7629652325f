"""Read a local git repository into the raw git tables.

What it produces:

- ``raw_git__commits``: every commit reachable from the production branch,
  plus the history of every tag that a tag rule turns into a deployment.
- ``raw_git__pull_requests``: pull and merge requests recognised from the
  messages of commits on the branch's first-parent chain (where changes land).
  Git does not record when a request was opened, so ``opened_at`` is null and
  ``merged_at`` is the landing commit's ``committed_at``.
- ``raw_git__deployment_statuses``: one ``success`` row per tag that matches
  a tag rule. A tag that moved to another commit since the last load keeps
  its earlier row as well, because each position was a deployment.

Author names and e-mail addresses are read only to compute ``is_bot`` and are
never stored, not even in ``_payload``. Commit bodies are not stored either,
because their trailers (``Signed-off-by``, ``Co-authored-by``) name people.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from dagster_project import warehouse
from dagster_project.sources.git_commands import GitRepository, GitSourceError
from dagster_project.sources.git_commits import CommitCollector
from dagster_project.sources.git_log import iter_log_records, read_patch_ids
from dagster_project.sources.git_tags import (
    TagRule,
    build_deployment_rows,
    list_tags,
    match_rule,
    peel_tags,
)

__all__ = [
    "GitExtract",
    "GitSourceConfig",
    "GitSourceError",
    "TagRule",
    "load_git_extract",
    "load_git_repository",
    "read_git_repository",
]

COMMITS_TABLE = "raw_git__commits"
PULL_REQUESTS_TABLE = "raw_git__pull_requests"
DEPLOYMENT_STATUSES_TABLE = "raw_git__deployment_statuses"
ENTITIES = ("commits", "pull_requests", "deployment_statuses")
T = TypeVar("T")


@dataclass
class GitSourceConfig:
    """Settings of one git source: the repository to read and the tags that mark deployments.

    ``repo`` is the repository's name in the warehouse (default: the folder
    name without ``.git``). ``branch`` is the production branch (default:
    HEAD). ``tag_rules`` map tag names to deployments, first match wins
    (default: ``v*`` tags are production deployments of a service named like
    the repository). ``compute_patch_ids`` runs `git log -p` over the whole
    history, which costs far more than the commit list on large repositories.
    """

    path: Path
    repo: str | None = None
    branch: str | None = None
    tag_rules: list[TagRule] | None = None
    compute_patch_ids: bool = True

    def __post_init__(self) -> None:
        self.path = Path(self.path).expanduser()
        if self.repo is None:
            self.repo = default_repo_name(self.path)
        if not self.repo.strip():
            raise ValueError(f"git source {self.path}: repo name is empty; set repo to a name")
        if self.tag_rules is None:
            self.tag_rules = [TagRule("v*", self.repo, "production")]

    @property
    def source(self) -> str:
        """The ``_source`` value of every row this repository produces."""
        return f"git:{self.repo}"


@dataclass
class GitExtract:
    """The rows of the three raw git tables, with what could not be used.

    Each quarantine item has ``entity``, ``location``, ``raw_content`` and
    ``reason``. ``seconds`` contains the wall time of each step.
    """

    source: str
    repo: str
    branch: str
    head_sha: str
    commits: list[dict[str, Any]] = field(default_factory=list)
    pull_requests: list[dict[str, Any]] = field(default_factory=list)
    deployment_statuses: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def default_repo_name(path: Path) -> str:
    """Return the folder name of a clone, without a bare repository's ``.git``."""
    resolved = path.expanduser().resolve()
    if resolved.name == ".git":
        resolved = resolved.parent
    return resolved.name.removesuffix(".git") or resolved.name


def read_git_repository(config: GitSourceConfig) -> GitExtract:
    """Read commits, pull requests and tag deployments from a local repository.

    Raises GitSourceError when the path is not a repository, the branch does
    not exist or a git command fails.
    """
    assert config.repo is not None and config.tag_rules is not None
    repository = GitRepository(config.path)
    branch = config.branch or "HEAD"
    head_sha = _resolve_branch(repository, config.branch)
    extract = GitExtract(config.source, config.repo, branch, head_sha)
    if repository.is_shallow():
        extract.warnings.append(
            f"{repository.path} is a shallow clone, so the history before its oldest "
            "fetched commits is missing; fetch the full history with `git fetch --unshallow`"
        )
    clock = _StepClock(extract.seconds)

    with clock("tags"):
        tags, rejected_tags = list_tags(repository)
        matched = [tag for tag in tags if match_rule(config.tag_rules, tag.name)]
        peeled = peel_tags(repository, matched)
    tag_commits = sorted({sha for sha in peeled.values() if sha is not None})

    _read_commits(repository, config, head_sha, tag_commits, extract)

    deployments = build_deployment_rows(
        config.tag_rules, config.source, config.repo, str(repository.path), tags, peeled
    )
    extract.deployment_statuses = deployments.rows
    extract.quarantine.extend(rejected_tags)
    extract.quarantine.extend(deployments.rejected)
    extract.warnings.extend(deployments.warnings)
    extract.counts.update(deployments.counts)
    extract.counts["quarantined"] = len(extract.quarantine)
    return extract


def _read_commits(
    repository: GitRepository,
    config: GitSourceConfig,
    head_sha: str,
    tag_commits: list[str],
    extract: GitExtract,
) -> None:
    assert config.repo is not None
    collector = CommitCollector(config.source, config.repo, str(repository.path))
    clock = _StepClock(extract.seconds)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # `git log -p | git patch-id` is the slowest step, so it runs next to
        # the commit log and the two git processes can use two cores.
        patch_job = None
        if config.compute_patch_ids:
            patch_job = pool.submit(_timed, read_patch_ids, repository, [head_sha, *tag_commits])
        with clock("commits"):
            for record in iter_log_records(repository, [head_sha]):
                collector.add(record, on_branch=True)
            tag_only = [f"^{head_sha}", *tag_commits] if tag_commits else []
            for record in iter_log_records(repository, tag_only):
                collector.add(record, on_branch=False)
        patch_ids: dict[str, str] = {}
        if patch_job is not None:
            patch_ids, extract.seconds["patch_ids"] = patch_job.result()
    collector.set_patch_ids(patch_ids)
    extract.commits = collector.rows
    extract.pull_requests = collector.finish(head_sha)
    extract.quarantine.extend(collector.rejected)
    extract.warnings.extend(collector.warnings)
    extract.counts.update(collector.counts)
    extract.counts["patch_ids"] = len(patch_ids)


def _timed(function: Callable[..., T], *args: Any) -> tuple[T, float]:
    started = time.perf_counter()
    result = function(*args)
    return result, round(time.perf_counter() - started, 3)


def load_git_extract(con: duckdb.DuckDBPyConnection, extract: GitExtract) -> dict[str, int]:
    """Write an extract as the full snapshot of its source and return the row counts.

    Earlier rows and quarantine items of the same source are replaced, so a
    re-run never duplicates anything.
    """
    warehouse.ensure_raw_tables(con)
    deployment_rows = extract.deployment_statuses + _moved_tag_rows(con, extract)
    written = {
        "commits": warehouse.replace_source_rows(
            con, COMMITS_TABLE, extract.source, extract.commits
        ),
        "pull_requests": warehouse.replace_source_rows(
            con, PULL_REQUESTS_TABLE, extract.source, extract.pull_requests
        ),
        "deployment_statuses": warehouse.replace_source_rows(
            con, DEPLOYMENT_STATUSES_TABLE, extract.source, deployment_rows
        ),
    }
    quarantined = 0
    for entity in ENTITIES:
        items = [item for item in extract.quarantine if item["entity"] == entity]
        if items:
            quarantined += warehouse.quarantine_rows(con, extract.source, entity, items)
        else:
            # NOTE: quarantine_rows fails on an empty list (duckdb's executemany
            # rejects it), so the earlier items of this entity are cleared here.
            con.execute(
                "delete from quarantine where _source = ? and entity = ?",
                [extract.source, entity],
            )
    moved = len(deployment_rows) - len(extract.deployment_statuses)
    return {**extract.counts, **written, "moved_tag_deployments": moved, "quarantined": quarantined}


def _moved_tag_rows(con: duckdb.DuckDBPyConnection, extract: GitExtract) -> list[dict[str, Any]]:
    """Return the stored rows of tags that now point to another commit.

    A tag that moved was deployed twice, so its earlier row stays. Rows of
    tags that were deleted or no longer match a rule are not returned, which
    removes them with the rest of the old snapshot.
    """
    current = {row["deployment_id"]: row["sha"] for row in extract.deployment_statuses}
    cursor = con.execute(
        f"select * from {DEPLOYMENT_STATUSES_TABLE} where _source = ? order by _record_key",
        [extract.source],
    )
    names = [column[0] for column in cursor.description]
    kept = []
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        sha = current.get(row["deployment_id"])
        if sha is None or sha == row["sha"]:
            continue
        kept.append(row)
        extract.warnings.append(
            f"{row['deployment_id']} moved from commit {row['sha']} to {sha}; "
            "both are kept as separate deployments"
        )
    return kept


def load_git_repository(con: duckdb.DuckDBPyConnection, config: GitSourceConfig) -> dict[str, int]:
    """Read a repository and write its rows to the warehouse; return the counts."""
    return load_git_extract(con, read_git_repository(config))


def _resolve_branch(repository: GitRepository, branch: str | None) -> str:
    if branch is not None:
        return repository.resolve_commit(branch)
    try:
        return repository.resolve_commit("HEAD")
    except GitSourceError:
        raise GitSourceError(
            f"{repository.path} has no commit at HEAD (an empty repository, or HEAD names "
            "a branch that does not exist); commit first or set the branch to read"
        ) from None


class _StepClock:
    """Record the wall time of named steps into a dict."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self._name = ""
        self._started = 0.0

    def __call__(self, name: str) -> _StepClock:
        self._name = name
        return self

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *exc_info: object) -> None:
        elapsed = time.perf_counter() - self._started
        self.seconds[self._name] = round(self.seconds.get(self._name, 0.0) + elapsed, 3)
