"""Run git as a subprocess: repository checks, clear errors and streamed output.

Every command runs with a fixed environment so that the caller's locale,
repository variables and user configuration cannot change what git prints.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

CHUNK_SIZE = 1 << 20

# Variables that would point git at another repository than the one asked for.
_REPOSITORY_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
)

# Settings that change the text of `git log` and `git log -p`.
_CONFIG_OVERRIDES = (
    "log.showSignature=false",
    "log.decorate=false",
    "color.ui=false",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "core.quotePath=true",
)


class GitSourceError(RuntimeError):
    """A git repository that cannot be read; the message names the path and the fix."""


class GitRepository:
    """A local repository (work tree or bare) that git commands run against."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().resolve()
        self._env = _git_environment(self.path)
        self._check()

    def _check(self) -> None:
        if not self.path.exists():
            raise GitSourceError(
                f"git repository path {self.path} does not exist; "
                "pass the folder of a local clone (or a bare repository)"
            )
        if not self.path.is_dir():
            raise GitSourceError(
                f"git repository path {self.path} is a file, not a folder; "
                "pass the folder of a local clone (or a bare repository)"
            )
        result = self.run(["rev-parse", "--git-dir"], check=False)
        if result.returncode != 0:
            detail = result.stderr.strip()
            hint = "pass the top folder of a clone (the one holding .git) or a bare repository"
            if "dubious ownership" in detail:
                hint = (
                    "the folder belongs to another user; mark it trusted with "
                    f"`git config --global --add safe.directory {self.path}`"
                )
            raise GitSourceError(
                f"{self.path} is not a git repository ({detail or 'git rev-parse failed'}); {hint}"
            )

    def command(self, args: Sequence[str]) -> list[str]:
        """Return the full argument list of a git command on this repository."""
        overrides = [part for setting in _CONFIG_OVERRIDES for part in ("-c", setting)]
        return ["git", *overrides, "-C", str(self.path), *args]

    def run(
        self, args: Sequence[str], check: bool = True, input_text: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a git command with small output and return its result.

        With ``check`` a non-zero exit raises GitSourceError with git's message.
        """
        try:
            result = subprocess.run(
                self.command(args),
                input=input_text,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=self._env,
            )
        except FileNotFoundError:
            raise GitSourceError(
                "the git executable was not found; install git and put it on PATH"
            ) from None
        if check and result.returncode != 0:
            raise GitSourceError(_failure_message(self.path, args, result.stderr))
        return result

    def resolve_commit(self, revision: str) -> str:
        """Return the full sha of the commit a branch, tag or sha names."""
        result = self.run(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"],
            check=False,
        )
        if result.returncode != 0:
            raise GitSourceError(
                f"branch or revision {revision!r} was not found in {self.path}; "
                f"list the branches with `git -C {self.path} branch -a` and set the branch "
                "to one of them (leave it unset to read HEAD)"
            )
        return result.stdout.strip()

    def is_shallow(self) -> bool:
        """Return whether the repository is a shallow clone with part of its history."""
        return self.run(["rev-parse", "--is-shallow-repository"]).stdout.strip() == "true"

    @contextmanager
    def stream(self, args: Sequence[str], stdin_lines: Sequence[str] = ()) -> Iterator[IO[bytes]]:
        """Start a git command and yield its standard output as a binary stream.

        Lines in ``stdin_lines`` are written to its standard input first (for
        ``--stdin``). The exit status is checked when the block ends; a
        non-zero status raises GitSourceError with git's message.
        """
        with _started(self.command(args), self._env, stdin=bool(stdin_lines)) as (
            process,
            errors,
        ):
            if stdin_lines:
                assert process.stdin is not None
                process.stdin.write("".join(f"{line}\n" for line in stdin_lines).encode())
                process.stdin.close()
            assert process.stdout is not None
            yield process.stdout
            process.stdout.close()
            _finish(process, errors, self.path, args)

    @contextmanager
    def stream_pipeline(
        self, first: Sequence[str], second: Sequence[str], stdin_lines: Sequence[str] = ()
    ) -> Iterator[IO[bytes]]:
        """Pipe the output of one git command into another and yield the second's output."""
        with _started(self.command(first), self._env, stdin=bool(stdin_lines)) as (
            producer,
            producer_errors,
        ):
            assert producer.stdout is not None
            with _started(self.command(second), self._env, stdin_from=producer.stdout) as (
                consumer,
                consumer_errors,
            ):
                # Only the consumer keeps the read end open, so the producer
                # gets a broken pipe (and stops) if the consumer exits early.
                producer.stdout.close()
                if stdin_lines:
                    assert producer.stdin is not None
                    producer.stdin.write("".join(f"{line}\n" for line in stdin_lines).encode())
                    producer.stdin.close()
                assert consumer.stdout is not None
                yield consumer.stdout
                consumer.stdout.close()
                _finish(consumer, consumer_errors, self.path, second)
            _finish(producer, producer_errors, self.path, first)


def iter_nul_fields(stream: IO[bytes], chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield the NUL-separated fields of a stream without reading it all at once.

    The text after the last NUL is yielded too when it is not empty.
    """
    pending = b""
    while chunk := stream.read(chunk_size):
        parts = (pending + chunk).split(b"\0")
        pending = parts.pop()
        yield from parts
    if pending:
        yield pending


def _git_environment(path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _REPOSITORY_VARIABLES}
    env.update(
        {
            "LC_ALL": "C",
            "LANG": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",
            "GIT_PAGER": "cat",
            # Stop git from walking up to a parent folder's repository, so a
            # plain folder inside a clone is reported as "not a repository".
            "GIT_CEILING_DIRECTORIES": str(path.parent),
        }
    )
    return env


@contextmanager
def _started(
    command: list[str],
    env: dict[str, str],
    stdin: bool = False,
    stdin_from: IO[bytes] | None = None,
) -> Iterator[tuple[subprocess.Popen[bytes], IO[bytes]]]:
    # Standard error goes to a temporary file because an unread pipe could
    # fill up and block git while the caller is still reading standard output.
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                command,
                stdin=stdin_from
                if stdin_from is not None
                else (subprocess.PIPE if stdin else None),
                stdout=subprocess.PIPE,
                stderr=errors,
                env=env,
            )
        except FileNotFoundError:
            raise GitSourceError(
                "the git executable was not found; install git and put it on PATH"
            ) from None
        try:
            yield process, errors
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


def _finish(
    process: subprocess.Popen[bytes], errors: IO[bytes], path: Path, args: Sequence[str]
) -> None:
    returncode = process.wait()
    if returncode != 0:
        errors.seek(0)
        message = errors.read().decode("utf-8", errors="replace")
        raise GitSourceError(_failure_message(path, args, message))


def _failure_message(path: Path, args: Sequence[str], stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    detail = " / ".join(lines[-5:]) if lines else "no error message"
    return (
        f"`git {args[0]}` failed in {path}: {detail}; "
        f"check that `git -C {path} {args[0]}` works, for example that the repository "
        "is complete (not a shallow or partial clone missing objects)"
    )
