"""Recognise pull requests, reverts and bot authors from commit messages.

Pure functions on text, so every pattern is tested without a repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# GitHub's merge-commit subject: "Merge pull request #123 from owner/branch".
GITHUB_MERGE = re.compile(r"^Merge pull request #(?P<number>\d+) from (?P<source>\S+)")
# GitLab's merge-commit subject; the request number is in the body's trailer.
GITLAB_MERGE = re.compile(r"^Merge branch '(?P<branch>[^']+)'(?: of \S+)? into '(?P<target>[^']+)'")
GITLAB_REFERENCE = re.compile(
    r"^See merge request (?P<project>\S*)!(?P<number>\d+)\s*$", re.MULTILINE
)
# GitHub's squash (and "pull request title" merge) subject: "Title (#123)".
SQUASH = re.compile(r"^(?P<title>.*?)\s*\(#(?P<number>\d+)\)$")
REVERT_NOTE = re.compile(r"This reverts commit\b")
REVERT = re.compile(r"This reverts commit (?P<sha>[0-9a-fA-F]{7,64})\b")
BOT_AUTHOR = re.compile(r"\[bot\]|dependabot|renovate", re.IGNORECASE)

# The warehouse stores pull request numbers as a 32-bit integer.
MAX_PULL_REQUEST_NUMBER = 2**31 - 1


@dataclass(frozen=True)
class PullRequestMarker:
    """A pull or merge request named by a landing commit's message."""

    number: int
    kind: str
    title: str
    head_ref: str | None
    project: str | None = None


def is_bot_author(name: str, email: str) -> bool:
    """Return whether an author name or e-mail belongs to a bot account."""
    return bool(BOT_AUTHOR.search(name) or BOT_AUTHOR.search(email))


def find_pull_request(subject: str, body: str) -> PullRequestMarker | None:
    """Return the pull request a landing commit's message names, or None.

    Recognised forms: GitHub merge commits ("Merge pull request #12 from
    owner/branch", title on the first body line), GitLab merge commits (a
    "See merge request group/project!45" line in the body) and squash commits
    ("Title (#12)"). Raises ValueError for a number too large to store.
    """
    github = GITHUB_MERGE.match(subject)
    if github:
        source = github["source"]
        head_ref = source.split("/", 1)[1] if "/" in source else source
        title = _first_body_line(body) or subject
        return PullRequestMarker(_number(github["number"]), "github_merge", title, head_ref)

    # The substring tests skip the regular expressions for most commits.
    reference = GITLAB_REFERENCE.search(body) if "See merge request" in body else None
    if reference:
        merge = GITLAB_MERGE.match(subject)
        if merge:
            title = _first_body_line(body, skip=GITLAB_REFERENCE) or subject
            head_ref: str | None = merge["branch"]
        else:
            title, head_ref = subject, None
        return PullRequestMarker(
            _number(reference["number"]), "gitlab_merge", title, head_ref, reference["project"]
        )

    squash = SQUASH.match(subject) if subject.endswith(")") else None
    if squash:
        return PullRequestMarker(_number(squash["number"]), "squash", squash["title"], None)
    return None


def find_reverted_sha(message: str) -> str | None:
    """Return the sha named by "This reverts commit <sha>", lowercased, or None."""
    if "This reverts commit" not in message:
        return None
    match = REVERT.search(message)
    return match["sha"].lower() if match else None


def mentions_revert(message: str) -> bool:
    """Return whether a message has a "This reverts commit" line at all."""
    return bool(REVERT_NOTE.search(message))


def _number(text: str) -> int:
    number = int(text)
    if number > MAX_PULL_REQUEST_NUMBER:
        raise ValueError(
            f"pull request number {text} is larger than {MAX_PULL_REQUEST_NUMBER}, "
            "the largest number the warehouse stores"
        )
    return number


def _first_body_line(body: str, skip: re.Pattern[str] | None = None) -> str | None:
    for line in body.splitlines():
        text = line.strip()
        if text and not (skip and skip.match(text)):
            return text
    return None
