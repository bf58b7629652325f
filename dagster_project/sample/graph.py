"""The commit graph of one repository: its main branch and merged pull requests."""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import tzinfo

from dagster_project.sample.output import JsonArrayWriter, JsonLinesWriter, iso, iso_z
from dagster_project.sample.texts import work_subject

ORG = "acme"
# Main-branch history older than this is dropped: no pull request stays open longer.
HISTORY_SECONDS = 40 * 86400


@dataclass
class PullRequest:
    """One pull request, from its creation to its merge (or still open)."""

    number: int
    title: str
    head_ref: str
    labels: list[str]
    opened_at: int
    merged_at: int
    author_zone: tzinfo
    is_bot: bool = False
    created_as_draft: bool = False
    ready_at: int | None = None
    closed_at: int | None = None
    reopened_at: int | None = None
    # (sha, subject) of the landing commit this pull request reverts.
    reverts: tuple[str, str] | None = None
    # Service whose failure this pull request fixes, and what its merge triggers:
    # "deploy_fix" (deploy it at once) or "unfreeze" (let normal deploys resume).
    fix_for: str | None = None
    after_merge: str | None = None
    branch_commits: int = 1
    commit_times: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Landing:
    """A commit that landed on main, with the subject a revert would quote."""

    sha: str
    subject: str


