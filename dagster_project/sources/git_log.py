"""Stream commits and patch ids out of `git log` without one git call per commit."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

from dagster_project.sources.git_commands import GitRepository, GitSourceError, iter_nul_fields

# Each field ends with NUL and `-z` ends each record with one more NUL, so a
# record is these fields followed by one empty field. Commit messages cannot
# hold NUL, so no field can be split by mistake.
_COMMIT_FIELDS = ("%H", "%P", "%an", "%ae", "%aI", "%cI", "%s", "%b")
COMMIT_FORMAT = "".join(f"{field}%x00" for field in _COMMIT_FIELDS)


class LogRecord(NamedTuple):
    """One commit as `git log` prints it. Author name and e-mail stay in memory only."""

    sha: str
    parents: list[str]
    author_name: str
    author_email: str
    authored_at: str
    committed_at: str
    subject: str
    body: str
    has_invalid_utf8: bool = False


def iter_log_records(repository: GitRepository, revisions: Sequence[str]) -> Iterator[LogRecord]:
    """Yield every commit reachable from ``revisions`` (``^sha`` excludes a history).

    The revisions go to git on standard input, so thousands of tags fit.
    Yields nothing for an empty list (git would read HEAD instead).
    """
    if not revisions:
        return
    args = ["log", "--encoding=UTF-8", "-z", f"--format={COMMIT_FORMAT}", "--stdin"]
    width = len(_COMMIT_FIELDS) + 1
    with repository.stream(args, stdin_lines=revisions) as output:
        fields: list[bytes] = []
        for field in iter_nul_fields(output):
            fields.append(field)
            if len(fields) == width:
                yield _record(fields, repository)
                fields = []
        if fields:
            raise GitSourceError(
                f"`git log` output in {repository.path} ended in the middle of a commit "
                f"({len(fields)} of {width} fields); run it again, and check the repository "
                f"with `git -C {repository.path} fsck` if it repeats"
            )


def read_patch_ids(repository: GitRepository, revisions: Sequence[str]) -> dict[str, str]:
    """Return ``git patch-id --stable`` of every non-merge commit reachable from ``revisions``.

    One `git log -p` streams into one `git patch-id`. Commits with an empty
    diff have no patch id and are missing from the result.
    """
    if not revisions:
        return {}
    log_args = [
        "log",
        "-p",
        "--no-merges",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--no-renames",
        "--format=commit %H",
        "--stdin",
    ]
    patch_ids: dict[str, str] = {}
    with repository.stream_pipeline(
        log_args, ["patch-id", "--stable"], stdin_lines=revisions
    ) as output:
        for line in output:
            patch_id, _, sha = line.decode("ascii").strip().partition(" ")
            patch_ids[sha] = patch_id
    return patch_ids


def _record(fields: list[bytes], repository: GitRepository) -> LogRecord:
    if fields[-1] != b"":
        raise GitSourceError(
            f"`git log` output in {repository.path} does not have the expected layout near "
            f"{fields[0][:40]!r}; a git configuration or version may change the format: "
            "report it with the output of `git --version`"
        )
    try:
        text = [field.decode("utf-8") for field in fields[:-1]]
        has_invalid_utf8 = False
    except UnicodeDecodeError:
        # A commit without an encoding header may hold any bytes; git cannot
        # convert those, so the invalid bytes become U+FFFD.
        text = [field.decode("utf-8", errors="replace") for field in fields[:-1]]
        has_invalid_utf8 = True
    sha, parents, name, email, authored, committed, subject, body = text
    return LogRecord(
        sha, parents.split(), name, email, authored, committed, subject, body, has_invalid_utf8
    )
