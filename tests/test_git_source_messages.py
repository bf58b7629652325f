"""Commit-message patterns of the git source, and its NUL-separated stream reader."""

from __future__ import annotations

import io

import pytest

from dagster_project.sources.git_commands import iter_nul_fields
from dagster_project.sources.git_messages import (
    MAX_PULL_REQUEST_NUMBER,
    find_pull_request,
    find_reverted_sha,
    is_bot_author,
    mentions_revert,
)

FULL_SHA = "0123456789abcdef0123456789abcdef01234567"

PULL_REQUEST_CASES = [
    # subject, body, (number, kind, title, head_ref)
    (
        "Merge pull request #123 from octo/feature/login",
        "Add the login page\n\nLonger text.\n",
        (123, "github_merge", "Add the login page", "feature/login"),
    ),
    (
        "Merge pull request #7 from octo/fix",
        "",
        (7, "github_merge", "Merge pull request #7 from octo/fix", "fix"),
    ),
    (
        "Merge branch 'fix-typo' into 'main'",
        "Fix typo in README\n\nSee merge request group/project!45\n",
        (45, "gitlab_merge", "Fix typo in README", "fix-typo"),
    ),
    (
        "Merge branch 'x' into 'main'",
        "See merge request group/sub/project!46",
        (46, "gitlab_merge", "Merge branch 'x' into 'main'", "x"),
    ),
    (
        "Release 2.0",
        "Closes #3\n\nSee merge request group/project!47",
        (47, "gitlab_merge", "Release 2.0", None),
    ),
    ("Add search box (#13)", "", (13, "squash", "Add search box", None)),
    (
        'Revert "Add search box (#13)" (#20)',
        "This reverts commit abc.",
        (20, "squash", 'Revert "Add search box (#13)"', None),
    ),
]


@pytest.mark.parametrize(("subject", "body", "expected"), PULL_REQUEST_CASES)
def test_pull_request_forms(subject: str, body: str, expected: tuple) -> None:
    marker = find_pull_request(subject, body)
    assert marker is not None
    assert (marker.number, marker.kind, marker.title, marker.head_ref) == expected


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Merge branch 'develop'", ""),
        ("Merge branch 'fix' into 'main'", "no request reference here"),
        ('Revert "Add search box (#13)"', "This reverts commit 0123456."),
        ("Fix #13 properly", ""),
        ("Mention (#13) in the middle", ""),
    ],
)
def test_pull_request_not_recognised(subject: str, body: str) -> None:
    assert find_pull_request(subject, body) is None


def test_pull_request_number_too_large() -> None:
    with pytest.raises(ValueError, match=str(MAX_PULL_REQUEST_NUMBER + 1)):
        find_pull_request(f"Huge (#{MAX_PULL_REQUEST_NUMBER + 1})", "")


def test_gitlab_project_kept() -> None:
    marker = find_pull_request("Merge branch 'a' into 'main'", "See merge request grp/proj!5")
    assert marker is not None
    assert marker.project == "grp/proj"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (f"Revert x\n\nThis reverts commit {FULL_SHA}.", FULL_SHA),
        ("Revert x\n\nThis reverts commit ABCDEF1.\n", "abcdef1"),
        ("Revert x\n\nThis reverts commit 12ab.\n", None),
        ("Plain commit", None),
    ],
)
def test_reverted_sha(message: str, expected: str | None) -> None:
    assert find_reverted_sha(message) == expected


def test_revert_note_without_sha() -> None:
    message = "Revert x\n\nThis reverts commit 12ab."
    assert find_reverted_sha(message) is None
    assert mentions_revert(message)


@pytest.mark.parametrize(
    ("name", "email", "expected"),
    [
        ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", True),
        ("Renovate Bot", "bot@renovateapp.com", True),
        ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com", True),
        ("Dependabot", "support@github.com", True),
        ("Ada Lovelace", "ada@example.com", False),
        ("Bottom Line", "robot-fan@example.com", False),
    ],
)
def test_bot_authors(name: str, email: str, expected: bool) -> None:
    assert is_bot_author(name, email) is expected


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 1 << 20])
def test_nul_fields_across_chunks(chunk_size: int) -> None:
    data = b"abc\0\0de f\nx\0\0tail"
    fields = list(iter_nul_fields(io.BytesIO(data), chunk_size=chunk_size))
    assert fields == [b"abc", b"", b"de f\nx", b"", b"tail"]
