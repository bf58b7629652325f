"""Keep the Dagster run history of a project at a bounded size.

Every run stores its event log (a few MiB for a refresh) and its captured
output under ``$DAGSTER_HOME``. An hourly schedule would grow that by about
100 MiB a day, so after each refresh the oldest finished runs beyond
``DORA_KEEP_RUNS`` (default 50) are deleted with their events and logs.
Runs that are queued or still going are never touched.

A run executed in-process by ``dora refresh`` stays STARTED forever when its
process is killed (SIGKILL, out of memory, power loss): nothing is left to
report the failure, and no daemon runs beside ``dora refresh`` to notice.
Such runs carry the host name and process id of the process that executed
them (``process_tags``), so a later refresh on the same host marks those whose
process is gone as failed, and pruning can then delete them.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg

from dagster_project.config import ConfigError

KEEP_RUNS_ENV = "DORA_KEEP_RUNS"
DEFAULT_KEEP_RUNS = 50
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
HOST_TAG = "dora/host"
PID_TAG = "dora/pid"


class RunHistoryError(ConfigError):
    """Raised for a ``DORA_KEEP_RUNS`` value that is not a whole number of at least 1."""


def runs_to_keep() -> int:
    """Return ``$DORA_KEEP_RUNS`` or the default; reject a value that is not 1 or more."""
    text = os.environ.get(KEEP_RUNS_ENV, "").strip()
    if not text:
        return DEFAULT_KEEP_RUNS
    if not text.isdigit() or int(text) < 1:
        raise RunHistoryError(
            f"{KEEP_RUNS_ENV}={text!r} is not a whole number of at least 1; "
            f"set it to how many finished runs to keep (default {DEFAULT_KEEP_RUNS})"
        )
    return int(text)


def prune_run_history(instance: dg.DagsterInstance, keep: int | None = None) -> int:
    """Delete the finished runs older than the newest ``keep``; return how many went."""
    keep = runs_to_keep() if keep is None else keep
    finished = instance.get_runs(filters=dg.RunsFilter(statuses=FINISHED))
    old_runs = finished[keep:]
    for run in old_runs:
        _delete_run(instance, run.run_id)
    return len(old_runs)


def _delete_run(instance: dg.DagsterInstance, run_id: str) -> None:
    instance.delete_run(run_id)
    instance.compute_log_manager.delete_logs(prefix=[run_id])
    shard = getattr(instance.event_log_storage, "path_for_shard", None)
    if shard is not None:
        # The SQLite event storage keeps one file per run; deleting its rows
        # leaves the file at full size.
        Path(shard(run_id)).unlink(missing_ok=True)


def process_tags() -> dict[str, str]:
    """Return the run tags that name this process, for runs executed in-process."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # The process exists but belongs to another user.
        return True
    return True


def fail_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark as failed the unfinished in-process runs of this host whose process is gone.

    Only runs tagged by ``process_tags`` on this host are checked, so runs of
    other hosts and runs started by the daemon or the UI are left to Dagster's
    own run monitoring. A reused process id keeps an orphan unfinished until
    that process ends. Returns the ids of the runs marked.
    """
    host = socket.gethostname()
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: host}))
    marked = []
    for run in runs:
        pid_text = run.tags.get(PID_TAG, "")
        if not pid_text.isdigit() or _process_exists(int(pid_text)):
            continue
        instance.report_run_failed(
            run,
            message=(
                f"Process {pid_text} on {host}, which executed this run in-process, ended "
                "before the run finished (killed or out of memory); marked as failed by a "
                "later refresh"
            ),
        )
        marked.append(run.run_id)
    return marked
