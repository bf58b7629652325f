"""Property tests of the git message parsers and the commit collector.

Any subject and body either name a pull request with a storable number, or
none, or raise ValueError with the number in the message; the collector turns
every `git log` record into a row or a quarantine item, never an exception.
"""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from dagster_project.sources import git_messages
from dagster_project.sources.git_commits import CommitCollector
from dagster_project.sources.git_log import LogRecord

SETTINGS = settings(max_examples=80, deadline=None)
NUMBERS = st.one_of(
    st.integers(min_value=0, max_value=git_messages.MAX_PULL_REQUEST_NUMBER + 10),
    st.integers(min_value=0, max_value=10**30),
)
MESSAGE_TEXT = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from("#()!'\n ")), max_size=60
)


@st.composite
def subjects(draw: st.DrawFn) -> str:
    number = draw(NUMBERS)
    return draw(
        st.sampled_from(
            [
                f"Merge pull request #{number} from owner/branch",
                f"Merge pull request #{number} from branch",
                "Merge branch 'feature' into 'main'",
                f"Add a thing (#{number})",
                f"(#{number})",
                draw(MESSAGE_TEXT),
            ]
        )
    )


@st.composite
def bodies(draw: st.DrawFn) -> str:
    number = draw(NUMBERS)
    sha = draw(st.text(alphabet="0123456789abcdefABCDEF", min_size=0, max_size=70))
    parts = draw(
        st.lists(
            st.sampled_from(
                [
                    f"See merge request group/project!{number}",
                    f"See merge request !{number}",
                    f"This reverts commit {sha}.",
                    "This reverts commit",
                    draw(MESSAGE_TEXT),
                ]
            ),
            max_size=3,
        )
    )
    return "\n".join(parts)


@SETTINGS
@given(subject=subjects(), body=bodies())
def test_find_pull_request_returns_storable_number_or_explains(subject: str, body: str) -> None:
    try:
        marker = git_messages.find_pull_request(subject, body)
    except ValueError as error:
        assert "larger than" in str(error)
        return
    if marker is not None:
        assert 0 <= marker.number <= git_messages.MAX_PULL_REQUEST_NUMBER
        assert str(marker.number) in subject + body
        assert marker.kind in {"github_merge", "gitlab_merge", "squash"}


@SETTINGS
@given(message=bodies())
def test_reverted_sha_is_lowercase_hex_from_the_message(message: str) -> None:
    sha = git_messages.find_reverted_sha(message)
    if sha is not None:
        assert 7 <= len(sha) <= 64
        assert set(sha) <= set(string.hexdigits.lower())
        assert sha in message.lower()
        assert git_messages.mentions_revert(message)


HEX = "0123456789abcdef"
SHA40 = st.text(alphabet=HEX, min_size=40, max_size=40)
ODD_SHA = st.one_of(
    SHA40, st.text(max_size=41), st.text(alphabet=HEX + "G", min_size=40, max_size=40)
)
TIME_TEXT = st.one_of(
    st.sampled_from(
        [
            "2024-03-04T09:00:00+00:00",
            "2024-03-04T09:00:00+05:30",
            "2024-03-04T09:00:00",
            "9999-12-31T23:59:59+00:00",
            "",
            "not a date",
        ]
    ),
    st.text(max_size=25),
)


@st.composite
def log_records(draw: st.DrawFn) -> list[LogRecord]:
    shas = draw(st.lists(ODD_SHA, min_size=1, max_size=8))
    records = []
    for index, sha in enumerate(shas):
        parents = draw(st.lists(st.sampled_from([*shas[index + 1 :], *shas[:1]]), max_size=2))
        if draw(st.booleans()):
            parents.append(draw(ODD_SHA))  # an unknown, perhaps malformed, parent
        records.append(
            LogRecord(
                sha,
                parents,
                draw(st.sampled_from(["Ann", "dependabot[bot]", ""])),
                draw(st.sampled_from(["ann@example.com", "bot@renovate.invalid", ""])),
                draw(TIME_TEXT),
                draw(TIME_TEXT),
                draw(subjects()),
                draw(bodies()),
                draw(st.booleans()),
            )
        )
    return records


@SETTINGS
@given(records=log_records(), head=st.integers(min_value=0, max_value=7))
def test_collector_keeps_or_quarantines_every_commit(records: list[LogRecord], head: int) -> None:
    collector = CommitCollector("git:repo", "repo", "/tmp/repo")
    for record in records:
        collector.add(record, on_branch=True)
    pull_requests = collector.finish(records[min(head, len(records) - 1)].sha)

    rejected_commits = [item for item in collector.rejected if item["entity"] == "commits"]
    assert len(collector.rows) + len(rejected_commits) == len(records)
    for item in collector.rejected:
        assert item["reason"] and item["location"]
    for row in pull_requests:
        assert 0 <= row["number"] <= git_messages.MAX_PULL_REQUEST_NUMBER