class RepoGraph:
    """Main branch of one repository; writes every commit and merged pull request."""

    def __init__(
        self,
        repo: str,
        strategy: str,
        seed: int,
        root_at: int,
        zone: tzinfo,
        commits: JsonLinesWriter,
        pull_requests: JsonArrayWriter,
    ) -> None:
        self.repo = repo
        self.strategy = strategy
        self.zone = zone
        self._seed = seed
        self._counter = 0
        self._commits = commits
        self._pull_requests = pull_requests
        self._times: list[int] = []
        self._shas: list[str] = []
        # Subject of the newest branch commit, the landing commit of a rebase merge.
        self._last_subject = ""
        root = self._write_commit([], root_at, root_at, "Initial commit", False, zone)
        self._advance(root_at, root)

    @property
    def head(self) -> str:
        return self._shas[-1]

    def base_at(self, seconds: int) -> str:
        """Return the main-branch head at a moment (the oldest kept one if earlier)."""
        position = bisect_right(self._times, seconds) - 1
        return self._shas[max(position, 0)]

    def land(self, pr: PullRequest, rng: random.Random) -> Landing:
        """Write a merged pull request and its commits; return its landing commit."""
        if self.strategy == "merge":
            landing = self._land_merge(pr, rng)
        elif self.strategy == "squash":
            landing = self._land_squash(pr, rng)
        else:
            landing = self._land_rebase(pr, rng)
        self._advance(pr.merged_at, landing.sha)
        self._pull_requests.write(self._pull_request_record(pr, landing.sha))
        return landing

    def push_direct(self, seconds: int, subject: str, is_bot: bool) -> Landing:
        """Write a commit pushed straight to main."""
        sha = self._write_commit([self.head], seconds, seconds, subject, is_bot, self.zone)
        self._advance(seconds, sha)
        return Landing(sha, subject)

    def write_open(self, pr: PullRequest) -> None:
        """Write a pull request that was still open when the sample ends."""
        self._pull_requests.write(self._pull_request_record(pr, None))

    def _land_merge(self, pr: PullRequest, rng: random.Random) -> Landing:
        tip = self._write_branch(pr, rng, self.base_at(pr.commit_times[0]), rebase=False)
        subject = f"Merge pull request #{pr.number} from {ORG}/{pr.head_ref}"
        sha = self._write_commit(
            [self.head, tip],
            pr.merged_at,
            pr.merged_at,
            subject,
            pr.is_bot,
            self.zone,
            pr=pr,
            message=f"{subject}\n\n{pr.title}\n",
        )
        return Landing(sha, subject)

    def _land_squash(self, pr: PullRequest, rng: random.Random) -> Landing:
        self._write_branch(pr, rng, self.base_at(pr.commit_times[0]), rebase=False)
        if pr.reverts:
            subject = f'Revert "{pr.reverts[1]}"'
            message = f"{subject}\n\n{_reverts_line(pr, rng)}\n"
        else:
            subject = f"{pr.title} (#{pr.number})"
            message = f"{subject}\n\n* {pr.title}\n"
        sha = self._write_commit(
            [self.head],
            pr.merged_at,
            pr.merged_at,
            subject,
            pr.is_bot,
            pr.author_zone,
            pr=pr,
            message=message,
        )
        return Landing(sha, subject)

    def _land_rebase(self, pr: PullRequest, rng: random.Random) -> Landing:
        tip = self._write_branch(pr, rng, self.head, rebase=True)
        return Landing(tip, self._last_subject)

    def _write_branch(self, pr: PullRequest, rng: random.Random, base: str, rebase: bool) -> str:
        """Write the branch commits of a pull request and return the tip.

        Rebased commits keep their author time and get the merge as commit time,
        as `git rebase` does. Branch commits of merge and squash strategies keep
        their own commit time.
        """
        parent = base
        last = len(pr.commit_times) - 1
        for position, authored in enumerate(pr.commit_times):
            message = None
            if pr.reverts and position == 0:
                subject = f'Revert "{pr.reverts[1]}"'
                message = f"{subject}\n\n{_reverts_line(pr, rng)}\n"
            else:
                subject = work_subject(rng, pr.title, position == 0)
            committed = pr.merged_at - (last - position) if rebase else authored
            parent = self._write_commit(
                [parent],
                authored,
                committed,
                subject,
                pr.is_bot,
                pr.author_zone,
                pr=pr,
                message=message,
            )
            self._last_subject = subject
        return parent

    def _advance(self, seconds: int, sha: str) -> None:
        self._times.append(seconds)
        self._shas.append(sha)
        if len(self._times) > 2000 and self._times[1000] < seconds - HISTORY_SECONDS:
            del self._times[:1000]
            del self._shas[:1000]

    def _new_sha(self) -> str:
        self._counter += 1
        return hashlib.sha1(f"{self._seed}/{self.repo}/{self._counter}".encode()).hexdigest()

    def _write_commit(
        self,
        parents: list[str],
        authored: int,
        committed: int,
        subject: str,
        is_bot: bool,
        author_zone: tzinfo,
        pr: PullRequest | None = None,
        message: str | None = None,
    ) -> str:
        sha = self._new_sha()
        record = {
            "repo": self.repo,
            "sha": sha,
            "parent_shas": parents,
            "authored_at": iso(authored, author_zone),
            "committed_at": iso(committed, self.zone),
            "subject": subject,
            "is_bot": is_bot,
        }
        if message is not None:
            record["message"] = message
        if pr is not None:
            record.update(_commit_pr_fields(pr))
        self._commits.write(record)
        return sha

    def _pull_request_record(self, pr: PullRequest, merge_sha: str | None) -> dict:
        return {
            "repo": self.repo,
            "number": pr.number,
            "opened_at": iso_z(pr.opened_at),
            "merged_at": iso_z(pr.merged_at) if merge_sha else None,
            "merge_commit_sha": merge_sha,
            "title": pr.title,
            "labels": pr.labels,
            "head_ref": pr.head_ref,
            "is_bot": pr.is_bot,
            "created_as_draft": pr.created_as_draft,
        }


def _reverts_line(pr: PullRequest, rng: random.Random) -> str:
    """Return the `This reverts commit` line, sometimes with an abbreviated sha."""
    assert pr.reverts is not None
    sha = pr.reverts[0] if rng.random() < 0.8 else pr.reverts[0][:12]
    return f"This reverts commit {sha}."


def _commit_pr_fields(pr: PullRequest) -> dict:
    fields: dict = {
        "pr_number": pr.number,
        "pr_opened_at": iso_z(pr.opened_at),
        "pr_merged_at": iso_z(pr.merged_at),
        "pr_created_as_draft": pr.created_as_draft,
    }
    if pr.ready_at is not None:
        fields["pr_ready_for_review_at"] = iso_z(pr.ready_at)
    if pr.closed_at is not None:
        fields["pr_closed_at"] = iso_z(pr.closed_at)
        fields["pr_reopened_at"] = iso_z(pr.reopened_at)
    return fields
