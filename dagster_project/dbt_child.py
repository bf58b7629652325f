"""Start dbt so that it dies with the refresh process that started it.

A refresh runs each dbt step as a child process. When only the refresh
process is killed (``kill -9`` of its pid, an out-of-memory kill), that child
would go on writing the warehouse after the refresh lock is released. The next
refresh would then fail on DuckDB's own lock or race the orphan. On Linux the dbt
command is therefore started through a small launcher that asks the kernel
for ``SIGKILL`` when its parent dies (``prctl(PR_SET_PDEATHSIG)``), then
replaces itself with dbt; the setting survives that ``exec``. DuckDB replays
or drops the write-ahead log the killed dbt leaves, as after any kill.

The launcher also stops before dbt starts when the refresh died while it
was starting: ``PARENT_ENV`` holds the pid of the process that asked for
dbt, and a different parent pid means the request was orphaned.

The kernel sends the signal when the thread that started the child ends.
Dagster's in-process executor starts dbt from the thread that runs the job,
which lives until the run ends. Elsewhere than Linux, dbt starts directly.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import sys
import tempfile
from pathlib import Path

PARENT_ENV = "DORA_DBT_PARENT_PID"

_LAUNCHER = """#!{python}
# Runs dbt with SIGKILL as its parent-death signal (dagster_project/dbt_child.py).
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
    sys.exit("dbt launcher: prctl(PR_SET_PDEATHSIG) failed: " + os.strerror(ctypes.get_errno()))
parent = os.environ.get({parent_env!r}, "")
if parent.isdigit() and os.getppid() != int(parent):
    sys.exit("dbt launcher: the refresh that started dbt has ended; dbt was not run")
os.execv({dbt!r}, [{dbt!r}, *sys.argv[1:]])
"""


def launcher_text(dbt_executable: str, python: str = sys.executable) -> str:
    """Return the source of the launcher script for one dbt executable."""
    return _LAUNCHER.format(python=python, parent_env=PARENT_ENV, dbt=dbt_executable)


def launcher(dbt_executable: str, folder: str | os.PathLike[str]) -> str:
    """Return an executable that runs ``dbt_executable`` as described above.

    The script is written into ``folder`` once per content (an atomic rename,
    so concurrent processes never run half a file). Returns ``dbt_executable``
    itself where the launcher cannot work: off Linux, or when the Python path
    cannot stand in a ``#!`` line.
    """
    python = sys.executable
    if not sys.platform.startswith("linux") or shlex.quote(python) != python:
        return dbt_executable
    text = launcher_text(dbt_executable, python)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = Path(folder) / f"dbt-child-{digest}"
    if path.is_file() and os.access(path, os.X_OK) and path.read_text() == text:
        return str(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".dbt-child-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temp, 0o755)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return str(path)


def mark_parent() -> None:
    """Record this process as the one that starts dbt, for the launcher's check."""
    os.environ[PARENT_ENV] = str(os.getpid())
