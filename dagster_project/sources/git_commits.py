"""Turn streamed `git log` records into commit and pull request rows."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dagster_project.sources.git_log import LogRecord
from dagster_project.sources.git_messages import (
    PullRequestMarker,
    find_pull_request,
    find_reverted_sha,
    is_bot_author,
    mentions_revert,
)
from dagster_project.timeparse import TimestampError, parse_timestamp

SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# Merge commits name the request explicitly, so they win over a squash-style
# "(#12)" subject that names the same number.
KIND_RANK = {"github_merge": 0, "gitlab_merge": 0, "squash": 1}
MAX_EXAMPLES = 5
COUNTED = (
    "commits",
    "commits_on_branch",
    "commits_from_tags_only",
    "merge_commits",
    "bot_commits",
    "reverts",
    "revert_without_sha",
    "messages_with_invalid_utf8",
    "pull_requests",
    "pull_request_markers_off_landing_chain",
)


@dataclass
class _Landing:
    marker: PullRequestMarker
    payload: dict[str, Any]
    sha: str
    parents: list[str]
    subject: str
    committed_at: datetime
    committed_text: str
    is_bot: bool


class CommitCollector:
    """Collect commit rows one record at a time, then build pull request rows.

    Only the fields a row needs are kept per commit, so memory grows with the
    rows, not with the messages. Requests are recognised only on the branch's
    first-parent chain, where merge and squash commits land. That chain is
    known only after the last commit, so ``finish`` builds the request rows.
    """

    def __init__(
        self,
        source: str,
        repo: str,
        location: str,
    ) -> None:
        self.source = source
        self.repo = repo
        self.location = location
        self.rows: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter(dict.fromkeys(COUNTED, 0))
        self._bot_shas: set[str] = set()
        self._first_parents: dict[str, str | None] = {}
        self._landings: list[_Landing] = []
        self._invalid_markers: dict[str, dict[str, Any]] = {}
        self._examples: dict[str, list[str]] = {}

    def add(self, record: LogRecord, on_branch: bool) -> None:
        """Add one commit; a commit that cannot be used goes to ``rejected``."""
        reason = _invalid_reason(record)
        if on_branch and reason is None:
            # Kept for rejected commits too, so the chain walk passes them.
            self._first_parents[record.sha] = record.parents[0] if record.parents else None
        if reason is None:
            try:
                authored_at = _required_time(record.authored_at, "authored_at")
                committed_at = _required_time(record.committed_at, "committed_at")
            except TimestampError as error:
                reason = str(error)
        if reason is not None:
            self._reject("commits", record, reason)
            return

        is_bot = is_bot_author(record.author_name, record.author_email)
        message = f"{record.subject}\n{record.body}"
        reverted_sha = find_reverted_sha(message)
        if reverted_sha is None and mentions_revert(message):
            self._note("revert_without_sha", record.sha)
        if record.has_invalid_utf8:
            self._note("messages_with_invalid_utf8", record.sha)
        self._count(record, on_branch, is_bot, reverted_sha)
        if is_bot:
            self._bot_shas.add(record.sha)

        payload = {
            "sha": record.sha,
            "parent_shas": record.parents,
            "authored_at": record.authored_at,
            "committed_at": record.committed_at,
            "subject": record.subject,
            "reverted_sha": reverted_sha,
            "patch_id": None,
            "is_bot": is_bot,
            "reachable_from_branch": on_branch,
            "on_first_parent_chain": False,
            "pull_request_number": None,
        }
        self._find_pull_request(record, payload, committed_at, is_bot)
        self.rows.append(
            {
                "_source": self.source,
                "_record_key": record.sha,
                "_payload": payload,
                "repo": self.repo,
                "sha": record.sha,
                "parent_shas": json.dumps(record.parents),
                "parent_count": len(record.parents),
                "authored_at": authored_at,
                "committed_at": committed_at,
                "subject": record.subject,
                "reverted_sha": reverted_sha,
                "patch_id": None,
                "is_bot": is_bot,
            }
        )

    def set_patch_ids(self, patch_ids: dict[str, str]) -> None:
        """Store the patch id of each non-merge commit that has one."""
        if not patch_ids:
            return
        for row in self.rows:
            if row["parent_count"] <= 1:
                patch_id = patch_ids.get(row["sha"])
                row["patch_id"] = row["_payload"]["patch_id"] = patch_id

    def finish(self, head_sha: str) -> list[dict[str, Any]]:
        """Mark the first-parent chain from ``head_sha`` and return the request rows.

        Each request number gets one row; other commits naming the same
        number go to ``rejected``.
        """
        chain = self._first_parent_chain(head_sha)
        for row in self.rows:
            row["_payload"]["on_first_parent_chain"] = row["sha"] in chain
        for sha, item in self._invalid_markers.items():
            if sha in chain:
                self.rejected.append(item)
        by_number: dict[int, list[_Landing]] = {}
        for landing in self._landings:
            if landing.sha in chain:
                by_number.setdefault(landing.marker.number, []).append(landing)
            else:
                # Requests merged into other branches are part of a larger change.
                self.counts["pull_request_markers_off_landing_chain"] += 1
        rows = []
        for number, landings in sorted(by_number.items()):
            landings.sort(key=lambda item: (KIND_RANK[item.marker.kind], item.committed_at))
            kept, *others = landings
            kept.payload["pull_request_number"] = number
            rows.append(self._pull_request_row(kept))
            self.counts[f"pull_requests_{kept.marker.kind}"] += 1
            for other in others:
                self.rejected.append(
                    {
                        "entity": "pull_requests",
                        "location": f"{self.location}@{other.sha}",
                        "raw_content": json.dumps({"sha": other.sha, "subject": other.subject}),
                        "reason": (
                            f"pull request #{number} is also named by commit {kept.sha}, "
                            "which was kept (merge commits before squash-style subjects, "
                            "then the earliest); check which commit landed it"
                        ),
                    }
                )
        self.counts["pull_requests"] = len(rows)
        return rows

    @property
    def warnings(self) -> list[str]:
        """Messages for commits that were kept but look wrong."""
        texts = {
            "revert_without_sha": (
                "commits say 'This reverts commit' without a sha of 7 to 64 hex digits, "
                "so no reverted_sha was stored"
            ),
            "messages_with_invalid_utf8": (
                "commits have messages that are not valid UTF-8; the invalid bytes "
                "were stored as U+FFFD"
            ),
        }
        return [
            f"{self.counts[kind]} {texts[kind]}, for example {', '.join(examples)}"
            for kind, examples in self._examples.items()
        ]

    def _find_pull_request(
        self, record: LogRecord, payload: dict[str, Any], committed_at: datetime, is_bot: bool
    ) -> None:
        try:
            marker = find_pull_request(record.subject, record.body)
        except ValueError as error:
            self._invalid_markers[record.sha] = self._rejected_item(
                "pull_requests", record, str(error)
            )
            return
        if marker is not None:
            self._landings.append(
                _Landing(
                    marker,
                    payload,
                    record.sha,
                    record.parents,
                    record.subject,
                    committed_at,
                    record.committed_at,
                    is_bot,
                )
            )

    def _first_parent_chain(self, head_sha: str) -> set[str]:
        chain: set[str] = set()
        sha: str | None = head_sha
        while sha is not None and sha not in chain and sha in self._first_parents:
            chain.add(sha)
            sha = self._first_parents[sha]
        return chain

    def _pull_request_row(self, landing: _Landing) -> dict[str, Any]:
        marker = landing.marker
        is_merge = len(landing.parents) > 1
        # A merge commit's author is the person who merged it. The request's
        # author wrote the merged head, which is the second parent.
        is_bot = landing.parents[1] in self._bot_shas if is_merge else landing.is_bot
        return {
            "_source": self.source,
            "_record_key": str(marker.number),
            "_payload": {
                "number": marker.number,
                "kind": marker.kind,
                "landing_sha": landing.sha,
                "subject": landing.subject,
                "title": marker.title,
                "head_ref": marker.head_ref,
                "project": marker.project,
                "merged_at": landing.committed_text,
            },
            "repo": self.repo,
            "number": marker.number,
            "opened_at": None,
            "merged_at": landing.committed_at,
            "merge_commit_sha": landing.sha,
            "title": marker.title,
            "head_ref": marker.head_ref,
            "labels": "[]",
            "is_bot": is_bot,
            "created_as_draft": None,
        }

    def _count(
        self, record: LogRecord, on_branch: bool, is_bot: bool, reverted_sha: str | None
    ) -> None:
        self.counts["commits"] += 1
        self.counts["commits_on_branch" if on_branch else "commits_from_tags_only"] += 1
        self.counts["merge_commits"] += len(record.parents) > 1
        self.counts["bot_commits"] += is_bot
        self.counts["reverts"] += reverted_sha is not None

    def _reject(self, entity: str, record: LogRecord, reason: str) -> None:
        self.rejected.append(self._rejected_item(entity, record, reason))

    def _rejected_item(self, entity: str, record: LogRecord, reason: str) -> dict[str, Any]:
        # Author name and e-mail are left out on purpose.
        content = {
            "sha": record.sha,
            "parent_shas": record.parents,
            "authored_at": record.authored_at,
            "committed_at": record.committed_at,
            "subject": record.subject,
        }
        return {
            "entity": entity,
            "location": f"{self.location}@{record.sha}",
            "raw_content": json.dumps(content),
            "reason": reason,
        }

    def _note(self, kind: str, sha: str) -> None:
        self.counts[kind] += 1
        examples = self._examples.setdefault(kind, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(sha[:12])


def _invalid_reason(record: LogRecord) -> str | None:
    if not SHA.match(record.sha):
        return f"commit id {record.sha!r} is not a hex sha; git log printed an unexpected layout"
    bad_parents = [parent for parent in record.parents if not SHA.match(parent)]
    if bad_parents:
        return f"commit {record.sha} has parent ids that are not hex shas: {bad_parents}"
    return None


def _required_time(value: str, field_name: str) -> datetime:
    parsed = parse_timestamp(value, field_name)
    if parsed is None:
        raise TimestampError(f"{field_name} is empty; git printed no date for this commit")
    return parsed
